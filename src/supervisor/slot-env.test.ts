import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSlotEnv } from './slot-env.ts';

test('only the minimal variables are inherited, config is merged, and Cutover’s own variables win', () => {
  const env = buildSlotEnv(
    {
      instance: 'shop',
      color: 'blue',
      version: '3.1.4',
      env: { PORT: '80', API_URL: 'http://api', PATH: '/custom' },
    },
    4100,
    {
      PATH: '/usr/bin',
      HOME: '/home/agent',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      USER: 'agent',
      SHELL: '/bin/sh',
      CUTOVER_TOKEN: 's3cret',
      NODE_OPTIONS: '--inspect',
      AWS_SECRET_ACCESS_KEY: 'x',
    },
  );
  assert.deepEqual(env, {
    PATH: '/custom',
    HOME: '/home/agent',
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    USER: 'agent',
    SHELL: '/bin/sh',
    API_URL: 'http://api',
    PORT: '4100',
    APP_VERSION: '3.1.4',
    CUTOVER_COLOR: 'blue',
    CUTOVER_INSTANCE: 'shop',
  });
});
