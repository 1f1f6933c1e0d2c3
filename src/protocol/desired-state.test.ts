import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredStateSchema, judgeDesired } from './desired-state.ts';

const doc = (machine: string) => ({ machine, instances: [] });

test('judgeDesired: a first document, a higher number and a repeat are accepted', () => {
  assert.deepEqual(judgeDesired(undefined, undefined, 1, doc('web-1')), { accepted: true });
  assert.deepEqual(judgeDesired(undefined, 'web-1', 9, doc('web-1')), { accepted: true });
  assert.deepEqual(judgeDesired(3, 'web-1', 4, doc('web-1')), { accepted: true });
  assert.deepEqual(judgeDesired(3, undefined, 3, doc('web-1')), { accepted: true }, 'the number it holds again: converges');
});

test('judgeDesired: a lower number is stale, naming the one held; another machine is refused naming both', () => {
  assert.deepEqual(judgeDesired(5, undefined, 4, doc('web-1')), { accepted: false, reason: 'stale: holds 5' });
  assert.deepEqual(judgeDesired(5, 'web-1', 6, doc('web-2')), { accepted: false, reason: 'this agent is machine "web-1", the document is for "web-2"' });
  assert.deepEqual(judgeDesired(undefined, undefined, 1, doc('anything')), { accepted: true }, 'an agent that has not joined knows no name to check');
});

test('the document schema: digests and colours are checked, unknown fields are dropped', () => {
  const ok = desiredStateSchema.parse({ machine: 'm', extra: 1, instances: [{ name: 'a', hosts: ['a.test'], live: { version: '1', digest: `sha256:${'0'.repeat(64)}`, color: 'green' }, warm: null, maintenance: true }] });
  assert.equal('extra' in ok, false);
  assert.equal(desiredStateSchema.safeParse({ machine: 'm', instances: [{ name: 'a', hosts: [], live: { version: '1', digest: 'nope', color: 'green' }, warm: null, maintenance: false }] }).success, false);
});

test('the document schema: `draining` is optional (a server of the version before sends none, meaning false) and kept when sent', () => {
  assert.equal(desiredStateSchema.parse({ machine: 'm', instances: [] }).draining === true, false);
  assert.equal(desiredStateSchema.parse({ machine: 'm', instances: [], draining: true }).draining, true);
  assert.equal(desiredStateSchema.safeParse({ machine: 'm', instances: [], draining: 'yes' }).success, false);
});
