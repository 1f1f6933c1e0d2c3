import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { scrubEnvValues } from './scrub-env.ts';

test("a spawn error names the variable but never repeats its value", () => {
  const env = { DB_URL: 'postgres://u:CanaryPass123\u0000@db', A: 'x' };
  let message = '';
  try {
    spawn('/bin/true', { env });
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(message, /CanaryPass123/, 'Node puts the value in its message');
  const scrubbed = scrubEnvValues(message, env);
  assert.doesNotMatch(scrubbed, /CanaryPass123/);
  assert.match(scrubbed, /DB_URL/);
  assert.equal(scrubEnvValues('exec failed: spawn /bin/sh ENOENT with postgres://u:secretvalue@db', { URL: 'postgres://u:secretvalue@db' }), 'exec failed: spawn /bin/sh ENOENT with <value of URL>');
  assert.equal(scrubEnvValues('ENOENT', { A: 'EN' }), 'ENOENT');
});

test("spawn's own error loses the value it quotes, and any env value left in it is masked", () => {
  let error: unknown;
  try {
    spawn('true', { env: { A: 'top-secret\u0000value' } });
  } catch (e) {
    error = e;
  }
  assert.match(String((error as Error).message), /Received/, 'node quotes the value');
  const text = scrubEnvValues((error as Error).message, { A: 'top-secret\u0000value' });
  assert.doesNotMatch(text, /top-secret|Received/);
  assert.match(text, /options\.env\['A'\]|null bytes/);
  assert.equal(scrubEnvValues('cannot start top-secret-thing', { A: 'top-secret-thing' }), 'cannot start <value of A>');
});
