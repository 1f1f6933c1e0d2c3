import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceRecord, MachineRecord, MachineStatus } from '../store/index.ts';
import { moveInstance, placeInstance } from './placement.ts';

const machine = (name: string, status: MachineStatus = 'active'): MachineRecord => ({
  name, labels: {}, address: null, agentVersion: '0.1.0', protocolVersion: 1, joinedAt: 0, lastHeartbeat: null,
  status, credentialHash: `c-${name}`, credentialRotatedAt: 0, joinToken: 'jt_1',
});

const instance = (over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  name: 'web', app: 'shop', hosts: ['web.test'], environment: 'production', tenant: null, labels: {}, target: null, window: null,
  machine: null, currentVersion: null, activeColor: null, slots: { blue: null, green: null }, createdAt: 0, updatedAt: 0, ...over,
});

const refused = (outcome: ReturnType<typeof placeInstance>) => {
  assert.equal(outcome.ok, false, JSON.stringify(outcome));
  return outcome as Extract<typeof outcome, { ok: false }>;
};

test('placeInstance with --machine: an active machine is chosen, whatever else there is', () => {
  assert.deepEqual(placeInstance('web-2', [machine('web-1'), machine('web-2')]), { ok: true, machine: 'web-2' });
  assert.deepEqual(placeInstance('web-1', [machine('web-1'), machine('web-2', 'draining')]), { ok: true, machine: 'web-1' });
});

test('placeInstance with --machine: an unknown machine is MACHINE_NOT_FOUND naming the live ones; draining or removed is refused naming its status', () => {
  const unknown = refused(placeInstance('web-9', [machine('web-1'), machine('old', 'removed')]));
  assert.equal(unknown.code, 'MACHINE_NOT_FOUND');
  assert.equal(unknown.message, 'no machine named "web-9"; machines: web-1');
  assert.match(refused(placeInstance('web-9', [])).message, /none yet/);
  for (const status of ['draining', 'removed'] as const) {
    const r = refused(placeInstance('web-1', [machine('web-1', status)]));
    assert.equal(r.code, 'MACHINE_NOT_ACTIVE');
    assert.match(r.message, new RegExp(`"web-1" is ${status} and takes no new instances`));
    assert.deepEqual(r.details, { machine: 'web-1', status });
  }
});

test('placeInstance without --machine: no live machine is the local agent (null); exactly one active machine is chosen', () => {
  assert.deepEqual(placeInstance(undefined, []), { ok: true, machine: null });
  assert.deepEqual(placeInstance(undefined, [machine('gone', 'removed')]), { ok: true, machine: null });
  assert.deepEqual(placeInstance(undefined, [machine('web-1')]), { ok: true, machine: 'web-1' });
  assert.deepEqual(placeInstance(undefined, [machine('web-1'), machine('web-2', 'draining'), machine('x', 'removed')]), { ok: true, machine: 'web-1' });
});

test('placeInstance without --machine: several active machines are MACHINE_REQUIRED naming them and the flag; only draining ones are refused', () => {
  const several = refused(placeInstance(undefined, [machine('web-1'), machine('web-2'), machine('web-3', 'draining')]));
  assert.equal(several.code, 'MACHINE_REQUIRED');
  assert.equal(several.message, 'there are 2 active machines (web-1, web-2); say which one runs the instance with --machine NAME');
  assert.deepEqual(several.details, { machines: ['web-1', 'web-2'] });
  const draining = refused(placeInstance(undefined, [machine('web-1', 'draining')]));
  assert.equal(draining.code, 'MACHINE_NOT_ACTIVE');
  assert.match(draining.message, /every machine is draining \(web-1\)/);
});

test('moveInstance: to the same machine is no move; an undeployed instance moves to an active machine', () => {
  const deployed = instance({ machine: 'web-1', currentVersion: '1.0.0', activeColor: 'blue', slots: { blue: { version: '1.0.0', status: 'live', deploymentId: 'd' }, green: null } });
  assert.deepEqual(moveInstance(deployed, 'web-1', [machine('web-1', 'draining')]), { ok: true, machine: 'web-1' }, 'staying put needs nothing');
  assert.deepEqual(moveInstance(instance(), 'web-2', [machine('web-2')]), { ok: true, machine: 'web-2' });
  assert.equal(refused(moveInstance(instance(), 'web-2', [machine('web-2', 'draining')])).code, 'MACHINE_NOT_ACTIVE');
  assert.equal(refused(moveInstance(instance(), 'web-3', [machine('web-2')])).code, 'MACHINE_NOT_FOUND');
});

test('moveInstance: an instance with a deployed release (a current version or any slot) does not move yet', () => {
  const live = refused(moveInstance(instance({ machine: 'web-1', currentVersion: '1.0.0' }), 'web-2', [machine('web-1'), machine('web-2')]));
  assert.equal(live.code, 'INSTANCE_MOVE_UNSUPPORTED');
  assert.equal(
    live.message,
    'instance "web" runs 1.0.0 on web-1; moving a running instance to another machine comes with "Instances across machines" — for now, create a new instance on web-2 and delete this one',
  );
  const starting = refused(moveInstance(instance({ slots: { blue: null, green: { version: '2.0.0', status: 'failed', deploymentId: 'd' } } }), 'web-2', [machine('web-2')]));
  assert.equal(starting.code, 'INSTANCE_MOVE_UNSUPPORTED');
  assert.match(starting.message, /runs a release on the local agent/);
});
