import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyCheck, newKey } from '../appconfig/index.ts';
import { ManualClock, isCutoverError } from '../shared/index.ts';
import type { Actor } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import type { InstanceRecord } from '../store/index.ts';
import { diffAppConfig, pruneAppConfigVersions, rotateSecretKey, setAppConfig, showAppConfig, unsetAppConfig } from './app-config.ts';

const SECRET = 'postgres://shop:planted-9d1e@db/shop';
const alice: Actor = { actor: 'alice', requestId: null };

const acme: InstanceRecord = {
  name: 'acme-live', app: 'shop', hosts: ['acme.test'], environment: 'production', tenant: null, labels: {}, target: null, window: null,
  placement: null, currentVersion: '1.0.0', activeColor: 'blue', slots: { blue: null, green: null }, createdAt: 0, updatedAt: 0,
};

async function setup() {
  const store = createMemoryStore();
  await store.insertInstance(acme);
  await store.insertRelease({ app: 'shop', version: '1.0.0', digest: 'd', spec: { env: { LOG_LEVEL: 'info', CURRENCY: 'USD' } }, createdAt: 0, createdBy: 'ci' });
  let ring = new Map([['k1', newKey()]]);
  const deps = { store, clock: new ManualClock(1000), keyRing: () => ring };
  return { store, deps, setRing: (r: Map<string, Buffer>) => (ring = r), ring: () => ring };
}

test('set, secret set, show and diff: layers named, secrets only as fingerprints, every change audited with before → after', async () => {
  const { store, deps } = await setup();
  assert.equal((await setAppConfig(deps, { environment: 'production', key: 'LOG_LEVEL', value: 'warn' }, false, alice)).version, 1);
  await setAppConfig(deps, { instance: 'acme-live', key: 'CURRENCY', value: 'EUR' }, false, alice);
  const secret = await setAppConfig(deps, { instance: 'acme-live', key: 'DATABASE_URL', value: SECRET }, true, alice);
  assert.match(secret.after!, /^secret [0-9a-f]{12}$/);
  const shown = await showAppConfig(deps, 'acme-live');
  assert.equal(shown.version, 3);
  assert.deepEqual(shown.entries.map((e) => [e.key, e.layer, e.value]), [
    ['CURRENCY', 'instance acme-live', 'EUR'],
    ['DATABASE_URL', 'instance acme-live', null],
    ['LOG_LEVEL', 'environment production', 'warn'],
  ]);
  const diff = await diffAppConfig(deps, 'acme-live', 1);
  assert.deepEqual(diff.changes.map((c) => [c.key, c.change]), [['CURRENCY', 'changed'], ['DATABASE_URL', 'added']]);
  await unsetAppConfig(deps, { environment: 'production', key: 'LOG_LEVEL' }, false, alice);
  const audit = await store.listAudit();
  assert.deepEqual(audit.map((a) => a.action), ['app-config.unset', 'secret.set', 'app-config.set', 'app-config.set']);
  assert.deepEqual([audit[0]!.before, audit[0]!.after, audit[0]!.details.layer], ['warn', null, 'environment production']);
  assert.equal(audit[1]!.instance, 'acme-live');
  const everything = JSON.stringify({ audit, shown, diff, versions: await store.listAppConfigVersions() });
  assert.ok(!everything.includes('planted-9d1e'), 'the secret is in no answer, entry or stored version');
});

test('bad input changes nothing: no layer, an unknown instance, a reserved key, plain over secret, the wrong unset', async () => {
  const { store, deps } = await setup();
  await setAppConfig(deps, { instance: 'acme-live', key: 'DATABASE_URL', value: SECRET }, true, alice);
  const refusals: [Promise<unknown>, RegExp][] = [
    [setAppConfig(deps, { key: 'A', value: 'x' }, false, alice), /--app, --environment, both, or --instance/],
    [setAppConfig(deps, { instance: 'nope', key: 'A', value: 'x' }, false, alice), /nope/],
    [setAppConfig(deps, { app: 'shop', key: 'PORT', value: '1' }, false, alice), /reserved/],
    [setAppConfig(deps, { app: 'shop', key: 'DATABASE_URL', value: 'x' }, false, alice), /secret at instance acme-live/],
    [setAppConfig(deps, { app: 'shop', key: 'DSN', value: 'mysql://u:p4ss@h/db' }, false, alice), /secret set/],
    [unsetAppConfig(deps, { instance: 'acme-live', key: 'DATABASE_URL' }, false, alice), /secret unset/],
    [unsetAppConfig(deps, { app: 'shop', key: 'NOPE' }, false, alice), /not set at app shop/],
  ];
  for (const [p, message] of refusals) await assert.rejects(p, (e) => isCutoverError(e) && message.test(e.message) && !e.message.includes('p4ss'));
  assert.equal((await store.listAppConfigVersions()).length, 1);
  assert.equal((await store.listAudit()).length, 1);
});

test('a wrong key file is found by its check value; a missing key refuses only secrets; rotation re-seals in one go', async () => {
  const { store, deps, setRing, ring } = await setup();
  await setAppConfig(deps, { instance: 'acme-live', key: 'DATABASE_URL', value: SECRET }, true, alice);
  const k1 = ring().get('k1')!;
  setRing(new Map([['k1', newKey()]]));
  await assert.rejects(setAppConfig(deps, { instance: 'acme-live', key: 'T', value: 'x' }, true, alice), (e) => isCutoverError(e) && e.code === 'SECRET_KEY_INVALID' && e.message.includes('k1'));
  setRing(new Map());
  await setAppConfig(deps, { instance: 'acme-live', key: 'PLAIN', value: 'ok' }, false, alice);
  await assert.rejects(setAppConfig(deps, { instance: 'acme-live', key: 'T', value: 'x' }, true, alice), (e) => isCutoverError(e) && e.code === 'SECRET_KEY_MISSING' && e.message.includes('k1'));
  const k2 = newKey();
  setRing(new Map([['k1', k1], ['k2', k2]]));
  const before = (await showAppConfig(deps, 'acme-live')).entries.find((e) => e.key === 'DATABASE_URL')!.fingerprint;
  assert.deepEqual(await rotateSecretKey(deps, 'k2', { actor: 'root', requestId: null }), { keyId: 'k2', versions: 2, secrets: 2, certificates: 0 });
  const versions = await store.listAppConfigVersions();
  assert.ok(versions.every((v) => v.activeKeyId === 'k2' && v.keyChecks.k2 === keyCheck(k2) && v.keyChecks.k1 === undefined));
  setRing(new Map([['k2', k2]]));
  await setAppConfig(deps, { instance: 'acme-live', key: 'T', value: 'x' }, true, alice);
  const after = (await showAppConfig(deps, 'acme-live')).entries.find((e) => e.key === 'DATABASE_URL')!.fingerprint;
  assert.notEqual(after, before, 'fingerprints follow the key');
  assert.equal((await store.listAudit())[1]!.action, 'secret.rotate-key');
});

test('retention keeps the latest version, those a deployment of the last 90 days recorded, and those a slot runs', async () => {
  const { store, deps } = await setup();
  for (let n = 1; n <= 5; n += 1) await setAppConfig(deps, { app: 'shop', key: 'N', value: String(n) }, false, alice);
  const DAY = 86_400_000;
  const now = 200 * DAY;
  const deployment = (id: string, createdAt: number, configVersion: number) => ({
    id, instance: 'acme-live', kind: 'deploy' as const, strategy: 'start-and-flip' as const, fromVersion: null, toVersion: '1.0.0', fromColor: null,
    toColor: 'blue' as const, status: 'succeeded' as const, steps: [], actor: 'a', createdAt, updatedAt: createdAt, configVersion,
  });
  await store.insertDeployment(deployment('d-recent', now - 10 * DAY, 2));
  await store.insertDeployment(deployment('d-old', now - 100 * DAY, 3));
  await store.saveInstanceState({ ...acme, slots: { blue: { version: '1.0.0', status: 'warm', deploymentId: 'd-x', configVersion: 4 }, green: null } });
  assert.deepEqual(await pruneAppConfigVersions({ store, clock: new ManualClock(now) }), [1, 3]);
  assert.deepEqual((await store.listAppConfigVersions()).map((v) => v.id), [2, 4, 5]);
  assert.deepEqual(await pruneAppConfigVersions({ store, clock: new ManualClock(now) }), []);
});
