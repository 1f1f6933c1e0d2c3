import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './test-harness.ts';
import type { Harness } from './test-harness.ts';

async function fleet(h: Harness) {
  await h.release('1.0.0');
  await h.release('1.1.0');
  const sites = [
    ['acme-live', 'production', 'acme'],
    ['acme-test', 'test', 'acme'],
    ['zeta-live', 'production', 'zeta'],
    ['zeta-test', 'test', 'zeta'],
  ] as const;
  for (const [name, environment, tenant] of sites) {
    const res = await h.call('deployer', 'POST', '/api/instances', { name, app: 'shop', hosts: [`${name}.example.test`], environment, tenant, labels: { region: 'eu' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
}

test('an instance targets a version or a channel and shows its resolved target', async () => {
  const h = await startHarness();
  try {
    await fleet(h);
    const bad = await h.call('deployer', 'PUT', '/api/instances/acme-live/target', { target: { version: '7.0.0' } });
    assert.equal(bad.body.code, 'RELEASE_NOT_FOUND');
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/acme-live/target', { target: { channel: 'nightly' } })).body.code, 'CHANNEL_NOT_FOUND');
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/ghost/target', { target: null })).body.code, 'INSTANCE_NOT_FOUND');
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/acme-live/target', { target: { version: '1.0.0', channel: 'beta' } })).status, 400);

    const byVersion = await h.call('deployer', 'PUT', '/api/instances/acme-live/target', { target: { version: '1.0.0' } });
    assert.deepEqual(byVersion.body.resolvedTarget, { kind: 'version', version: '1.0.0', onTarget: false });
    const byChannel = await h.call('deployer', 'PUT', '/api/instances/acme-test/target', { target: { channel: 'beta' } });
    assert.deepEqual(byChannel.body.resolvedTarget, { kind: 'channel', channel: 'beta', version: null, onTarget: false });
    await h.call('deployer', 'POST', '/api/channels/beta/promote', { version: '1.1.0' });
    const shown = await h.call('viewer', 'GET', '/api/instances/acme-test');
    assert.deepEqual(shown.body.resolvedTarget, { kind: 'channel', channel: 'beta', version: '1.1.0', onTarget: false });

    const [entry] = (await h.call('viewer', 'GET', '/api/audit?instance=acme-live&action=instance.target')).body.items;
    assert.deepEqual(entry.before, { target: null });
    assert.deepEqual(entry.after, { target: { version: '1.0.0' } });
  } finally {
    await h.close();
  }
});

test('a bulk retarget previews, applies exactly what was previewed in one transaction, and refuses if the selection changed', async () => {
  const h = await startHarness();
  try {
    await fleet(h);
    const body = { selector: 'environment=test', target: { channel: 'beta' }, reason: 'test sites follow beta' };
    const preview = await h.call('deployer', 'POST', '/api/instances/target', { ...body, dryRun: true });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.applied, false);
    assert.deepEqual(preview.body.changes.map((c: { name: string }) => c.name), ['acme-test', 'zeta-test']);
    assert.equal((await h.call('viewer', 'GET', '/api/instances/acme-test')).body.target, null, 'a preview changes nothing');

    // Something changes between preview and confirmation: refused, nothing applied.
    await h.call('deployer', 'PUT', '/api/instances/zeta-test/target', { target: { version: '1.0.0' } });
    const stale = await h.call('deployer', 'POST', '/api/instances/target', { ...body, confirm: preview.body.selection });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.code, 'SELECTION_CHANGED');
    assert.equal((await h.call('viewer', 'GET', '/api/instances/acme-test')).body.target, null);

    const again = await h.call('deployer', 'POST', '/api/instances/target', { ...body, dryRun: true });
    const applied = await h.call('deployer', 'POST', '/api/instances/target', { ...body, confirm: again.body.selection });
    assert.equal(applied.body.applied, true);
    assert.equal(applied.body.changes.length, 2);
    const tests = (await h.call('viewer', 'GET', '/api/instances?selector=environment%3Dtest')).body.items;
    assert.deepEqual(tests.map((i: { target: unknown }) => i.target), [{ channel: 'beta' }, { channel: 'beta' }]);
    const entries = (await h.call('viewer', 'GET', '/api/audit?action=instance.target')).body.items;
    const bulk = entries.filter((e: { details: { selector?: string } }) => e.details.selector === 'environment=test');
    assert.equal(bulk.length, 2, 'one audit entry per instance');
    assert.equal(bulk[0].requestId, bulk[1].requestId, 'one request');

    // A target that cannot be met for one matched instance refuses the whole change.
    const everything = await h.call('deployer', 'POST', '/api/instances/target', { selector: '*', target: { version: '3.0.0' } });
    assert.equal(everything.body.code, 'RELEASE_NOT_FOUND');
    const bad = await h.call('deployer', 'POST', '/api/instances/target', { selector: 'environment', target: null, dryRun: true });
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
  } finally {
    await h.close();
  }
});

test('instances are listed a page at a time, with or without a selector', async () => {
  const h = await startHarness();
  try {
    await fleet(h);
    const first = (await h.call('viewer', 'GET', '/api/instances?limit=3')).body;
    assert.deepEqual(Object.keys(first), ['items', 'next']);
    assert.deepEqual(first.items.map((i: { name: string }) => i.name), ['acme-live', 'acme-test', 'zeta-live']);
    assert.equal(first.next, 'zeta-live');
    const second = (await h.call('viewer', 'GET', `/api/instances?limit=3&cursor=${first.next}`)).body;
    assert.deepEqual(second.items.map((i: { name: string }) => i.name), ['zeta-test']);
    assert.equal(second.next, null);
    // `after`, the older name of `cursor`, keeps working; both at once is refused, naming cursor.
    assert.deepEqual((await h.call('viewer', 'GET', `/api/instances?limit=3&after=${first.next}`)).body, second);
    const both = await h.call('viewer', 'GET', `/api/instances?limit=3&after=a&cursor=b`);
    assert.equal(both.status, 400);
    assert.match(both.body.message, /after: is the older name of cursor/);
    const live = (await h.call('viewer', 'GET', '/api/instances?limit=1&selector=environment%3Dproduction')).body;
    assert.deepEqual(live.items.map((i: { name: string }) => i.name), ['acme-live']);
    const rest = (await h.call('viewer', 'GET', `/api/instances?limit=1&selector=environment%3Dproduction&cursor=${live.next}`)).body;
    assert.deepEqual(rest.items.map((i: { name: string }) => i.name), ['zeta-live']);
    assert.equal((await h.call('viewer', 'GET', '/api/instances?limit=0')).status, 400);
  } finally {
    await h.close();
  }
});

test('tokens: created once, listed without secrets, revoked at once; the last admin token stays', async () => {
  const h = await startHarness();
  try {
    const created = await h.call('admin', 'POST', '/api/tokens', { name: 'ci', role: 'deployer' });
    assert.equal(created.status, 201);
    assert.match(created.body.token, /^cut_/);
    const listed = (await h.call('admin', 'GET', '/api/tokens')).body.items;
    assert.ok(listed.every((t: Record<string, unknown>) => !('hash' in t) && !('token' in t)));
    assert.equal((await h.call('admin', 'POST', '/api/tokens', { name: 'ci', role: 'viewer' })).body.code, 'TOKEN_EXISTS');
    const useIt = () => h.call(null, 'GET', '/api/releases', undefined, { authorization: `Bearer ${created.body.token}` });
    assert.equal((await useIt()).status, 200);
    assert.equal((await h.call('admin', 'DELETE', '/api/tokens/ci')).status, 200);
    assert.equal((await useIt()).status, 401);
    assert.equal((await h.call('admin', 'DELETE', '/api/tokens/admin')).body.code, 'LAST_ADMIN_TOKEN');
    const audit = JSON.stringify((await h.call('viewer', 'GET', '/api/audit?subject=token:ci')).body.items);
    assert.ok(audit.includes('token.create') && audit.includes('token.revoke'));
    assert.ok(!audit.includes(created.body.token), 'the token never appears in the audit log');
  } finally {
    await h.close();
  }
});

test('every change is audited, filterable, and the chain verifies', async () => {
  const h = await startHarness();
  try {
    await fleet(h);
    await h.call('deployer', 'POST', '/api/channels/beta/promote', { version: '1.1.0' });
    await h.call('deployer', 'POST', '/api/problems', { version: '1.1.0', title: 'slow checkout' });
    const byRelease = (await h.call('viewer', 'GET', '/api/audit?release=1.1.0')).body.items.map((e: { action: string }) => e.action);
    assert.deepEqual(byRelease, ['problem.report', 'channel.promote']);
    assert.deepEqual((await h.call('viewer', 'GET', '/api/audit?release=shop@1.1.0')).body.items.length, 2);
    const byActor = (await h.call('viewer', 'GET', '/api/audit?actor=a-deployer&limit=100')).body.items;
    assert.ok(byActor.length >= 6 && byActor.every((e: { actor: string }) => e.actor === 'a-deployer'));
    const future = (await h.call('viewer', 'GET', '/api/audit?since=2030-01-01T00:00:00Z')).body.items;
    assert.equal(future.length, 0);
    assert.equal((await h.call('viewer', 'GET', '/api/audit?since=yesterday')).status, 400);
    const verify = (await h.call('viewer', 'GET', '/api/audit/verify')).body;
    assert.equal(verify.ok, true);
    assert.equal(verify.checked, 6, JSON.stringify(verify));
  } finally {
    await h.close();
  }
});

test('an instance changes its window, environment, tenant and labels; a bad window names what is wrong and changes nothing', async () => {
  const h = await startHarness();
  try {
    await fleet(h);
    const bad = await h.call('deployer', 'PATCH', '/api/instances/acme-live', { window: 'daily 25:00-04:00 Europe/London' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
    assert.match(bad.body.message, /window/);
    assert.equal((await h.call('deployer', 'PATCH', '/api/instances/acme-live', { window: 'daily 01:00-04:00 Mars/Olympus' })).status, 400);
    assert.equal((await h.call('viewer', 'GET', '/api/instances/acme-live')).body.window, null);

    const ok = await h.call('deployer', 'PATCH', '/api/instances/acme-live', {
      window: 'weekdays 22:00-02:00 America/New_York',
      labels: { host: 'web-3', region: null },
      reason: 'customer asked for nights',
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.window, 'weekdays 22:00-02:00 America/New_York');
    assert.deepEqual(ok.body.labels, { host: 'web-3' });
    const [entry] = (await h.call('viewer', 'GET', '/api/audit?action=instance.update')).body.items;
    assert.equal(entry.before.window, null);
    assert.equal(entry.after.window, 'weekdays 22:00-02:00 America/New_York');
    assert.equal(entry.reason, 'customer asked for nights');
    const cleared = await h.call('deployer', 'PATCH', '/api/instances/acme-live', { window: null });
    assert.equal(cleared.body.window, null, 'null: back to the environment default');
    assert.equal((await h.call('viewer', 'PATCH', '/api/instances/acme-live', { window: null })).status, 403);
  } finally {
    await h.close();
  }
});

test('audit --release V finds every entry that set a target of V, instance creation included', async () => {
  const h = await startHarness();
  try {
    await h.release('1.0.0');
    await h.release('1.1.0');
    const created = await h.call('deployer', 'POST', '/api/instances', {
      name: 'born-targeted',
      app: 'shop',
      hosts: ['born.example.test'],
      environment: 'test',
      target: { version: '1.1.0' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await h.call('deployer', 'POST', '/api/instances', { name: 'later', app: 'shop', hosts: ['later.example.test'], environment: 'test' });
    await h.call('deployer', 'PUT', '/api/instances/later/target', { target: { version: '1.1.0' } });
    const entries = (await h.call('viewer', 'GET', '/api/audit?release=shop@1.1.0')).body.items as { action: string; subject: string }[];
    const targeting = entries.filter((e) => e.action.startsWith('instance.')).map((e) => `${e.action} ${e.subject}`);
    assert.deepEqual(targeting, ['instance.target later', 'instance.create born-targeted']);
  } finally {
    await h.close();
  }
});
