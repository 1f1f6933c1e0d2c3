import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { formatFrom, formatIn, output, serialise } from './output.ts';

test('-o/--output: json, yaml, table, wide; --json is -o json; a contradiction or another value is refused', () => {
  assert.equal(formatFrom({}), 'table');
  assert.equal(formatFrom({ json: true }), 'json');
  assert.equal(formatFrom({ output: 'yaml' }), 'yaml');
  assert.equal(formatFrom({ json: true, output: 'json' }), 'json');
  assert.throws(() => formatFrom({ json: true, output: 'yaml' }), {
    code: 'VALIDATION_FAILED',
    message: /--json is -o json/,
  });
  assert.throws(() => formatFrom({ output: 'xml' }), {
    code: 'VALIDATION_FAILED',
    message: /one of json, yaml, table, wide/,
  });
});

test('the format from raw argv, for what is printed before commander parses: every spelling, the last -o wins', () => {
  assert.equal(formatIn(['status']), 'table');
  assert.equal(formatIn(['--json', 'status']), 'json');
  assert.equal(formatIn(['status', '-o', 'yaml']), 'yaml');
  assert.equal(formatIn(['-oyaml', 'status']), 'yaml');
  assert.equal(formatIn(['--output=wide', 'status']), 'wide');
  assert.equal(formatIn(['--output', 'json', '-o', 'yaml']), 'yaml');
  assert.equal(formatIn(['-o', 'xml']), 'table', 'commander refuses it and names the allowed values');
});

test('yaml is the json document: the same data, read back equal', () => {
  const data = {
    instances: [{ name: 'web', createdAt: 1796515802627, target: null, labels: { a: 'b' } }],
    next: null,
  };
  assert.deepEqual(parse(serialise(data, 'yaml')), JSON.parse(serialise(data, 'json')));
});

test('result(): data for json and yaml, the rendering for table, the wide rendering for wide; no progress with data', (t) => {
  const written: string[] = [];
  t.mock.method(process.stdout, 'write', (s: string) => written.push(s) > 0);
  t.mock.method(process.stderr, 'write', (s: string) => written.push(`stderr:${s}`) > 0);
  const render = (wide: boolean) => (wide ? 'A  B  C' : 'A  B');
  for (const f of ['json', 'yaml', 'table', 'wide'] as const) {
    const out = output(f);
    out.progress('working');
    out.result({ a: 1 }, render);
  }
  t.mock.restoreAll();
  assert.deepEqual(written, [
    '{\n  "a": 1\n}\n',
    'a: 1\n',
    'stderr:working\n',
    'A  B\n',
    'stderr:working\n',
    'A  B  C\n',
  ]);
});
