import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineSplitter, MAX_LINE_LENGTH } from './line-splitter.ts';

function split(chunks: Array<string | Buffer>): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  splitter.end();
  return lines;
}

test('joins partial lines, drops CR before LF and flushes the last unterminated line', () => {
  assert.deepEqual(split(['hel', 'lo\nwor', 'ld\r\n', '\n', 'tail']), ['hello', 'world', '', 'tail']);
  assert.deepEqual(split(['a\n']), ['a']);
  assert.deepEqual(split([]), []);
});

test('decodes UTF-8 split across chunks', () => {
  const bytes = Buffer.from('héllo → wörld\n');
  assert.deepEqual(split([bytes.subarray(0, 2), bytes.subarray(2, 9), bytes.subarray(9)]), ['héllo → wörld']);
});

test('a line without an end is cut into bounded pieces', () => {
  const lines = split(['x'.repeat(MAX_LINE_LENGTH * 2 + 5)]);
  assert.deepEqual(
    lines.map((l) => l.length),
    [MAX_LINE_LENGTH, MAX_LINE_LENGTH, 5],
  );
});

test('any chunking of a text gives the same lines', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.array(fc.nat()), (text, cuts) => {
      const bytes = Buffer.from(text);
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let from = 0;
      for (const point of [...points, bytes.length]) {
        chunks.push(bytes.subarray(from, point));
        from = point;
      }
      const expected =
        text === ''
          ? []
          : text
              .replace(/\n$/, '')
              .split('\n')
              .map((l) => l.replace(/\r$/, ''));
      assert.deepEqual(split(chunks), expected);
    }),
  );
});
