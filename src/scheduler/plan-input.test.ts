import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceRecord, MachineRecord, MachineStatus } from '../store/index.ts';
import { machinesOf } from '../control/index.ts';
import { machinesByInstance } from './plan-input.ts';

function machine(name: string, labels: Record<string, string>, status: MachineStatus = 'active'): MachineRecord {
  return { name, labels, address: null, agentVersion: '0.1.0', protocolVersion: 1, joinedAt: 1, lastHeartbeat: 1, status, credentialHash: 'x', credentialRotatedAt: 1, joinToken: 't' };
}

function instance(name: string, placement: InstanceRecord['placement']): InstanceRecord {
  return {
    name,
    app: 'shop',
    hosts: [`${name}.test`],
    environment: 'production',
    tenant: null,
    labels: {},
    target: { version: '1.1.0' },
    window: null,
    placement,
    currentVersion: '1.0.0',
    activeColor: 'blue',
    slots: { blue: null, green: null },
    createdAt: 1,
    updatedAt: 1,
  };
}

test("the planner gets each instance's machines as the deployer's fan-out resolves them", () => {
  const machines = [machine('web-2', { role: 'web' }), machine('web-1', { role: 'web' }), machine('web-3', { role: 'web' }, 'draining'), machine('old', { role: 'web' }, 'removed'), machine('db-1', { role: 'db' })];
  const instances = [
    instance('named', { machines: ['web-2', 'old', 'web-1', 'not-joined'] }),
    instance('selected', { selector: 'role=web' }),
    instance('selected-too', { selector: 'role=web' }),
    instance('nowhere', { selector: 'role=cache' }),
    instance('unplaced', null),
  ];
  const byInstance = machinesByInstance(instances, machines);
  assert.deepEqual(Object.fromEntries(byInstance), {
    // A removed machine is left out; one named but not joined yet stays (it is reported unreachable).
    named: ['not-joined', 'web-1', 'web-2'],
    // A draining machine still runs what it has, so an upgrade runs there too.
    selected: ['web-1', 'web-2', 'web-3'],
    'selected-too': ['web-1', 'web-2', 'web-3'],
    nowhere: [],
    // No placement with several live machines: none (the planner's shared `(local)` budget).
    unplaced: [],
  });
  for (const i of instances) assert.deepEqual(byInstance.get(i.name), machinesOf(i.placement, machines), i.name);
  // With one live machine, an instance without a placement is on it.
  assert.deepEqual(machinesByInstance([instance('solo', null)], [machine('only', {}), machine('gone', {}, 'removed')]).get('solo'), ['only']);
});
