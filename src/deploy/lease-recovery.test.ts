import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentRecord, LeaseHolder, LockRecord } from '../store/index.ts';
import { recoveryVerdict, servesDeployment, slotOf } from './lease-recovery.ts';
import type { RuntimeInstance } from './runtime.ts';

const me: LeaseHolder = { serverId: 'srv_me', replica: 'h/127.0.0.1:7070', pid: 1 };
const d = { id: 'dpl_1', toVersion: '1.1.0', toColor: 'green', updatedAt: 100 } as DeploymentRecord;
const lock = (over: Partial<LockRecord> = {}): LockRecord => ({ instance: 'web', owner: 'a (dpl_1)', deploymentId: 'dpl_1', acquiredAt: 0, expiresAt: 1000, ...over });

test('recoveryVerdict: only a dead holder’s deployment is recovered', () => {
  const peer = { serverId: 'srv_peer', replica: 'h/127.0.0.1:7071', pid: 2 };
  assert.equal(recoveryVerdict(d, lock({ holder: peer }), me, 500, 600).recover, false, 'a live peer');
  assert.deepEqual(recoveryVerdict(d, lock({ holder: peer }), me, 1000, 600), { recover: true, why: 'lease expired' });
  assert.equal(recoveryVerdict(d, lock({ holder: me }), me, 500, 600).recover, false, 'this process runs it');
  assert.deepEqual(recoveryVerdict(d, lock({ holder: me }), me, 5000, 600), { recover: true, why: 'lease expired' }, 'a lease it took and could not act on (never asked for one it runs)');
  assert.deepEqual(recoveryVerdict(d, lock({ holder: { ...me, serverId: 'srv_old' } }), me, 500, 600), {
    recover: true,
    why: 'previous incarnation',
    takeFrom: 'srv_old',
  });
  assert.equal(recoveryVerdict(d, lock({ holder: { ...me, serverId: 'srv_old', replica: null } }), me, 500, 600).recover, false, 'no address: wait for expiry');
  assert.equal(recoveryVerdict(d, lock(), me, 500, 600).recover, false, 'a lease from before holders were kept waits for expiry');
  assert.equal(recoveryVerdict(d, undefined, me, 500, 600).recover, false, 'just released: grace');
  assert.deepEqual(recoveryVerdict(d, undefined, me, 700, 600), { recover: true, why: 'no lease' });
  assert.deepEqual(recoveryVerdict(d, lock({ deploymentId: 'dpl_2' }), me, 700, 600), { recover: true, why: 'no lease' });
});

test('slotOf and servesDeployment: version and deployment id, never the colour alone', () => {
  const seen = (deploymentId: string | undefined, version = '1.1.0', active: 'blue' | 'green' = 'green'): RuntimeInstance => ({
    name: 'web',
    hosts: [],
    active,
    slots: [{ color: 'green', version, state: 'healthy', ...(deploymentId ? { deploymentId } : {}) }],
  });
  assert.equal(servesDeployment(d, seen('dpl_1'), 'dpl_1'), true);
  assert.equal(servesDeployment(d, seen('dpl_other'), 'dpl_1'), false, 'another deployment on the same colour and version');
  assert.equal(servesDeployment(d, seen('dpl_1', '1.0.0'), 'dpl_1'), false, 'another version');
  assert.equal(servesDeployment(d, seen('dpl_1', '1.1.0', 'blue'), 'dpl_1'), false, 'not active');
  assert.equal(servesDeployment(d, seen(undefined), 'dpl_1'), true, 'an agent that does not report ids: the version decides');
  assert.equal(servesDeployment(d, undefined, 'dpl_1'), false);
  assert.ok(slotOf(d, seen('dpl_warm', '1.1.0', 'blue'), 'dpl_warm'), 'a flip to warm: the slot its starter left');
});

test('recoveryVerdict: a holder known dead is taken at once; alive or unknown waits for expiry', () => {
  const peer = { serverId: 'srv_peer', replica: 'h2/127.0.0.1:7071', pid: 2 };
  assert.deepEqual(recoveryVerdict(d, lock({ holder: peer }), me, 500, 600, false), { recover: true, why: 'holder dead', takeFrom: 'srv_peer' });
  assert.equal(recoveryVerdict(d, lock({ holder: peer }), me, 500, 600, true).recover, false);
  assert.equal(recoveryVerdict(d, lock({ holder: peer }), me, 500, 600, undefined).recover, false);
  assert.equal(recoveryVerdict(d, lock({ holder: me }), me, 500, 600, false).recover, false, 'never this process’s own');
  assert.equal(recoveryVerdict(d, lock(), me, 500, 600, false).recover, false, 'no holder recorded: nothing to take from');
});
