import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareWithAgent } from './agent-comparison.ts';
import type { RuntimeInstance } from './runtime.ts';

const record = {
  name: 'web',
  activeColor: 'blue' as const,
  currentVersion: '1.1.0',
  slots: { blue: { version: '1.1.0', status: 'live' as const, deploymentId: 'd1' }, green: null },
};
const seen = (over: Partial<RuntimeInstance> = {}): RuntimeInstance => ({
  name: 'web',
  hosts: ['web.test'],
  active: 'blue',
  slots: [{ color: 'blue', version: '1.1.0', state: 'healthy', restarts: 0 }],
  ...over,
});

test('routed as recorded is ok; nothing deployed and unknown to the agent is ok', () => {
  assert.deepEqual(compareWithAgent(record, seen()), { ok: true, state: 'ok', problems: [] });
  assert.deepEqual(compareWithAgent({ ...record, activeColor: null, currentVersion: null, slots: { blue: null, green: null } }, undefined), {
    ok: true,
    state: 'ok',
    problems: [],
  });
});

test('each difference is named', () => {
  const unreachable = compareWithAgent(record, undefined, { error: 'connection refused' });
  assert.equal(unreachable.state, 'unreachable');
  assert.match(unreachable.problems[0]!, /connection refused/);

  const unknown = compareWithAgent(record, undefined);
  assert.equal(unknown.state, 'unknown');
  assert.match(unknown.problems[0]!, /does not know this instance.*1\.1\.0 on blue/);

  const other = compareWithAgent(record, seen({ active: 'green', slots: [{ color: 'green', version: '1.2.0', state: 'healthy', restarts: 0 }] }));
  assert.equal(other.state, 'mismatch');
  assert.deepEqual(other.problems, ['recorded active colour blue, the agent routes green', 'the agent has no blue slot (recorded: 1.1.0)']);

  const version = compareWithAgent(record, seen({ slots: [{ color: 'blue', version: '1.0.0', state: 'healthy', restarts: 0 }] }));
  assert.deepEqual(version.problems, ['the blue slot runs 1.0.0 on the agent, 1.1.0 in the record']);
  assert.equal(compareWithAgent(record, seen({ active: null, slots: [{ color: 'blue', version: '1.1.0', state: 'failed', restarts: 3 }] })).state, 'mismatch');
  assert.equal(compareWithAgent(record, seen({ active: null, slots: [{ color: 'blue', version: '1.0.0', state: 'healthy', restarts: 0 }] })).state, 'mismatch');

  // Converging: the recorded release starts (or waits, healthy, for its flip) where nothing is routed yet.
  for (const state of ['starting', 'healthy'] as const) {
    const converging = compareWithAgent(record, seen({ active: null, slots: [{ color: 'blue', version: '1.1.0', state, restarts: 0 }] }));
    assert.deepEqual(converging, { ok: true, state: 'changing', problems: ['recorded active colour blue, the agent routes no colour'] });
  }

  const lost = compareWithAgent({ ...record, activeColor: null, slots: { blue: null, green: null } }, seen({ active: null, slots: [] }));
  assert.equal(lost.state, 'needs-deploy');
  assert.equal(lost.ok, false);
  assert.match(lost.problems[0]!, /deploy 1\.1\.0/);
});

test('a difference while a deployment holds the lease is expected', () => {
  const changing = compareWithAgent(record, seen({ active: 'green' }), { locked: true });
  assert.equal(changing.ok, true);
  assert.equal(changing.state, 'changing');
});
