import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import { cookieValue } from './cookies.ts';
import { RequestScan } from './headers.ts';
import {
  OUTCOME,
  decideRoute,
  previewDigest,
  queryParam,
  readRoutingFacts,
  RouteDecision,
} from './route-decision.ts';
import type { RoutableInstance, RoutableSlot } from './route-decision.ts';

const GRACE = 60_000;

const VERSION_OF: Record<string, string> = { d0: '0.9.0', d1: '1.0.0', d2: '2.0.0' };

function slot(color: Color, deploymentId: string, version = VERSION_OF[deploymentId] ?? '9.9.9'): RoutableSlot {
  return { color, version, deploymentId, stickyValue: version, legacyStickyValue: `${color}.${deploymentId}` };
}

function instance(overrides: Partial<RoutableInstance<RoutableSlot>> = {}): RoutableInstance<RoutableSlot> {
  const blue = slot('blue', 'd1');
  const green = slot('green', 'd2');
  return {
    active: blue,
    blue,
    green,
    shiftTo: null,
    shiftWeight: 0,
    shiftCredit: 0,
    previous: null,
    flippedAt: 0,
    lastActive: null,
    previewDigest: null,
    stickyCookie: 'cutover_sticky_shop',
    ...overrides,
  };
}

function facts(fields: Partial<RequestScan> = {}): RequestScan {
  return Object.assign(new RequestScan(), fields);
}

function decide(
  inst: RoutableInstance<RoutableSlot>,
  scan: RequestScan,
  clock = new ManualClock(),
  versionOnly = false,
): RouteDecision<RoutableSlot> {
  const out = new RouteDecision<RoutableSlot>();
  decideRoute(inst, scan, clock, GRACE, versionOnly, out);
  return out;
}

describe('decideRoute', () => {
  it('routes to the active colour when nothing else applies', () => {
    const d = decide(instance(), facts());
    assert.equal(d.outcome, OUTCOME.ROUTE);
    assert.equal(d.upstream?.color, 'blue');
    assert.equal(d.reload || d.assigned || d.preview, false);
  });

  it('reports OUTCOME.NO_ACTIVE without an active colour', () => {
    assert.equal(decide(instance({ active: null }), facts()).outcome, OUTCOME.NO_ACTIVE);
  });

  it('sends a right preview token to the idle colour and refuses a wrong one', () => {
    const inst = instance({ previewDigest: previewDigest('a-long-preview-token') });
    const right = decide(inst, facts({ preview: 'a-long-preview-token' }));
    assert.equal(right.upstream?.color, 'green');
    assert.equal(right.preview, true);
    assert.equal(decide(inst, facts({ preview: 'a-long-preview-tokem' })).outcome, OUTCOME.PREVIEW_DENIED);
    assert.equal(decide(inst, facts({ preview: 'x' })).outcome, OUTCOME.PREVIEW_DENIED);
    // A token while previews are closed is refused, never routed.
    assert.equal(
      decide(instance(), facts({ preview: 'a-long-preview-token' })).outcome,
      OUTCOME.PREVIEW_DENIED,
    );
    assert.equal(
      decide({ ...inst, green: null }, facts({ preview: 'a-long-preview-token' })).outcome,
      OUTCOME.NO_PREVIEW_SLOT,
    );
  });

  it('previews the colour that was not last active while none is', () => {
    const inst = instance({
      active: null,
      lastActive: 'green',
      previewDigest: previewDigest('a-long-preview-token'),
    });
    assert.equal(decide(inst, facts({ preview: 'a-long-preview-token' })).upstream?.color, 'blue');
  });

  it('serves the previous colour to its deployment id during the grace, then asks for a reload', () => {
    const clock = new ManualClock();
    const blue = slot('blue', 'd1');
    const green = slot('green', 'd2');
    const inst = instance({ active: green, blue, green, previous: blue, flippedAt: clock.now() });
    clock.advance(GRACE - 1);
    const within = decide(inst, facts({ deployment: 'd1' }), clock);
    assert.equal(within.upstream, blue);
    assert.equal(within.reload, false);
    clock.advance(1);
    const after = decide(inst, facts({ deployment: 'd1' }), clock);
    assert.equal(after.upstream, green);
    assert.equal(after.reload, true);
    // The current id is simply served; an unknown one is told to reload.
    assert.equal(decide(inst, facts({ deployment: 'd2' }), clock).reload, false);
    assert.equal(decide(inst, facts({ deployment: 'zzz' }), clock).reload, true);
    // The version endpoint ignores the id: an old page must learn the new version.
    clock.advance(-10);
    assert.equal(decide(inst, facts({ deployment: 'd1' }), clock, true).upstream, green);
  });

  it('does not serve a colour that was never active, nor a replaced target, to a deployment id', () => {
    const clock = new ManualClock();
    const inst = instance({ flippedAt: clock.now() });
    const d = decide(inst, facts({ deployment: 'd2' }), clock);
    assert.equal(d.upstream?.color, 'blue');
    assert.equal(d.reload, true);
    const blue = slot('blue', 'd1');
    const green = slot('green', 'd2');
    const replaced = instance({
      active: green,
      blue: slot('blue', 'd1'),
      green,
      previous: blue,
      flippedAt: clock.now(),
    });
    assert.equal(decide(replaced, facts({ deployment: 'd1' }), clock).upstream, green);
  });

  it('keeps a sticky client on its version during a shift and assigns the others by weight', () => {
    const inst = instance();
    inst.shiftTo = inst.green;
    inst.shiftWeight = 30;
    const green = decide(inst, facts({ sticky: '2.0.0' }));
    assert.equal(green.upstream?.color, 'green');
    assert.equal(green.assigned, false);
    assert.equal(decide(inst, facts({ sticky: '1.0.0' })).upstream?.color, 'blue');
    // The colour-valued cookie of the version before is still honoured (for one release), and
    // written again with the version.
    for (const [sticky, color] of [['green.d2', 'green'], ['blue.d1', 'blue']]) {
      const legacy = decide(inst, facts({ sticky }));
      assert.equal(legacy.upstream?.color, color);
      assert.equal(legacy.assigned, true);
    }
    // A version no colour holds here, or an old value of another deployment, counts as none: re-stuck.
    for (const sticky of ['0.9.0', 'green.d0', 'green']) {
      assert.equal(decide(inst, facts({ sticky })).assigned, true, sticky);
    }
    // A skew id naming a serving colour, by deployment id or by version, picks it.
    for (const deployment of ['d2', '2.0.0']) {
      const byId = decide(inst, facts({ deployment }));
      assert.equal(byId.upstream?.color, 'green');
      assert.equal(byId.assigned, true);
    }
  });

  it('resolves a version to whichever colour holds it, so a client keeps its version across machines (property)', () => {
    // Machine A holds 1.0.0 in blue and 2.0.0 in green; machine B the same releases the other way round.
    const aBlue = slot('blue', 'd1');
    const aGreen = slot('green', 'd2');
    const bBlue = slot('blue', 'd2');
    const bGreen = slot('green', 'd1');
    const a = instance({ active: aBlue, blue: aBlue, green: aGreen, shiftTo: aGreen, shiftWeight: 50 });
    const b = instance({ active: bGreen, blue: bBlue, green: bGreen, shiftTo: bBlue, shiftWeight: 50 });
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }), (startOnA) => {
        for (const onA of startOnA) {
          const [first, second] = onA ? [a, b] : [b, a];
          const got = decide(first, facts());
          assert.equal(got.assigned, true);
          const version = got.upstream!.version;
          const moved = decide(second, facts({ sticky: got.upstream!.stickyValue }));
          assert.equal(moved.upstream?.version, version);
          assert.equal(moved.assigned, false);
        }
      }),
    );
  });

  it('serves the previous release to its version within the grace, in whichever colour it is', () => {
    const clock = new ManualClock();
    const blue = slot('blue', 'd2');
    const green = slot('green', 'd1');
    const inst = instance({ active: blue, blue, green, previous: green, flippedAt: clock.now() });
    const old = decide(inst, facts({ deployment: '1.0.0' }), clock);
    assert.equal(old.upstream, green);
    assert.equal(old.reload, false);
    assert.equal(decide(inst, facts({ deployment: '2.0.0' }), clock).reload, false);
    assert.equal(decide(inst, facts({ deployment: '0.9.0' }), clock).reload, true);
  });

  it('assigns exactly weight % of new clients over any run (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 500 }), (weight, n) => {
        const inst = instance();
        inst.shiftTo = inst.green;
        inst.shiftWeight = weight;
        let green = 0;
        for (let i = 0; i < n; i++) if (decide(inst, facts()).upstream?.color === 'green') green++;
        // Smooth weighted round robin: never more than one off the exact share.
        assert.ok(Math.abs(green - (n * weight) / 100) < 1, `${green} of ${n} at ${weight}%`);
      }),
    );
  });
});

describe('readRoutingFacts', () => {
  it('reads the deployment id from the header, else the query, else the cookie', () => {
    const scan = facts({ cookie: 'a=1; cutover_dpl=from-cookie; cutover_sticky_shop=green.d2' });
    readRoutingFacts(scan, '/x?y=1&dpl=from%20query#frag', 'cutover_sticky_shop');
    assert.equal(scan.deployment, 'from query');
    assert.equal(scan.sticky, 'green.d2');
    assert.equal(scan.deploymentCookie, 'from-cookie');
    readRoutingFacts(scan, '/x', 'cutover_sticky_shop');
    assert.equal(scan.deployment, 'from-cookie');
    scan.deploymentHeader = 'from-header';
    readRoutingFacts(scan, '/x?dpl=q', 'cutover_sticky_shop');
    assert.equal(scan.deployment, 'from-header');
  });

  it('takes the preview token from the header before the cookie', () => {
    const scan = facts({ cookie: 'cutover_preview=from%2Bcookie' });
    readRoutingFacts(scan, '/', 'cutover_sticky_shop');
    assert.equal(scan.preview, 'from+cookie');
    assert.equal(scan.previewFromCookie, true);
    scan.previewHeader = 'from-header';
    readRoutingFacts(scan, '/', 'cutover_sticky_shop');
    assert.equal(scan.preview, 'from-header');
    assert.equal(scan.previewFromCookie, false);
  });

  it('leaves everything empty for a plain request', () => {
    const scan = facts({ cookie: 'session=abc' });
    readRoutingFacts(scan, '/plain?dplx=1&xdpl=2', 'cutover_sticky_shop');
    assert.deepEqual([scan.preview, scan.sticky, scan.deployment, scan.deploymentCookie], ['', '', '', '']);
  });
});

describe('cookieValue and queryParam', () => {
  it('matches whole names only', () => {
    assert.equal(cookieValue('xcutover_dpl=1; cutover_dpl=2', 'cutover_dpl'), '2');
    assert.equal(cookieValue('cutover_dpl=1;cutover_dplx=2', 'cutover_dplx'), '2');
    assert.equal(cookieValue('cutover_dplx=2', 'cutover_dpl'), '');
    assert.equal(cookieValue('a=1; cutover_dpl= v ', 'cutover_dpl'), 'v');
    assert.equal(queryParam('/p?token=a%2Fb&x=1', 'token'), 'a/b');
    assert.equal(queryParam('/p?mytoken=a', 'token'), '');
    assert.equal(queryParam('/p', 'token'), '');
  });
});
