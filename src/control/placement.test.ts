import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { InstanceRecord, MachineRecord, MachineStatus } from '../store/index.ts';
import { activeMachinesOf, changePlacement, choosePlacement, machineMatches, machinesOf, placementText, strandedBy } from './placement.ts';
import { parseSelector } from './selector.ts';

const machine = (name: string, status: MachineStatus = 'active', labels: Record<string, string> = {}): MachineRecord => ({
  name, labels, address: null, agentVersion: '0.1.0', protocolVersion: 1, joinedAt: 0, lastHeartbeat: null,
  status, credentialHash: `c-${name}`, credentialRotatedAt: 0, joinToken: 'jt_1',
});

const instance = (over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  name: 'web', app: 'shop', hosts: ['web.test'], environment: 'production', tenant: null, labels: {}, target: null, window: null,
  placement: null, currentVersion: null, activeColor: null, slots: { blue: null, green: null }, createdAt: 0, updatedAt: 0, ...over,
});
const deployed = (over: Partial<InstanceRecord> = {}) =>
  instance({ currentVersion: '1.0.0', activeColor: 'blue', slots: { blue: { version: '1.0.0', status: 'live', deploymentId: 'd' }, green: null }, ...over });

const refused = (outcome: ReturnType<typeof choosePlacement>) => {
  assert.equal(outcome.ok, false, JSON.stringify(outcome));
  return outcome as Extract<typeof outcome, { ok: false }>;
};

test('choosePlacement with --machine (repeatable): active machines are named, deduplicated and sorted', () => {
  assert.deepEqual(choosePlacement({ machines: ['web-2'] }, [machine('web-1'), machine('web-2')]), { ok: true, placement: { machines: ['web-2'] } });
  assert.deepEqual(choosePlacement({ machines: ['web-2', 'web-1', 'web-2'] }, [machine('web-1'), machine('web-2')]), { ok: true, placement: { machines: ['web-1', 'web-2'] } });
});

test('choosePlacement with --machine: an unknown machine is MACHINE_NOT_FOUND naming the live ones; draining or removed is refused naming its status', () => {
  const unknown = refused(choosePlacement({ machines: ['web-1', 'web-9'] }, [machine('web-1'), machine('old', 'removed')]));
  assert.equal(unknown.code, 'MACHINE_NOT_FOUND');
  assert.equal(unknown.message, 'no machine named "web-9"; machines: web-1');
  assert.match(refused(choosePlacement({ machines: ['web-9'] }, [])).message, /none yet/);
  assert.equal(refused(choosePlacement({ machines: ['old'] }, [machine('old', 'removed')])).code, 'MACHINE_NOT_FOUND');
  const r = refused(choosePlacement({ machines: ['web-1'] }, [machine('web-1', 'draining')]));
  assert.equal(r.code, 'MACHINE_NOT_ACTIVE');
  assert.match(r.message, /"web-1" is draining and takes no new instances/);
});

test('choosePlacement with --machine-selector: checked against the grammar, kept as text, may match no machine yet; both flags are refused', () => {
  assert.deepEqual(choosePlacement({ selector: ' role=web,zone=a ' }, []), { ok: true, placement: { selector: 'role=web,zone=a' } });
  assert.throws(() => choosePlacement({ selector: 'role' }, []), /has no "=" or "!="/);
  assert.equal(refused(choosePlacement({ machines: ['web-1'], selector: 'role=web' }, [machine('web-1')])).code, 'VALIDATION_FAILED');
});

test('choosePlacement without flags: no live machine is null; exactly one active machine is named; several are MACHINE_REQUIRED naming both flags', () => {
  assert.deepEqual(choosePlacement({}, []), { ok: true, placement: null });
  assert.deepEqual(choosePlacement({}, [machine('gone', 'removed')]), { ok: true, placement: null });
  assert.deepEqual(choosePlacement({}, [machine('web-1'), machine('web-2', 'draining')]), { ok: true, placement: { machines: ['web-1'] } });
  const several = refused(choosePlacement({}, [machine('web-1'), machine('web-2')]));
  assert.equal(several.code, 'MACHINE_REQUIRED');
  assert.match(several.message, /2 active machines \(web-1, web-2\).*--machine NAME \(repeatable\) or --machine-selector/);
  assert.equal(refused(choosePlacement({}, [machine('web-1', 'draining')])).code, 'MACHINE_NOT_ACTIVE');
});

test('machinesOf: named or by selector, never removed ones (draining ones keep serving what they have); no placement is the only live machine', () => {
  const fleet = [machine('a', 'active', { role: 'web', zone: 'x' }), machine('b', 'draining', { role: 'web', zone: 'y' }), machine('c', 'removed', { role: 'web' }), machine('d', 'active', { role: 'db' })];
  assert.deepEqual(machinesOf({ machines: ['d', 'a', 'c', 'zz'] }, fleet), ['a', 'd', 'zz'], 'a removed machine is out; one not known yet counts (it is reported unreachable)');
  assert.deepEqual(machinesOf({ selector: 'role=web' }, fleet), ['a', 'b']);
  assert.deepEqual(machinesOf({ selector: 'role=web,zone!=y' }, fleet), ['a']);
  assert.deepEqual(machinesOf({ selector: 'name=a*' }, fleet), ['a']);
  assert.deepEqual(activeMachinesOf({ selector: 'role=web' }, fleet), ['a']);
  assert.deepEqual(machinesOf(null, fleet), [], 'several live machines: no placement is none of them');
  assert.deepEqual(machinesOf(null, [machine('solo')]), ['solo']);
  assert.equal(placementText({ selector: 'role=web' }), 'selector role=web');
  assert.equal(placementText({ machines: ['a', 'b'] }), 'a, b');
});

test('machineMatches: every term must hold; a missing label never equals anything (so "k!=*" means "has no k")', () => {
  const labels = fc.dictionary(fc.constantFrom('role', 'zone', 'env'), fc.constantFrom('web', 'db', 'a', 'b'));
  fc.assert(
    fc.property(labels, fc.constantFrom('role', 'zone', 'env'), fc.constantFrom('web', 'db', 'a', 'b'), (l, key, value) => {
      const m = { name: 'm1', labels: l };
      assert.equal(machineMatches(parseSelector(`${key}=${value}`), m), l[key] === value);
      assert.equal(machineMatches(parseSelector(`${key}!=${value}`), m), l[key] !== value);
      assert.equal(machineMatches(parseSelector(`${key}!=*`), m), !(key in l));
      assert.equal(machineMatches(parseSelector(''), m), true, 'an empty selector matches every machine');
    }),
  );
});

test('strandedBy: a deployed instance whose only active machine is leaving; undeployed ones and ones with another active machine are not', () => {
  const fleet = [machine('a'), machine('b'), machine('c', 'draining')];
  const instances = [
    deployed({ name: 'one', placement: { machines: ['a'] } }),
    deployed({ name: 'two', placement: { machines: ['a', 'b'] } }),
    deployed({ name: 'with-draining', placement: { machines: ['a', 'c'] } }),
    instance({ name: 'idle', placement: { machines: ['a'] } }),
  ];
  assert.deepEqual(strandedBy('a', instances, fleet), ['one', 'with-draining']);
  assert.deepEqual(strandedBy('b', instances, fleet), []);
});

test('changePlacement: a deployed instance may move between machines, but not onto no active machine', () => {
  const fleet = [machine('a'), machine('b'), machine('c', 'draining', { role: 'old' })];
  assert.deepEqual(changePlacement(deployed({ placement: { machines: ['a'] } }), { machines: ['a', 'b'] }, fleet), { ok: true, placement: { machines: ['a', 'b'] } });
  const none = refused(changePlacement(deployed(), { selector: 'role=old' }, fleet));
  assert.equal(none.code, 'INSTANCE_MOVE_UNSUPPORTED');
  assert.match(none.message, /runs 1\.0\.0; selector role=old matches no active machine/);
  assert.deepEqual(changePlacement(instance(), { selector: 'role=nothing' }, fleet), { ok: true, placement: { selector: 'role=nothing' } }, 'an undeployed instance may wait for machines');
});
