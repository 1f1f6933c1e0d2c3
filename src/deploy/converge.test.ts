import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { InstanceRecord } from '../store/index.ts';
import { planConverge } from './converge.ts';
import type { MachineView } from './converge.ts';

const records = (over: Partial<Pick<InstanceRecord, 'activeColor' | 'slots'>> = {}): Pick<InstanceRecord, 'activeColor' | 'slots'> => ({
  activeColor: 'green',
  slots: { blue: { version: '1.0.0', status: 'warm', deploymentId: 'd1' }, green: { version: '1.1.0', status: 'live', deploymentId: 'd2' } },
  ...over,
});
const slot = (color: 'blue' | 'green', version: string, state = 'healthy') => ({ color, version, state });
const view = (active: 'blue' | 'green' | null, ...slots: ReturnType<typeof slot>[]): MachineView => ({ active, slots });

test('planConverge: nothing live yet, or the machine serves the live release and holds the warm one: nothing to do', () => {
  assert.deepEqual(planConverge(records({ activeColor: null, slots: { blue: null, green: null } }), undefined), []);
  assert.deepEqual(planConverge(records(), view('green', slot('green', '1.1.0'), slot('blue', '1.0.0'))), []);
});

test('planConverge: a machine that missed the flip holds the live release: a flip (after its health check when it is not healthy yet)', () => {
  assert.deepEqual(planConverge(records(), view('blue', slot('green', '1.1.0'), slot('blue', '1.0.0'))), [{ kind: 'flip', color: 'green', version: '1.1.0' }]);
  assert.deepEqual(planConverge(records(), view('blue', slot('green', '1.1.0', 'starting'), slot('blue', '1.0.0'))), [
    { kind: 'health', color: 'green', version: '1.1.0' },
    { kind: 'flip', color: 'green', version: '1.1.0' },
  ]);
});

test('planConverge: a machine that joined: start the live release, flip to it, then start the warm one', () => {
  assert.deepEqual(planConverge(records(), undefined), [
    { kind: 'start', color: 'green', version: '1.1.0', deploymentId: 'd2' },
    { kind: 'flip', color: 'green', version: '1.1.0' },
    { kind: 'start', color: 'blue', version: '1.0.0', deploymentId: 'd1' },
  ]);
  assert.deepEqual(planConverge(records(), view('green', slot('green', '1.1.0', 'failed'), slot('blue', '1.0.0'))).map((s) => s.kind), ['start', 'flip'], 'a failed slot is started again');
});

test('planConverge (property): the plan always ends with the machine told to serve the live release, and never touches a colour with another version than the records', () => {
  const color = fc.constantFrom<'blue' | 'green'>('blue', 'green');
  const version = fc.constantFrom('1.0.0', '1.1.0', '1.2.0');
  const state = fc.constantFrom('healthy', 'starting', 'failed', 'stopped', 'unhealthy');
  fc.assert(
    fc.property(fc.option(color, { nil: null }), fc.array(fc.record({ color, version, state }), { maxLength: 2 }), (active, slots) => {
      const rec = records();
      const plan = planConverge(rec, { active, slots });
      const flips = plan.filter((s) => s.kind === 'flip');
      const serving = active === 'green' && slots.some((s) => s.color === 'green' && s.version === '1.1.0' && s.state !== 'failed' && s.state !== 'stopped');
      assert.equal(flips.length, serving ? 0 : 1);
      if (flips.length) assert.deepEqual(flips[0], { kind: 'flip', color: 'green', version: '1.1.0' });
      for (const s of plan) assert.equal(s.version, s.color === 'green' ? '1.1.0' : '1.0.0');
    }),
  );
});
