import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyFileProblem } from './tls-files.ts';

test('a TLS key file must be 0600 or 0400 and owned by the server user', () => {
  assert.equal(keyFileProblem('/k', { mode: 0o100600, uid: 5 }, 5), undefined);
  assert.equal(keyFileProblem('/k', { mode: 0o100400, uid: 5 }, 5), undefined);
  for (const mode of [0o640, 0o604, 0o700, 0o644, 0o666]) {
    assert.match(keyFileProblem('/k', { mode, uid: 5 }, 5) ?? '', /other users may read it: run `chmod 600 \/k`/, mode.toString(8));
  }
  assert.match(keyFileProblem('/k', { mode: 0o600, uid: 6 }, 5) ?? '', /belongs to uid 6, not to the server's user \(uid 5\): run `chown 5 \/k`/);
});
