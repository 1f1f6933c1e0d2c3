import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeJoinToken, parseJoinToken } from './join-token.ts';
import { CutoverError } from './errors.ts';

const content = { secret: 'x'.repeat(43), fingerprint: 'ab'.repeat(32), pin: 'cert' as const, urls: ['https://cp.internal:7070', 'https://10.0.0.2:7070'] };

test('a join token carries its secret, the pinned fingerprint and the server URLs', () => {
  const token = encodeJoinToken(content);
  assert.match(token, /^cutj_[A-Za-z0-9_-]+$/);
  assert.deepEqual(parseJoinToken(token), content);
  assert.deepEqual(parseJoinToken(` ${encodeJoinToken({ ...content, fingerprint: null })}\n`), { ...content, fingerprint: null });
});

test('a CA pin says so (v2, k: ca); a certificate pin stays v1, so tokens of earlier versions read as they did', () => {
  const ca = encodeJoinToken({ ...content, pin: 'ca' });
  assert.deepEqual(JSON.parse(Buffer.from(ca.slice(5), 'base64url').toString()), { v: 2, s: content.secret, f: content.fingerprint, u: content.urls, k: 'ca' });
  assert.deepEqual(parseJoinToken(ca), { ...content, pin: 'ca' });
  const leaf = encodeJoinToken(content);
  assert.equal(JSON.parse(Buffer.from(leaf.slice(5), 'base64url').toString()).v, 1);
  // A token an earlier version made: no kind, read as a certificate pin.
  const old = `cutj_${Buffer.from(JSON.stringify({ v: 1, s: content.secret, f: content.fingerprint, u: content.urls })).toString('base64url')}`;
  assert.deepEqual(parseJoinToken(old), content);
});

test('anything else is JOIN_TOKEN_INVALID, and the message never repeats the text', () => {
  const bad = (json: unknown) => `cutj_${Buffer.from(JSON.stringify(json)).toString('base64url')}`;
  for (const text of ['', 'cut_abc', 'cutj_%%%', 'cutj_e30', bad({ v: 2, s: content.secret, f: null, u: ['x'] }), bad({ v: 2, s: content.secret, f: null, u: ['x'], k: 'ca' }), bad({ v: 2, s: content.secret, f: content.fingerprint, u: ['x'], k: 'leaf' }), bad({ v: 3, s: content.secret, f: null, u: ['x'] }), bad({ v: 1, s: 'short', f: null, u: ['x'] }), bad({ v: 1, s: content.secret, f: 'AB', u: ['x'] }), bad({ v: 1, s: content.secret, f: null, u: [] })]) {
    assert.throws(
      () => parseJoinToken(text),
      (e: unknown) => e instanceof CutoverError && e.code === 'JOIN_TOKEN_INVALID' && (text.length < 6 || !e.message.includes(text)),
      text,
    );
  }
});
