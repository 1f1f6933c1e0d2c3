import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCutoverError } from '../shared/index.ts';
import type { AppConfigLayer } from '../store/index.ts';
import { EMPTY_VERSION, entryFor, nextVersion, resealVersions } from './config-versions.ts';
import { diffConfig, showConfig, slotEnvOf } from './config-view.ts';
import { keyCheck, newKey } from './key-ring.ts';
import { resolveConfig } from './resolve-config.ts';

const SECRET = 'planted-secret-7f3a';
const scope = { instance: 'acme-live', app: 'shop', environment: 'production' };
const inst: AppConfigLayer = { kind: 'instance', instance: 'acme-live' };
const env: AppConfigLayer = { kind: 'environment', environment: 'production' };
const k1 = newKey();
const ring = new Map([['k1', k1]]);

function set(v = EMPTY_VERSION, layer: AppConfigLayer, key: string, value: string, secret: boolean, r = ring) {
  const made = entryFor(v, r, { layer, key, value, secret });
  return nextVersion(v, { op: 'set', entry: made.entry }, { actor: 'alice', at: 5, keyChecks: made.keyChecks, activeKeyId: made.activeKeyId });
}

test('every change makes the next version; the audit record shows plain values and a secret only by fingerprint', () => {
  const a = set(EMPTY_VERSION, env, 'LOG_LEVEL', 'info', false);
  assert.equal(a.version.id, 1);
  assert.deepEqual(a.record, { key: 'LOG_LEVEL', layer: 'environment production', secret: false, before: null, after: 'info' });
  const b = set(a.version, env, 'LOG_LEVEL', 'warn', false);
  assert.deepEqual([b.record.before, b.record.after], ['info', 'warn']);
  const c = set(b.version, inst, 'DATABASE_URL', SECRET, true);
  assert.equal(c.version.id, 3);
  assert.equal(c.version.activeKeyId, 'k1');
  assert.deepEqual(c.version.keyChecks, { k1: keyCheck(k1) });
  assert.match(c.record.after!, /^secret [0-9a-f]{12}$/);
  assert.ok(!JSON.stringify(c).includes(SECRET), 'neither the version nor the record holds the value');
  const d = nextVersion(c.version, { op: 'unset', layer: inst, key: 'DATABASE_URL' }, { actor: 'bob', at: 6 });
  assert.equal(d.record.after, null);
  assert.equal(d.record.before, c.record.after);
  assert.equal(b.version.entries.length, 1, 'earlier versions are not changed');
});

test('refusals: plain/secret across layers, unset of nothing, a URL with a password as plain, no key for a secret', () => {
  const a = set(EMPTY_VERSION, env, 'DATABASE_URL', SECRET, true);
  assert.throws(() => set(a.version, inst, 'DATABASE_URL', 'x', false), (e) => isCutoverError(e) && /is a secret at environment production/.test(e.message));
  assert.throws(() => nextVersion(a.version, { op: 'unset', layer: inst, key: 'DATABASE_URL' }, { actor: 'a', at: 1 }), /not set at instance acme-live/);
  assert.throws(() => set(a.version, inst, 'DB', 'postgres://u:pw@h/db', false), (e) => isCutoverError(e) && /cutover secret set/.test(e.message) && !e.message.includes('pw@'));
  assert.throws(() => set(EMPTY_VERSION, inst, 'S', 'v', true, new Map()), (e) => isCutoverError(e) && e.code === 'SECRET_KEY_MISSING');
  assert.throws(() => set(EMPTY_VERSION, inst, 'CUTOVER_X', 'v', false), /reserved/);
});

test('resolution, show and diff never give a secret value; the slot environment decrypts it', () => {
  const a = set(EMPTY_VERSION, inst, 'DATABASE_URL', SECRET, true);
  const b = set(a.version, env, 'LOG_LEVEL', 'warn', false);
  const resolved = resolveConfig({ LOG_LEVEL: 'info' }, b.version.entries, scope);
  const shown = showConfig(resolved);
  assert.ok(!JSON.stringify(shown).includes(SECRET));
  assert.deepEqual(shown.map((s) => [s.key, s.layer, s.value, s.overrides]), [
    ['DATABASE_URL', 'instance acme-live', null, []],
    ['LOG_LEVEL', 'environment production', 'warn', ['release env']],
  ]);
  assert.deepEqual(slotEnvOf(resolved, ring), { DATABASE_URL: SECRET, LOG_LEVEL: 'warn' });
  const c = set(b.version, inst, 'DATABASE_URL', `${SECRET}-2`, true);
  const diff = diffConfig(resolved, resolveConfig({ LOG_LEVEL: 'info' }, c.version.entries, scope));
  assert.deepEqual(diff.map((d) => [d.key, d.change]), [['DATABASE_URL', 'changed']]);
  assert.ok(!JSON.stringify(diff).includes(SECRET));
});

test('rotation re-seals every version with the new key; the values are unchanged and the old key is no longer needed', () => {
  const a = set(EMPTY_VERSION, inst, 'DATABASE_URL', SECRET, true);
  const b = set(a.version, env, 'TOKEN', 'other-secret', true);
  const k2 = newKey();
  const both = new Map([['k1', k1], ['k2', k2]]);
  const rotated = resealVersions([a.version, b.version], both, 'k2');
  assert.deepEqual(rotated.map((v) => v.activeKeyId), ['k2', 'k2']);
  assert.deepEqual(rotated[1]!.keyChecks, { k2: keyCheck(k2) });
  const onlyNew = new Map([['k2', k2]]);
  assert.deepEqual(slotEnvOf(resolveConfig({}, rotated[1]!.entries, scope), onlyNew), { DATABASE_URL: SECRET, TOKEN: 'other-secret' });
  assert.throws(() => resealVersions([b.version], onlyNew, 'k2'), (e) => isCutoverError(e) && e.code === 'SECRET_KEY_MISSING' && e.message.includes('k1'));
});
