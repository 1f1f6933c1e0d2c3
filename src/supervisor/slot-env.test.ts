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

test('a slot with its own user and state directory gets HOME and CUTOVER_STATE_DIR there, and no USER of the agent', () => {
  const base = { PATH: '/usr/bin', HOME: '/root', USER: 'root' };
  const spec = { instance: 'shop', color: 'green' as const, version: '1.0.0', env: { HOME: '/elsewhere', CUTOVER_STATE_DIR: '/x' } };
  const env = buildSlotEnv({ ...spec, user: { uid: 61000, gid: 61000 }, stateDir: '/data/agent/homes/shop' }, 4100, base);
  assert.equal(env.HOME, '/data/agent/homes/shop');
  assert.equal(env.CUTOVER_STATE_DIR, '/data/agent/homes/shop');
  assert.equal(env.USER, undefined);
  assert.equal(buildSlotEnv({ ...spec, user: { uid: 33, gid: 33, name: 'www-data' } }, 4100, base).USER, 'www-data');
});
