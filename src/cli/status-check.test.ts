import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentLines, alreadyServes, statusExitCode } from './status-check.ts';

const ok = { name: 'a', agent: { ok: true, state: 'ok' as const, problems: [] } };
const changing = { name: 'b', agent: { ok: true, state: 'changing' as const, problems: ['recorded active colour blue, the agent routes green'] } };
const mismatch = { name: 'c', agent: { ok: false, state: 'mismatch' as const, problems: ['the blue slot runs 1.0.0 on the agent, 1.1.0 in the record'] } };
const unreachable = { name: 'd', agent: { ok: false, state: 'unreachable' as const, problems: ['cannot ask the agent: connection refused'] } };

test('status exits 0 when everything is routed as recorded (or changing), 11 on a difference, 6 when the agent is unreachable', () => {
  assert.equal(statusExitCode([ok, changing, { name: 'old-server' }]), 0);
  assert.equal(agentLines([ok, changing]), '');
  assert.equal(statusExitCode([ok, mismatch]), 11);
  assert.equal(agentLines([ok, mismatch]), '\nc: NOT ROUTED AS RECORDED: the blue slot runs 1.0.0 on the agent, 1.1.0 in the record');
  assert.equal(statusExitCode([mismatch, unreachable, { ...unreachable, name: 'e' }]), 6);
  assert.equal(agentLines([unreachable, { ...unreachable, name: 'e' }]), '\nagent unreachable: cannot ask the agent: connection refused');
});

test('deploy --if-needed: nothing to do only when the version serves, settled and routed as recorded', () => {
  const ok = { ok: true, state: 'ok' as const, problems: [] };
  const base = { name: 'web', currentVersion: '1.1.0', lastDeployment: { status: 'succeeded' }, agent: ok };
  assert.equal(alreadyServes(base, '1.1.0'), true);
  assert.equal(alreadyServes(base, '1.2.0'), false);
  assert.equal(alreadyServes({ ...base, currentVersion: null, lastDeployment: null }, '1.1.0'), false);
  assert.equal(alreadyServes({ ...base, lastDeployment: { status: 'running' } }, '1.1.0'), false, 'a deployment is moving it');
  assert.equal(alreadyServes({ ...base, agent: { ok: false, state: 'needs-deploy', problems: ['lost'] } }, '1.1.0'), false);
  assert.equal(alreadyServes({ name: 'web', currentVersion: '1.1.0', lastDeployment: null }, '1.1.0'), true, 'an older server without the agent check');
});
