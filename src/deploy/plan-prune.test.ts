import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planPrune } from './plan-prune.ts';

const art = (digest: string, inUse = false, size = 10) => ({ digest, size, inUse });

test('keeps what slots use, live or warm, and the last n releases of each instance; removes the rest', () => {
  const plan = planPrune({
    artifacts: [art('a'), art('b'), art('c'), art('d'), art('e', true), art('f'), art('g', false, 7)],
    slots: [{ instance: 'web', digests: ['a', 'b'] }],
    history: [
      { instance: 'web', digests: ['a', 'b', 'b', 'c', 'd', 'f'] },
      { instance: 'api', digests: [] },
    ],
    keepPerInstance: 3,
  });
  assert.deepEqual(
    plan.keep.map((k) => [k.digest, k.why]),
    [
      ['a', ['live or warm on web', 'recent release of web']],
      ['b', ['live or warm on web', 'recent release of web']],
      ['c', ['recent release of web']],
      ['e', ['in use on the agent']],
    ],
  );
  assert.deepEqual(plan.remove.map((r) => r.digest), ['d', 'f', 'g']);
  assert.equal(plan.freedBytes, 27);
});

test('keepPerInstance 0 keeps only what slots use; nothing on the agent, nothing to do', () => {
  const plan = planPrune({ artifacts: [art('a'), art('b')], slots: [{ instance: 'w', digests: ['b'] }], history: [{ instance: 'w', digests: ['a'] }], keepPerInstance: 0 });
  assert.deepEqual(plan.remove.map((r) => r.digest), ['a']);
  assert.deepEqual(planPrune({ artifacts: [], slots: [], history: [], keepPerInstance: 3 }), { keep: [], remove: [], freedBytes: 0 });
});

test('never removes an artifact a slot uses, and every artifact is either kept or removed', () => {
  const digest = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ digest, size: fc.nat(1000), inUse: fc.boolean() }), { selector: (a) => a.digest }),
      fc.array(fc.record({ instance: fc.constantFrom('x', 'y'), digests: fc.array(digest, { maxLength: 2 }) })),
      fc.array(fc.record({ instance: fc.constantFrom('x', 'y'), digests: fc.array(digest, { maxLength: 8 }) })),
      fc.nat(5),
      (artifacts, slots, history, keepPerInstance) => {
        const plan = planPrune({ artifacts, slots, history, keepPerInstance });
        const removed = new Set(plan.remove.map((r) => r.digest));
        for (const a of artifacts) if (a.inUse) assert.ok(!removed.has(a.digest));
        for (const s of slots) for (const d of s.digests) assert.ok(!removed.has(d));
        for (const h of history) for (const d of [...new Set(h.digests)].slice(0, keepPerInstance)) assert.ok(!removed.has(d));
        assert.equal(plan.keep.length + plan.remove.length, artifacts.length);
      },
    ),
  );
});
