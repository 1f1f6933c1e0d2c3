import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hasUrlPassword, keyProblem, stripOneNewline, valueProblem } from './key-rules.ts';

test('valid POSIX names pass; reserved, NUL, empty and malformed names are refused with a reason', () => {
  for (const ok of ['DATABASE_URL', '_x', 'a1', 'Log_Level']) assert.equal(keyProblem(ok), undefined, ok);
  assert.match(keyProblem('')!, /empty/);
  assert.match(keyProblem('A\0B')!, /NUL/);
  assert.match(keyProblem('1ABC')!, /not a valid variable name/);
  assert.match(keyProblem('A-B')!, /not a valid variable name/);
  assert.match(keyProblem('A=B')!, /not a valid variable name/);
  for (const reserved of ['PORT', 'APP_VERSION', 'CUTOVER_COLOR', 'CUTOVER_']) assert.match(keyProblem(reserved)!, /reserved/, reserved);
  assert.match(keyProblem('A'.repeat(257))!, /longer than 256/);
});

test('property: a key passes exactly when it is a POSIX name, not reserved, and short enough', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (key) => {
      const expected = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) && key !== 'PORT' && key !== 'APP_VERSION' && !key.startsWith('CUTOVER_');
      assert.equal(keyProblem(key) === undefined, expected);
    }),
    { numRuns: 2000 },
  );
});

test('a plain value with a URL password is refused with "use secret set"; a secret may hold one', () => {
  assert.match(valueProblem('postgres://app:hunter2@db:5432/shop', false)!, /cutover secret set/);
  assert.match(valueProblem('dsn=mysql://u:p@h/x', false)!, /cutover secret set/);
  assert.equal(valueProblem('postgres://app:hunter2@db:5432/shop', true), undefined);
  assert.equal(valueProblem('https://user@example.com/', false), undefined, 'a user without a password');
  assert.equal(valueProblem('https://example.com:8443/a@b', false), undefined, 'a port, and an @ in the path');
  assert.equal(valueProblem('warn', false), undefined);
  assert.match(valueProblem('a\0b', true)!, /NUL/);
  assert.match(valueProblem('x'.repeat(32 * 1024 + 1), true)!, /longer/);
});

test('property: no problem message quotes the value', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 8 }), fc.boolean(), (tail, secret) => {
      const value = `p://u:${tail}@h\0`;
      const problem = valueProblem(value, secret) ?? '';
      assert.ok(!problem.includes(tail));
    }),
  );
  assert.equal(hasUrlPassword('redis://:secret@cache:6379'), true);
});

test('--from-file strips exactly one trailing newline', () => {
  assert.equal(stripOneNewline('v\n'), 'v');
  assert.equal(stripOneNewline('v\r\n'), 'v');
  assert.equal(stripOneNewline('v\n\n'), 'v\n');
  assert.equal(stripOneNewline('v'), 'v');
  assert.equal(stripOneNewline(''), '');
  fc.assert(fc.property(fc.string(), (s) => assert.equal(stripOneNewline(`${s}\n`), s)));
});
