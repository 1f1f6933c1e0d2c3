import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compactJson, onTargetText, resolvedText, targetText, when, withQuery } from './format.ts';

test('targets read as the user types them, with what a channel resolves to', () => {
  assert.equal(targetText(null), '-');
  assert.equal(targetText({ version: '1.4.3' }), '1.4.3');
  assert.equal(targetText({ channel: 'beta' }), 'channel:beta');
  assert.equal(resolvedText({ resolvedTarget: { kind: 'channel', channel: 'beta', version: '1.2.0', onTarget: true } }), 'channel:beta → 1.2.0');
  assert.equal(resolvedText({ resolvedTarget: { kind: 'channel', channel: 'beta', version: null, onTarget: false } }), 'channel:beta → (points nowhere)');
  assert.equal(resolvedText({ resolvedTarget: { kind: 'version', version: '1.4.3', onTarget: false } }), '1.4.3');
  assert.equal(onTargetText({ resolvedTarget: { kind: 'version', version: '1.4.3', onTarget: false } }), 'no');
  assert.equal(onTargetText({ resolvedTarget: { kind: 'none' } }), '-');
});

test('queries keep only given values, encoded', () => {
  assert.equal(withQuery('/api/x', { a: 'b c', n: 5, none: undefined, empty: '' }), '/api/x?a=b+c&n=5');
  assert.equal(withQuery('/api/x', {}), '/api/x');
});

test('cells: minute times and shortened JSON', () => {
  assert.equal(when('2026-11-20T10:00:59.999Z'), '2026-11-20T10:00Z');
  assert.equal(when(null), '-');
  assert.equal(compactJson(null), '-');
  assert.equal(compactJson({ a: 'x'.repeat(100) }, 10), '{"a":"xxx…');
});

test('duration flags need a unit; time flags refuse a bare number too', async () => {
  const { durationFlag, timeFlag } = await import('./format.ts');
  assert.equal(durationFlag('2m', '--pause'), 120_000);
  assert.equal(durationFlag('0', '--pause'), 0);
  assert.throws(() => durationFlag('3', '--pause'), { code: 'VALIDATION_FAILED', message: '--pause: "3" has no unit; write 3s or 3ms' });
  assert.throws(() => durationFlag('soon', '--backoff', '10m'), /--backoff must be a duration like 10m/);
  assert.throws(() => timeFlag('5', '--since', 0, 'ago'), /--since must be an ISO time .* or a duration ago like 5h or 5d, not "5": a number needs a unit/);
  assert.equal(timeFlag('1h', '--at', 0, 'ahead'), new Date(3_600_000).toISOString());
});

test('control characters are escaped: C0, DEL, C1 and bidi overrides; kept layout characters stay', async () => {
  const { escapeControl } = await import('./format.ts');
  const hostile = '\u001b[2J\u001b[31mPWNED\u001b]0;owned\u0007 title\r\nforged\u007f\u009b\u202e';
  assert.equal(escapeControl(hostile), '\\x1b[2J\\x1b[31mPWNED\\x1b]0;owned\\x07 title\\r\\nforged\\x7f\\x9b\\u202e');
  assert.equal(escapeControl('a\nb\tc\rd', '\n\t'), 'a\nb\tc\\rd');
  assert.equal(escapeControl('plain: é → ✓'), 'plain: é → ✓');
});

test('tables and text output escape once in the renderers; --json keeps JSON escaping', async () => {
  const { output, table } = await import('./output.ts');
  const rows = table([
    ['ID', 'REASON'],
    ['1', 'red\u001b[31m\r\nforged row'],
  ]);
  assert.equal(rows.split('\n').length, 2, 'a newline in a cell starts no row');
  assert.ok(![...rows].some((c) => c !== '\n' && c.charCodeAt(0) < 0x20), rows);
  const written: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    output('table').say('held: \u001b]8;;http://evil\u0007link\u001b]8;;\u0007');
    output('table').result({}, () => 'title \u0007\u009b');
    output('json').result({ title: '\u001b[2J' }, () => 'unused');
  } finally {
    process.stdout.write = original;
  }
  assert.equal(written[0], 'held: \\x1b]8;;http://evil\\x07link\\x1b]8;;\\x07\n');
  assert.equal(written[1], 'title \\x07\\x9b\n');
  assert.deepEqual(JSON.parse(written[2]!), { title: '\u001b[2J' });
  assert.match(written[2]!, /\\u001b\[2J/);
});

test('steps last the milliseconds between their ISO times; --cursor or its older name, not both', async () => {
  const { cursorFlag, msBetween } = await import('./format.ts');
  assert.equal(msBetween('2026-11-20T10:00:00.000Z', '2026-11-20T10:00:01.250Z'), 1250);
  assert.equal(cursorFlag('12', undefined, '--before'), '12');
  assert.equal(cursorFlag(undefined, '12', '--before'), '12');
  assert.equal(cursorFlag(undefined, undefined, '--before'), undefined);
  assert.throws(() => cursorFlag('12', '13', '--before'), /--before is the older name of --cursor/);
});
