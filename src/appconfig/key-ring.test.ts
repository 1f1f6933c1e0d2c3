import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isCutoverError } from '../shared/index.ts';
import { loadKeyRing, writeNewKey } from './key-files.ts';
import { checkRing, fingerprint, keyCheck, newKey, open, seal } from './key-ring.ts';

const SECRET = 'postgres://app:s3cr3t-planted@db/shop';

test('a sealed value opens with its key, and its ciphertext holds no clear text', () => {
  const key = newKey();
  const sealed = seal('k1', key, SECRET);
  assert.ok(!JSON.stringify(sealed).includes('s3cr3t'));
  assert.equal(open(new Map([['k1', key]]), sealed), SECRET);
  assert.notDeepEqual(seal('k1', key, SECRET), sealed, 'a fresh IV each time');
});

test('a missing key id is named; a wrong key or a changed byte fails authentication', () => {
  const sealed = seal('k1', newKey(), SECRET);
  assert.throws(() => open(new Map(), sealed), (e) => isCutoverError(e) && e.code === 'SECRET_KEY_MISSING' && e.message.includes('k1'));
  assert.throws(() => open(new Map([['k1', newKey()]]), sealed), (e) => isCutoverError(e) && e.code === 'SECRET_KEY_INVALID' && !e.message.includes('s3cr3t'));
  const key = newKey();
  const good = seal('k1', key, SECRET);
  const data = Buffer.from(good.data, 'base64');
  data[0] = data[0]! ^ 1;
  assert.throws(() => open(new Map([['k1', key]]), { ...good, data: data.toString('base64') }), (e) => isCutoverError(e) && e.code === 'SECRET_KEY_INVALID');
  assert.throws(() => open(new Map([['k2', key]]), { ...good, keyId: 'k2' }), (e) => isCutoverError(e) && e.code === 'SECRET_KEY_INVALID', 'the key id is authenticated');
});

test('check values tell a wrong key file from a missing one', () => {
  const k1 = newKey();
  const checks = { k1: keyCheck(k1), k2: keyCheck(newKey()) };
  assert.deepEqual(checkRing(new Map([['k1', k1]]), checks), { wrong: [], missing: ['k2'] });
  assert.deepEqual(checkRing(new Map([['k1', newKey()], ['k2', newKey()]]), checks), { wrong: ['k1', 'k2'], missing: [] });
});

test('fingerprints are 12 hex digits, keyed: the same value under another key differs, and no bare hash', () => {
  const key = newKey();
  const fp = fingerprint(key, SECRET);
  assert.match(fp, /^[0-9a-f]{12}$/);
  assert.equal(fingerprint(key, SECRET), fp);
  assert.notEqual(fingerprint(newKey(), SECRET), fp);
  assert.notEqual(fingerprint(key, `${SECRET}x`), fp);
});

test('key files: written 0600 in a 0700 directory, read back, refused when others may read them or they are malformed', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'cutover-keys-')), 'keys');
  try {
    const key = writeNewKey(dir, 'k1');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'k1.key')).mode & 0o777, 0o600);
    assert.deepEqual(loadKeyRing(dir).get('k1'), key);
    assert.throws(() => writeNewKey(dir, 'k1'), /EEXIST/, 'never replaces a key');
    assert.throws(() => writeNewKey(dir, '../x'), (e) => isCutoverError(e) && e.code === 'VALIDATION_FAILED');
    chmodSync(join(dir, 'k1.key'), 0o644);
    assert.throws(() => loadKeyRing(dir), (e) => isCutoverError(e) && e.code === 'SECRET_KEY_INVALID' && /chmod 600/.test(e.message));
    chmodSync(join(dir, 'k1.key'), 0o600);
    writeFileSync(join(dir, 'k2.key'), 'c2hvcnQ=\n', { mode: 0o600 });
    assert.throws(() => loadKeyRing(dir), (e) => isCutoverError(e) && /32 bytes/.test(e.message));
    assert.ok(!readFileSync(join(dir, 'k1.key'), 'utf8').includes('\n\n'));
    assert.equal(loadKeyRing(join(dir, 'none')).size, 0);
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
