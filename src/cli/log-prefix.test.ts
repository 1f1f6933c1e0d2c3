import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_WIDTHS, isLabelledLine, logPrefix } from './log-prefix.ts';

const entry = { machine: null, instance: 'web', app: 'hello', version: '1.2.0', color: 'blue' };

test('the prefix is machine instance app@version colour, `local` for no machine, `?` for an unknown version', () => {
  assert.equal(logPrefix(entry, NO_WIDTHS).prefix, 'local web hello@1.2.0 blue | ');
  assert.equal(logPrefix({ ...entry, machine: 'web-1', version: null }, NO_WIDTHS).prefix, 'web-1 web hello@? blue | ');
});

test('columns grow to the widest value seen, so later lines stay aligned; they never shrink', () => {
  let widths = NO_WIDTHS;
  const prefixes: string[] = [];
  for (const e of [entry, { ...entry, machine: 'web-10', color: 'green' }, entry]) {
    const p = logPrefix(e, widths);
    widths = p.widths;
    prefixes.push(p.prefix);
  }
  assert.deepEqual(prefixes, ['local web hello@1.2.0 blue | ', 'web-10 web hello@1.2.0 green | ', 'local  web hello@1.2.0 blue  | ']);
  assert.equal(prefixes[1]!.length, prefixes[2]!.length);
});

test('only objects with the labels and a line are taken as labelled lines', () => {
  assert.equal(isLabelledLine({ ...entry, line: 'x' }), true);
  for (const v of [null, 'x', {}, { ...entry }, { ...entry, line: 5 }]) assert.equal(isLabelledLine(v), false, JSON.stringify(v));
});
