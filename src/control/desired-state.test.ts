import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock, canonicalJson } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import type { DesiredStateRecord, InstanceRecord, SlotRecord } from '../store/index.ts';
import { desiredDigest, desiredStateOf, driftOf, driftText, nextDesiredNumber } from './desired-state.ts';
import type { DesiredInput } from './desired-state.ts';
import { nextDesiredState, recordDesiredAnswer, recordMachineReport } from './machine-desired.ts';
import { createJoinToken } from './join-tokens.ts';
import { joinMachine, setMachineStatus } from './machines.ts';

const D = (v: string) => `sha256:${v.replace(/\D/g, '').padEnd(64, '0')}`;
const slot = (version: string, status: SlotRecord['status']): SlotRecord => ({ version, status, deploymentId: `d-${version}` });
const input = (name: string, over: Partial<DesiredInput['instance']> = {}, maintenance = false): DesiredInput => ({
  instance: { name, hosts: [`${name}.test`], activeColor: null, slots: { blue: null, green: null }, ...over },
  digests: { '1.0.0': D('1.0.0'), '1.1.0': D('1.1.0') },
  maintenance,
});

test('desiredStateOf: live is the active colour’s live slot, warm the other colour’s warm slot, with their digests', () => {
  const doc = desiredStateOf('web-1', [
    input('b', { activeColor: 'green', slots: { blue: slot('1.0.0', 'warm'), green: slot('1.1.0', 'live') } }, true),
    input('a'),
  ]);
  assert.deepEqual(doc, {
    machine: 'web-1',
    instances: [
      { name: 'a', hosts: ['a.test'], live: null, warm: null, maintenance: false },
      { name: 'b', hosts: ['b.test'], live: { version: '1.1.0', digest: D('1.1.0'), color: 'green' }, warm: { version: '1.0.0', digest: D('1.0.0'), color: 'blue' }, maintenance: true },
    ],
    draining: false,
  });
});

test('desiredStateOf: a draining machine says so in its document, and that is another document', () => {
  const inputs = [input('a', { activeColor: 'blue', slots: { blue: slot('1.0.0', 'live'), green: null } })];
  const draining = desiredStateOf('web-1', inputs, true);
  assert.equal(draining.draining, true);
  assert.equal(desiredStateOf('web-1', inputs).draining, false);
  assert.notEqual(desiredDigest(draining), desiredDigest(desiredStateOf('web-1', inputs, false)));
});

test('desiredStateOf: a starting, stopped or failed slot is neither live nor warm; an unknown digest leaves the slot out', () => {
  const starting = desiredStateOf('m', [input('a', { activeColor: 'blue', slots: { blue: slot('1.0.0', 'live'), green: slot('1.1.0', 'starting') } })]);
  assert.equal(starting.instances[0]!.warm, null);
  const stopped = desiredStateOf('m', [input('a', { activeColor: 'blue', slots: { blue: slot('1.0.0', 'stopped'), green: slot('1.1.0', 'failed') } })]);
  assert.deepEqual([stopped.instances[0]!.live, stopped.instances[0]!.warm], [null, null]);
  const unknown = desiredStateOf('m', [input('a', { activeColor: 'blue', slots: { blue: slot('9.9.9', 'live'), green: null } })]);
  assert.equal(unknown.instances[0]!.live, null);
});

const colorArb = fc.constantFrom<Color>('blue', 'green');
const slotArb = fc.option(fc.record({ version: fc.constantFrom('1.0.0', '1.1.0'), status: fc.constantFrom<SlotRecord['status']>('starting', 'live', 'warm', 'stopped'), deploymentId: fc.constant('d') }), { nil: null });
const inputArb = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'd'),
  hosts: fc.uniqueArray(fc.constantFrom('x.test', 'y.test', 'z.test'), { minLength: 1 }),
  activeColor: fc.option(colorArb, { nil: null }),
  blue: slotArb,
  green: slotArb,
  maintenance: fc.boolean(),
});
const inputsArb = fc.uniqueArray(inputArb, { selector: (i) => i.name, maxLength: 4 }).map((list) =>
  list.map((i): DesiredInput => ({ ...input(i.name, { hosts: i.hosts, activeColor: i.activeColor, slots: { blue: i.blue, green: i.green } }), maintenance: i.maintenance })),
);

test('property: the document is canonical: the order instances and hosts come in does not change it', () => {
  fc.assert(
    fc.property(inputsArb, fc.integer(), (inputs, seed) => {
      const shuffled = [...inputs].sort(() => (seed % 3) - 1).map((i) => ({ ...i, instance: { ...i.instance, hosts: [...i.instance.hosts].reverse() } }));
      assert.equal(desiredDigest(desiredStateOf('m', shuffled)), desiredDigest(desiredStateOf('m', inputs)));
    }),
  );
});

test('property: the number goes up by one iff the canonical document changed', () => {
  fc.assert(
    fc.property(fc.array(inputsArb, { minLength: 1, maxLength: 8 }), (states) => {
      let stored: Pick<DesiredStateRecord, 'number' | 'digest'> | undefined;
      let previous: string | undefined;
      for (const inputs of states) {
        const doc = desiredStateOf('m', inputs);
        const { number, changed } = nextDesiredNumber(stored, desiredDigest(doc));
        const differs = canonicalJson(doc) !== previous;
        assert.equal(changed, differs);
        assert.equal(number, (stored?.number ?? 0) + (differs ? 1 : 0));
        if (changed) stored = { number, digest: desiredDigest(doc) };
        previous = canonicalJson(doc);
      }
    }),
  );
});

test('nextDesiredState: a machine put to draining gets a new number whose document says draining', async () => {
  const store = createMemoryStore();
  const deps = { store, clock: new ManualClock(1000) };
  const admin = { actor: 'admin', requestId: null };
  const { token } = await createJoinToken({ ...deps, serverUrls: ['http://127.0.0.1:7070'] }, { expires: '1h' }, admin);
  await joinMachine(deps, { token, name: 'web-1', labels: {}, agentVersion: '0.0.0', protocolVersion: 1 }, '127.0.0.1');
  const active = await nextDesiredState(deps, 'web-1');
  assert.equal(active.document.draining, false);
  await setMachineStatus(deps, 'web-1', 'draining', admin);
  const draining = await nextDesiredState(deps, 'web-1');
  assert.deepEqual([draining.number, draining.document.draining], [active.number + 1, true]);
});

const record = (over: Partial<DesiredStateRecord>): DesiredStateRecord => ({
  machine: 'web-1', number: 3, document: desiredStateOf('web-1', [input('a', { activeColor: 'blue', slots: { blue: slot('1.0.0', 'live'), green: null } })]) as never,
  digest: 'x', updatedAt: 1, ackedNumber: 3, ackedAt: 10, rejectedNumber: null, rejectedReason: null, rejectedAt: null, reported: null, reportedAt: null, ...over,
});
const report = (active: Color | null, version = '1.0.0') => ({ instances: [{ name: 'a', active, slots: active ? [{ color: active, version }] : [] }] });

test('driftOf: none before any document, and when acknowledged and reported as desired', () => {
  assert.deepEqual(driftOf(undefined), { state: 'none' });
  assert.deepEqual(driftOf(record({ number: 0, document: null, reported: report('green') })), { state: 'none' }, 'a report alone is no drift');
  assert.deepEqual(driftOf(record({})), { state: 'none' });
  assert.deepEqual(driftOf(record({ reported: report('blue'), reportedAt: 20 })), { state: 'none' });
});

test('driftOf: pending until the current number is acknowledged; rejected with the reason', () => {
  assert.deepEqual(driftOf(record({ ackedNumber: null, ackedAt: null })), { state: 'pending', number: 3, ackedNumber: null });
  assert.deepEqual(driftOf(record({ ackedNumber: 2 })), { state: 'pending', number: 3, ackedNumber: 2 });
  assert.deepEqual(driftOf(record({ ackedNumber: 2, rejectedNumber: 3, rejectedReason: 'stale: holds 9' })), { state: 'rejected', number: 3, reason: 'stale: holds 9' });
  assert.deepEqual(driftOf(record({ rejectedNumber: 2, rejectedReason: 'old' })), { state: 'none' }, 'a refusal of an older number is over');
});

test('driftOf: differs when a report made after the acknowledgement serves another version or colour, or nothing', () => {
  assert.deepEqual(driftOf(record({ reported: report('green'), reportedAt: 20 })), {
    state: 'differs', number: 3, differences: ['a: live 1.0.0 (blue), the agent serves 1.0.0 (green)'],
  });
  assert.deepEqual(driftOf(record({ reported: report('blue', '0.9.0'), reportedAt: 20 })).state, 'differs');
  assert.deepEqual(driftOf(record({ reported: { instances: [] }, reportedAt: 20 })).state, 'differs');
  assert.deepEqual(driftOf(record({ reported: report('green'), reportedAt: 5 })), { state: 'none' }, 'a report from before the acknowledgement is not compared');
});

test('driftText: one line per state', () => {
  assert.equal(driftText({ state: 'none' }), 'none');
  assert.equal(driftText({ state: 'pending', number: 3, ackedNumber: null }), 'pending (3, acked none)');
  assert.equal(driftText({ state: 'rejected', number: 3, reason: 'stale: holds 9' }), 'rejected: stale: holds 9');
  assert.equal(driftText({ state: 'differs', number: 3, differences: ['a: x', 'b: y'] }), 'differs: a: x (+1 more)');
});

const storedInstance = (name: string, machine: string | null, over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  name, app: 'shop', hosts: [`${name}.test`], environment: 'production', tenant: null, labels: {}, target: null, window: null,
  placement: machine === null ? null : { machines: [machine] }, currentVersion: null, activeColor: null, slots: { blue: null, green: null }, createdAt: 0, updatedAt: 0, ...over,
});

test('nextDesiredState: numbers a changed document once, resends an unchanged one, reads digests and maintenance from the records', async () => {
  const store = createMemoryStore();
  const deps = { store, clock: new ManualClock(1000) };
  await store.insertRelease({ app: 'shop', version: '1.0.0', digest: 'spec', spec: { artifact: { digest: D('1.0.0') } }, createdAt: 0, createdBy: 'ci' });
  await store.insertInstance(storedInstance('a', 'web-1', { activeColor: 'blue', currentVersion: '1.0.0', slots: { blue: slot('1.0.0', 'live'), green: null } }));
  await store.insertInstance(storedInstance('elsewhere', 'web-2'));
  const first = await nextDesiredState(deps, 'web-1');
  assert.equal(first.number, 1);
  assert.deepEqual(first.document.instances.map((i) => [i.name, i.live?.digest, i.maintenance]), [['a', D('1.0.0'), false]]);
  assert.equal((await nextDesiredState(deps, 'web-1')).number, 1, 'unchanged: the same number again');
  await store.appendAudit({ at: 1, actor: 'x', action: 'instance.maintenance.on', subject: 'a', instance: 'a' });
  const second = await nextDesiredState(deps, 'web-1');
  assert.equal(second.number, 2);
  assert.equal(second.document.instances[0]!.maintenance, true);
  await store.appendAudit({ at: 2, actor: 'x', action: 'instance.maintenance.off', subject: 'a', instance: 'a' });
  assert.equal((await nextDesiredState(deps, 'web-1')).number, 3);
  assert.equal((await store.getDesiredState('web-1'))!.updatedAt, 1000);

  // Answers and reports, as the transport records them.
  assert.deepEqual(driftOf(await store.getDesiredState('web-1')), { state: 'pending', number: 3, ackedNumber: null });
  await recordDesiredAnswer(deps, 'web-1', 3, { accepted: true });
  deps.clock.advance(10);
  await recordMachineReport(deps, 'web-1', { instances: [{ name: 'a', active: 'blue', slots: [{ color: 'blue', version: '1.0.0', state: 'healthy' } as never] }] });
  const stored = (await store.getDesiredState('web-1'))!;
  assert.deepEqual(stored.reported, { instances: [{ name: 'a', active: 'blue', slots: [{ color: 'blue', version: '1.0.0' }] }] }, 'only what drift compares is kept');
  assert.deepEqual(driftOf(stored), { state: 'none' });
  await recordDesiredAnswer(deps, 'web-1', 3, { accepted: false, reason: 'stale: holds 4' });
  assert.equal(driftText(driftOf(await store.getDesiredState('web-1'))), 'rejected: stale: holds 4');
});

test('property (service): over random changes of the records, the stored number goes up iff the document changed', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(inputsArb, { minLength: 1, maxLength: 5 }), async (states) => {
      const store = createMemoryStore();
      const deps = { store, clock: new ManualClock(0) };
      for (const v of ['1.0.0', '1.1.0']) await store.insertRelease({ app: 'shop', version: v, digest: v, spec: { artifact: { digest: D(v) } }, createdAt: 0, createdBy: 'ci' });
      let previous: { number: number; json: string } | undefined;
      for (const inputs of states) {
        for (const i of await store.listInstances()) await store.deleteInstance(i.name, { at: 0, actor: 't', action: 'instance.delete', subject: i.name });
        for (const i of inputs) {
          await store.insertInstance(storedInstance(i.instance.name, 'm', { hosts: i.instance.hosts, activeColor: i.instance.activeColor, slots: i.instance.slots }));
          if (i.maintenance) await store.appendAudit({ at: 0, actor: 't', action: 'instance.maintenance.on', subject: i.instance.name, instance: i.instance.name });
        }
        const next = await nextDesiredState(deps, 'm');
        const json = canonicalJson(next.document);
        assert.equal(next.number, (previous?.number ?? 0) + (json === previous?.json ? 0 : 1));
        previous = { number: next.number, json };
      }
    }),
    { numRuns: 40 },
  );
});
