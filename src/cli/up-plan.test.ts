import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../shared/index.ts';
import { planUp } from './up-plan.ts';

const wanted = { httpPort: 8080 };
const live = { pid: 42, routerPort: 8080, machine: 'box' };

test('no live agent: up starts one', () => {
  assert.deepEqual(planUp(undefined, wanted, '/d'), { kind: 'start' });
});

test('a live joined agent on the same router port is reused (port 0 matches any); one that never joined is taken over', () => {
  assert.deepEqual(planUp(live, wanted, '/d'), { kind: 'reuse', pid: 42, machine: 'box' });
  assert.deepEqual(planUp(live, { httpPort: 0 }, '/d'), { kind: 'reuse', pid: 42, machine: 'box' });
  assert.deepEqual(planUp({ pid: 42, routerPort: 8080 }, wanted, '/d'), { kind: 'takeover', pid: 42 });
});

test('a live agent on another router port, or on an unrecorded one, is refused, naming the flag and its port', () => {
  assert.throws(
    () => planUp(live, { httpPort: 9000 }, '/d'),
    (e) => isCutoverError(e) && e.code === 'AGENT_RUNNING' && /--http-port 8080/.test(e.message) && /pid 42/.test(e.message),
  );
  assert.throws(
    () => planUp({ pid: 42 }, wanted, '/d'),
    (e) => isCutoverError(e) && e.code === 'AGENT_RUNNING',
  );
});
