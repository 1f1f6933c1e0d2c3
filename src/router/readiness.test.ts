import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decideReady } from './readiness.ts';
import type { InstanceExpectation, MachineExpectation } from './readiness.ts';

const expect = (instances: Record<string, InstanceExpectation>, draining = false): MachineExpectation => ({
  draining,
  instances: new Map(Object.entries(instances)),
});
const live = (version: string | null, flippedSince = false): InstanceExpectation => ({ live: version, flippedSince });

describe('decideReady', () => {
  it('is ready when the active colour serves the live release of the document', () => {
    assert.deepEqual(decideReady(expect({ shop: live('2.0.0') }), 'shop', '2.0.0'), { ready: true, instance: 'shop', version: '2.0.0' });
  });

  it('is not ready while the live release is not served yet, naming both versions', () => {
    assert.deepEqual(decideReady(expect({ shop: live('2.0.0') }), 'shop', '1.0.0'), {
      ready: false,
      instance: 'shop',
      reason: 'live-not-served',
      live: '2.0.0',
      serving: '1.0.0',
    });
    assert.deepEqual(decideReady(expect({ shop: live(null) }), 'shop', '1.0.0'), {
      ready: false,
      instance: 'shop',
      reason: 'no-live-release',
      serving: '1.0.0',
    });
  });

  it('trusts what serves after a flip newer than the document', () => {
    assert.deepEqual(decideReady(expect({ shop: live('1.0.0', true) }), 'shop', '2.0.0'), { ready: true, instance: 'shop', version: '2.0.0' });
    assert.deepEqual(decideReady(expect({ shop: live(null, true) }), 'shop', '2.0.0'), { ready: true, instance: 'shop', version: '2.0.0' });
    assert.equal(decideReady(expect({ shop: live('2.0.0', true) }), 'shop', null).ready, false, 'but something must serve');
  });

  it('is not ready without an active colour, with a document or without one', () => {
    assert.deepEqual(decideReady(null, 'shop', null), { ready: false, instance: 'shop', reason: 'no-active-slot' });
    assert.deepEqual(decideReady(expect({ shop: live('1.0.0') }), 'shop', null), { ready: false, instance: 'shop', reason: 'no-active-slot' });
  });

  it('without any document (a router on its own), an active colour is ready', () => {
    assert.deepEqual(decideReady(null, 'shop', '1.0.0'), { ready: true, instance: 'shop', version: '1.0.0' });
  });

  it('an instance the document does not list is being removed', () => {
    assert.deepEqual(decideReady(expect({ other: live('1.0.0') }), 'shop', '1.0.0'), { ready: false, instance: 'shop', reason: 'removing' });
  });

  it('nothing is ready on a draining machine, whatever it serves (property)', () => {
    fc.assert(
      fc.property(
        fc.option(fc.constantFrom('1.0.0', '2.0.0'), { nil: null }),
        fc.option(fc.constantFrom('1.0.0', '2.0.0'), { nil: null }),
        fc.boolean(),
        fc.boolean(),
        (serving, liveVersion, flippedSince, listed) => {
          const answer = decideReady(expect(listed ? { shop: live(liveVersion, flippedSince) } : {}, true), 'shop', serving);
          assert.deepEqual(answer, { ready: false, instance: 'shop', reason: 'draining' });
        },
      ),
    );
  });

  it('ready always names the version served, and never a version other than the live one unless a flip came since (property)', () => {
    fc.assert(
      fc.property(
        fc.option(fc.constantFrom('1.0.0', '2.0.0'), { nil: null }),
        fc.option(fc.constantFrom('1.0.0', '2.0.0'), { nil: null }),
        fc.boolean(),
        (serving, liveVersion, flippedSince) => {
          const answer = decideReady(expect({ shop: live(liveVersion, flippedSince) }), 'shop', serving);
          if (!answer.ready) return;
          assert.equal(answer.version, serving);
          if (!flippedSince) assert.equal(serving, liveVersion);
        },
      ),
    );
  });
});
