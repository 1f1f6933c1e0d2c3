import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../shared/index.ts';
import { planUp } from './up-plan.ts';

const wanted = { httpPort: 8080, agentPort: 7071 };
const live = { pid: 42, routerPort: 8080, controlPort: 7071, answers: true };

test('no live agent: up starts one', () => {
  assert.deepEqual(planUp(undefined, wanted, '/d'), { kind: 'start' });
});

test('a live agent on the same ports that answers with the token is reused (port 0 matches any)', () => {
  assert.deepEqual(planUp(live, wanted, '/d'), { kind: 'reuse', pid: 42 });
  assert.deepEqual(planUp(live, { httpPort: 0, agentPort: 0 }, '/d'), { kind: 'reuse', pid: 42 });
});

test('a live agent on other ports is refused, naming the flags and its ports', () => {
  for (const w of [
    { ...wanted, httpPort: 9000 },
    { ...wanted, agentPort: 9001 },
  ]) {
    assert.throws(
      () => planUp(live, w, '/d'),
      (e) =>
        isCutoverError(e) &&
        e.code === 'AGENT_RUNNING' &&
        /--http-port 8080 --agent-port 7071/.test(e.message) &&
        /pid 42/.test(e.message),
    );
  }
});

test('a live agent that does not answer with the token, or whose ports are unknown, is refused', () => {
  assert.throws(
    () => planUp({ ...live, answers: false }, wanted, '/d'),
    (e) => isCutoverError(e) && e.code === 'AGENT_RUNNING' && /token/.test(e.message),
  );
  assert.throws(
    () => planUp({ pid: 42, answers: true }, wanted, '/d'),
    (e) => isCutoverError(e) && e.code === 'AGENT_RUNNING',
  );
});
