import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, encodeFrame, frameSchema } from './frames.ts';
import { MESSAGE_NAMES, MESSAGES, idempotencyKey, specOf, timeoutOf, undoneBy } from './messages.ts';
import { protocolAccepted } from './version.ts';

test('a request survives its call frame: a slot start and a log follow come out as they went in, checked by their schemas', () => {
  const start = {
    instance: 'web shop',
    color: 'green' as const,
    version: '1.0.0',
    digest: `sha256:${'a'.repeat(64)}`,
    start: 'node s.js',
    env: { A: 'é' },
    health: { path: '/', intervalMs: 1, timeoutMs: 1, healthyThreshold: 1, unhealthyThreshold: 1 },
    stopTimeoutMs: 1,
    deploymentId: 'd1',
  };
  for (const [m, request] of [['slot.start', start], ['instance.logs', { instance: 'web', color: 'blue', tail: 20, follow: true }]] as const) {
    const [frame] = new FrameDecoder().push(encodeFrame({ t: 'call', id: 7, m, timeoutMs: 1000, request }));
    assert.ok(frame?.t === 'call');
    assert.deepEqual(specOf(m).request.parse(frame.request), request);
  }
  // Every message has a name a call frame accepts.
  for (const m of MESSAGE_NAMES) assert.equal(frameSchema.safeParse({ t: 'call', id: 1, m, timeoutMs: 1, request: {} }).success, true, m);
});

test('idempotency: reads have no key; a repeat of a change has the same key, another change another one', () => {
  for (const name of MESSAGE_NAMES) {
    const i = specOf(name).idempotency;
    if ((name.startsWith('agent.') && name !== 'agent.local.ack') || name.endsWith('.describe') || name.endsWith('.stats') || name === 'instance.logs') {
      assert.equal(i.kind, 'read', name);
    }
  }
  assert.equal(idempotencyKey('instance.describe', { instance: 'web' }), undefined);
  assert.equal(idempotencyKey('instance.flip', { instance: 'web', color: 'blue' }), 'instance.flip web blue');
  assert.equal(idempotencyKey('instance.flip', { instance: 'web', color: 'blue', reason: 'rollback' }), 'instance.flip web blue');
  assert.notEqual(idempotencyKey('instance.flip', { instance: 'web', color: 'green' }), 'instance.flip web blue');
  const spec = {
    instance: 'web',
    color: 'blue' as const,
    version: '1',
    digest: 'sha256:x',
    start: 's',
    env: {},
    health: { path: '/', intervalMs: 1, timeoutMs: 1, healthyThreshold: 1, unhealthyThreshold: 1 },
    stopTimeoutMs: 1,
    deploymentId: 'd1',
  };
  assert.equal(specOf('slot.start').idempotency.kind, 'once');
  assert.equal(idempotencyKey('slot.start', spec), 'slot.start web/blue d1');
  assert.notEqual(idempotencyKey('slot.start', { ...spec, deploymentId: 'd2' }), idempotencyKey('slot.start', spec));
  // Acknowledging the same local rollbacks in another order is the same end state.
  assert.equal(specOf('agent.local.ack').idempotency.kind, 'converge');
  assert.equal(idempotencyKey('agent.local.ack', { ids: ['b', 'a'] }), idempotencyKey('agent.local.ack', { ids: ['a', 'b'] }));
  // The preview token is a secret: its key says only whether one is set.
  assert.equal(idempotencyKey('instance.preview', { instance: 'web', token: 'a-secret-token-of-16+' }), 'instance.preview web on');
});

test('timeouts: long for stops and uploads, a wait gets its own timeout plus a margin', () => {
  assert.equal(timeoutOf('instance.describe', { instance: 'web' }), 30_000);
  assert.equal(timeoutOf('slot.stop', { instance: 'web', color: 'blue' }), 600_000);
  assert.equal(timeoutOf('artifact.put', { digest: 'sha256:x' }), 300_000);
  assert.equal(timeoutOf('slot.wait', { instance: 'web', color: 'blue', timeoutMs: 5000 }), 15_000);
});

test('requests are checked: a bad colour, a percent out of range, a short preview token', () => {
  assert.equal(MESSAGES['slot.stop'].request.safeParse({ instance: 'web', color: 'red' }).success, false);
  assert.equal(MESSAGES['instance.shift'].request.safeParse({ instance: 'web', color: 'blue', percent: 100 }).success, false);
  assert.equal(MESSAGES['instance.preview'].request.safeParse({ instance: 'web', token: 'short' }).success, false);
  assert.equal(MESSAGES['instance.maintenance.on'].request.safeParse({ instance: 'web', colour: 'x' }).success, false, 'maintenance is strict: it is persisted');
  // Unknown fields of other requests are dropped, so a newer server can talk to an older agent.
  assert.deepEqual(MESSAGES['instance.put'].request.parse({ instance: 'web', hosts: ['a'], later: 1 }), { instance: 'web', hosts: ['a'] });
});

test('a server accepts agents of its protocol version and the one before, and names both otherwise', () => {
  assert.deepEqual(protocolAccepted(3, 3), { ok: true, outdated: false });
  assert.deepEqual(protocolAccepted(3, 2), { ok: true, outdated: true });
  const old = protocolAccepted(3, 1);
  assert.equal(old.ok, false);
  assert.match(!old.ok ? old.reason : '', /agent speaks protocol 1, this server 3 .*upgrade the agent/);
  const newer = protocolAccepted(3, 4);
  assert.match(!newer.ok ? newer.reason : '', /upgrade the server/);
});

test('a slot stopped, or its instance removed, undoes the starts of that slot (their keys), not another slot’s', () => {
  const start = (color: 'blue' | 'green') => idempotencyKey('slot.start', { instance: 'shop', color, deploymentId: 'dpl_1' } as never)!;
  const stop = undoneBy('slot.stop', { instance: 'shop', color: 'green' })!;
  assert.equal(stop.message, 'slot.start');
  assert.ok(start('green').startsWith(stop.keyPrefix), `${start('green')} under ${stop.keyPrefix}`);
  assert.ok(!start('blue').startsWith(stop.keyPrefix));
  assert.ok(!idempotencyKey('slot.start', { instance: 'shop2', color: 'green', deploymentId: 'd' } as never)!.startsWith(stop.keyPrefix), 'nor another instance’s');
  const removed = undoneBy('instance.remove', { instance: 'shop' })!;
  for (const color of ['blue', 'green'] as const) assert.ok(start(color).startsWith(removed.keyPrefix));
  assert.equal(undoneBy('slot.wait', { instance: 'shop', color: 'green', timeoutMs: 1 }), undefined);
});
