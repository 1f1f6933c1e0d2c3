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

function slot(color: Color, deploymentId: string): RoutableSlot {
  return { color, deploymentId, stickyValue: `${color}.${deploymentId}` };
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

  it('keeps a sticky client on its colour during a shift and assigns the others by weight', () => {
    const inst = instance();
    inst.shiftTo = inst.green;
    inst.shiftWeight = 30;
    assert.equal(decide(inst, facts({ sticky: 'green.d2' })).upstream?.color, 'green');
    assert.equal(decide(inst, facts({ sticky: 'blue.d1' })).upstream?.color, 'blue');
    // A sticky value of another deployment is not honoured: the client is assigned again.
    const stale = decide(inst, facts({ sticky: 'green.d0' }));
    assert.equal(stale.assigned, true);
    // A deployment id naming a serving colour picks it.
    const byId = decide(inst, facts({ deployment: 'd2' }));
    assert.equal(byId.upstream?.color, 'green');
    assert.equal(byId.assigned, true);
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
