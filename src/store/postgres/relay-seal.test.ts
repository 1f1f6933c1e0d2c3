import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRelayKeys, relayCipher } from './relay-seal.ts';

test('relay seal: what one replica seals for another opens there only, under the same context; nothing of the value shows', () => {
  const a = newRelayKeys();
  const b = newRelayKeys();
  const c = newRelayKeys();
  const [fromA, atB, atC] = [relayCipher(a), relayCipher(b), relayCipher(c)];
  const body = { env: { DATABASE_URL: 'postgres://app:hunter2-planted@db/app' } };
  const sealed = fromA.seal(b.publicKey, body, 'web-1 slot.start');
  assert.doesNotMatch(JSON.stringify(sealed), /hunter2|DATABASE_URL|postgres:/);
  assert.deepEqual(atB.open(a.publicKey, sealed, 'web-1 slot.start'), body);
  assert.throws(() => atC.open(a.publicKey, sealed, 'web-1 slot.start'), 'another replica cannot open it');
  assert.throws(() => atB.open(a.publicKey, sealed, 'web-2 slot.start'), 'nor under another call');
  const tampered = { ...sealed, data: Buffer.from(Buffer.from(sealed.data, 'base64').map((x, i) => (i === 0 ? x ^ 1 : x))).toString('base64') };
  assert.throws(() => atB.open(a.publicKey, tampered, 'web-1 slot.start'), 'a changed byte is refused');
  assert.notEqual(fromA.seal(b.publicKey, body, 'x').iv, fromA.seal(b.publicKey, body, 'x').iv, 'a fresh IV each time');
});
