import assert from 'node:assert/strict';
import type { DesiredStateRecord } from '../machine-records.ts';
import { entry, instance } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

const doc = (n: number) => ({ machine: 'web-1', instances: [{ name: `i${n}` }] });

const empty = (machine: string): DesiredStateRecord => ({
  machine, number: 0, document: null, digest: null, updatedAt: null, ackedNumber: null, ackedAt: null,
  rejectedNumber: null, rejectedReason: null, rejectedAt: null, reported: null, reportedAt: null,
});

/** Placement (issues 17, 18): an instance's machines, and each machine's numbered desired-state document. */
export function placementContract(withStore: WithStore) {
  withStore("an instance's placement (named machines or a selector) is stored, read back, changed and cleared by a spec change", async (store) => {
    await store.insertInstance(instance('a', { placement: { machines: ['web-1', 'web-2'] } }));
    await store.insertInstance(instance('b'));
    await store.insertInstance(instance('c', { placement: { selector: 'role=web,zone=a' } }));
    assert.deepEqual((await store.getInstance('a'))!.placement, { machines: ['web-1', 'web-2'] });
    assert.equal((await store.getInstance('b'))!.placement, null);
    assert.deepEqual((await store.listInstances()).map((i) => i.placement), [{ machines: ['web-1', 'web-2'] }, null, { selector: 'role=web,zone=a' }]);
    await store.updateInstanceSpecs([{ name: 'b', placement: { selector: 'role=db' } }, { name: 'a', labels: { x: 'y' } }], 50, [entry(50)]);
    assert.deepEqual((await store.getInstance('b'))!.placement, { selector: 'role=db' });
    assert.deepEqual((await store.getInstance('a'))!.placement, { machines: ['web-1', 'web-2'] }, 'a change without the field keeps it');
    await store.updateInstanceSpecs([{ name: 'a', placement: null }, { name: 'c', placement: { machines: ['web-3'] } }], 60, [entry(60)]);
    assert.equal((await store.getInstance('a'))!.placement, null);
    assert.deepEqual((await store.getInstance('c'))!.placement, { machines: ['web-3'] });
    // The deployer's state save never touches the declared placement.
    const b = (await store.getInstance('b'))!;
    await store.saveInstanceState({ ...b, placement: null, currentVersion: '1.0.0', updatedAt: 70 });
    assert.deepEqual((await store.getInstance('b'))!.placement, { selector: 'role=db' });
  });

  withStore('a desired-state number moves up by one from where it is stored, once for racing writers', async (store) => {
    assert.equal(await store.getDesiredState('web-1'), undefined);
    assert.equal(await store.putDesiredDocument('web-1', { number: 2, document: doc(2), digest: 'd2', at: 10 }), false, 'no row: only number 1');
    assert.equal(await store.putDesiredDocument('web-1', { number: 1, document: doc(1), digest: 'd1', at: 10 }), true);
    assert.equal(await store.putDesiredDocument('web-1', { number: 1, document: doc(1), digest: 'd1', at: 11 }), false, 'number 1 is taken');
    assert.equal(await store.putDesiredDocument('web-1', { number: 3, document: doc(3), digest: 'd3', at: 11 }), false, 'no skipping');
    assert.deepEqual(await store.getDesiredState('web-1'), { ...empty('web-1'), number: 1, document: doc(1), digest: 'd1', updatedAt: 10 });
    const race = await Promise.all([1, 2, 3].map((k) => store.putDesiredDocument('web-1', { number: 2, document: doc(10 + k), digest: `r${k}`, at: 20 })));
    assert.equal(race.filter(Boolean).length, 1, JSON.stringify(race));
    assert.equal((await store.getDesiredState('web-1'))!.number, 2);
    const first = await Promise.all([1, 2].map((k) => store.putDesiredDocument('web-2', { number: 1, document: doc(k), digest: `f${k}`, at: 20 })));
    assert.equal(first.filter(Boolean).length, 1, 'two first documents: one wins');
  });

  withStore('answers: an acceptance never lowers ackedNumber; a refusal keeps its reason; a report keeps the document', async (store) => {
    assert.equal(await store.recordDesiredAnswer('web-1', 1, { accepted: true }, 5), undefined, 'no row');
    assert.equal(await store.getDesiredState('web-1'), undefined, 'an answer creates no row');
    await store.putDesiredDocument('web-1', { number: 1, document: doc(1), digest: 'd1', at: 10 });
    await store.putDesiredDocument('web-1', { number: 2, document: doc(2), digest: 'd2', at: 11 });
    let d = await store.recordDesiredAnswer('web-1', 2, { accepted: true }, 20);
    assert.equal(d?.ackedNumber, 2);
    assert.equal(d?.ackedAt, 20);
    d = await store.recordDesiredAnswer('web-1', 1, { accepted: true }, 21);
    assert.equal(d?.ackedNumber, 2, 'a late answer to an older number');
    assert.equal(d?.ackedAt, 20);
    d = await store.recordDesiredAnswer('web-1', 2, { accepted: false, reason: 'stale: holds 7' }, 22);
    assert.deepEqual([d?.rejectedNumber, d?.rejectedReason, d?.rejectedAt], [2, 'stale: holds 7', 22]);
    await store.saveMachineReport('web-1', { instances: [{ name: 'i1', active: 'blue' }] }, 30);
    const after = (await store.getDesiredState('web-1'))!;
    assert.deepEqual(after.reported, { instances: [{ name: 'i1', active: 'blue' }] });
    assert.equal(after.reportedAt, 30);
    assert.deepEqual([after.number, after.document, after.ackedNumber], [2, doc(2), 2]);
    // A report before any document makes the row at number 0, from which number 1 follows.
    await store.saveMachineReport('web-3', { instances: [] }, 40);
    assert.deepEqual(await store.getDesiredState('web-3'), { ...empty('web-3'), reported: { instances: [] }, reportedAt: 40 });
    assert.equal(await store.putDesiredDocument('web-3', { number: 1, document: doc(1), digest: 'd1', at: 41 }), true);
    assert.deepEqual((await store.getDesiredState('web-3'))!.reported, { instances: [] });
  });
}
