import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withoutCookie } from './cookies.ts';
import { RequestScan, scanRequestHeaders } from './headers.ts';

test('withoutCookie removes every cutover_preview pair and keeps the others byte for byte', () => {
  const cases: [string, string][] = [
    ['cutover_preview=t', ''],
    ['a=1; cutover_preview=t', 'a=1'],
    ['cutover_preview=t; a=1', 'a=1'],
    ['a=1; cutover_preview=t; b="x y"', 'a=1; b="x y"'],
    ['a=1;cutover_preview=t;b=2', 'a=1;b=2'],
    ['cutover_preview=t; a=1; cutover_preview=u', 'a=1'],
    ['cutover_preview=; a=1', 'a=1'],
    // Not that cookie: a longer name, a name ending in it, or it as part of a value.
    [
      'cutover_previewer=1; xcutover_preview=2; a=cutover_preview=3',
      'cutover_previewer=1; xcutover_preview=2; a=cutover_preview=3',
    ],
    ['cutover_dpl=d1;  cutover_preview=t', 'cutover_dpl=d1'],
  ];
  for (const [input, expected] of cases)
    assert.equal(withoutCookie(input, 'cutover_preview'), expected, input);
});

test('a header without the cookie is returned as the same string (no copy on the hot path)', () => {
  const header = 'session=abc; theme=dark';
  assert.equal(withoutCookie(header, 'cutover_preview'), header);
  const out = scanRequestHeaders(['Host', 'a.test', 'Cookie', header], '127.0.0.1', new RequestScan());
  assert.equal(out[3], header);
});

test('the forwarded headers lose the preview cookie; the router still reads it from the scan', () => {
  const scan = new RequestScan();
  const out = scanRequestHeaders(
    ['Host', 'a.test', 'Cookie', 'cutover_preview=secret', 'cookie', 'a=1; cutover_preview=secret; b=2'],
    '127.0.0.1',
    scan,
  );
  assert.equal(scan.cookie, 'cutover_preview=secret; a=1; cutover_preview=secret; b=2');
  const cookies: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (out[i]!.toLowerCase() === 'cookie') cookies.push(out[i + 1]!);
  assert.deepEqual(cookies, ['a=1; b=2'], 'the emptied header is dropped, the other keeps its other pairs');
  assert.ok(!out.join('\n').includes('secret'));
});
