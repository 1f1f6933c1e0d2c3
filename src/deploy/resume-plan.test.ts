import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentRecord, StepName } from '../store/index.ts';
import { testDeployment } from '../testing/index.ts';
import { resumePlan } from './resume-plan.ts';
import type { RuntimeInstance } from './runtime.ts';

const NAMES: StepName[] = ['prepare', 'start', 'health', 'smoke', 'flip', 'verify', 'finalise'];

/** A deployment of 1.1.0 to green at step `step` (running), the steps before it done. */
const at = (step: StepName | null, over: Partial<DeploymentRecord> = {}): DeploymentRecord => testDeployment(NAMES, step, over);

const agent = (green: { version?: string; deploymentId?: string } | null, active: 'blue' | 'green' = 'blue'): RuntimeInstance => ({
  name: 'web',
  hosts: [],
  active,
  slots: [{ color: 'blue', version: '1.0.0', state: 'healthy', deploymentId: 'dpl_0' }, ...(green ? [{ color: 'green' as const, version: green.version ?? '1.1.0', state: 'healthy', deploymentId: green.deploymentId ?? 'dpl_1' }] : [])],
});
const facts = (seen: RuntimeInstance | undefined, over: { published?: boolean; noLease?: boolean } = {}) => ({ seen, startedBy: 'dpl_1', published: true, ...over });

test('resumePlan: every step resumes from the first not done while what it started is still its own', () => {
  assert.deepEqual(resumePlan(at('prepare'), facts(agent(null))), { resume: true, from: 'prepare' });
  assert.deepEqual(resumePlan(at('start'), facts(agent(null))), { resume: true, from: 'start' }, 'a start that may not have reached the agent is sent again');
  assert.deepEqual(resumePlan(at('start'), facts(agent({}))), { resume: true, from: 'start' });
  assert.deepEqual(resumePlan(at('health'), facts(agent({}))), { resume: true, from: 'health' });
  assert.deepEqual(resumePlan(at('smoke'), facts(agent({}))), { resume: true, from: 'smoke' });
  assert.deepEqual(resumePlan(at('flip'), facts(agent({}))), { resume: true, from: 'flip' }, 'not flipped yet');
  assert.deepEqual(resumePlan(at('flip'), facts(agent({}, 'green'))), { resume: true, from: 'flip' }, 'flipped, not recorded');
  assert.deepEqual(resumePlan(at('verify'), facts(agent({}, 'green'))), { resume: true, from: 'verify' });
  assert.deepEqual(resumePlan(at('finalise'), facts(agent({}, 'green'))), { resume: true, from: 'finalise' });
  assert.deepEqual(resumePlan(at(null), facts(agent({}, 'green'))), { resume: true, from: null }, 'only its end is recorded');
  const shifted = at('flip');
  shifted.steps.splice(4, 0, { name: 'shift-25', status: 'running' });
  shifted.steps[5]!.status = 'pending';
  assert.deepEqual(resumePlan(shifted, facts(agent({}))), { resume: true, from: 'shift-25' });
});

test('resumePlan: what cannot be resumed fails, touching only its own slot nobody is on', () => {
  const gone = resumePlan(at('health'), facts(agent(null)));
  assert.equal(gone.resume, false);
  assert.match(!gone.resume ? gone.why : '', /no longer runs the green slot it started/);
  assert.equal(!gone.resume && gone.ownSlot, false);
  const reused = resumePlan(at('health'), facts(agent({ deploymentId: 'dpl_2' })));
  assert.deepEqual([reused.resume, !reused.resume && reused.ownSlot], [false, false], 'another deployment reused the colour');
  const unknown = resumePlan(at('health'), facts(undefined));
  assert.match(!unknown.resume ? unknown.why : '', /does not know the instance/);
  const deleted = resumePlan(at('health'), facts(agent({}), { published: false }));
  assert.deepEqual(deleted, { resume: false, why: 'its release 1.1.0 was deleted', ownSlot: true });
  const movedBack = resumePlan(at('verify'), facts(agent({}, 'blue')));
  assert.deepEqual([movedBack.resume, !movedBack.resume && movedBack.ownSlot], [false, false], 'after the flip, users were put back meanwhile');
  const noLease = resumePlan(at('health'), facts(agent({}), { noLease: true }));
  assert.deepEqual(noLease, { resume: false, why: 'its lease was given up before step health ended', ownSlot: true });
  assert.deepEqual(resumePlan(at(null), facts(agent({}, 'green'), { noLease: true })), { resume: true, from: null }, 'all done: its end is recorded');
});

test('resumePlan: a flip to a warm slot resumes; the agent checks the slot in the flip', () => {
  const d = at('flip', { strategy: 'flip-to-warm', steps: [{ name: 'flip', status: 'running' }, { name: 'finalise', status: 'pending' }] });
  assert.deepEqual(resumePlan(d, { seen: agent(null), startedBy: 'dpl_0', published: true }), { resume: true, from: 'flip' });
});
