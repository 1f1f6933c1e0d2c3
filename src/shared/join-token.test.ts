import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeJoinToken, parseJoinToken } from './join-token.ts';
import { CutoverError } from './errors.ts';

const content = { secret: 'x'.repeat(43), fingerprint: 'ab'.repeat(32), urls: ['https://cp.internal:7070', 'https://10.0.0.2:7070'] };

test('a join token carries its secret, the pinned fingerprint and the server URLs', () => {
  const token = encodeJoinToken(content);
  assert.match(token, /^cutj_[A-Za-z0-9_-]+$/);
  assert.deepEqual(parseJoinToken(token), content);
  assert.deepEqual(parseJoinToken(` ${encodeJoinToken({ ...content, fingerprint: null })}\n`), { ...content, fingerprint: null });
});

test('anything else is JOIN_TOKEN_INVALID, and the message never repeats the text', () => {
  const bad = (json: unknown) => `cutj_${Buffer.from(JSON.stringify(json)).toString('base64url')}`;
  for (const text of ['', 'cut_abc', 'cutj_%%%', 'cutj_e30', bad({ v: 2, s: content.secret, f: null, u: ['x'] }), bad({ v: 1, s: 'short', f: null, u: ['x'] }), bad({ v: 1, s: content.secret, f: 'AB', u: ['x'] }), bad({ v: 1, s: content.secret, f: null, u: [] })]) {
    assert.throws(
      () => parseJoinToken(text),
      (e: unknown) => e instanceof CutoverError && e.code === 'JOIN_TOKEN_INVALID' && (text.length < 6 || !e.message.includes(text)),
      text,
    );
  }
});
