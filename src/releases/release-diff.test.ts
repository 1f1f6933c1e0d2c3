import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isCutoverError } from '../shared/index.ts';
import { compareVersions, diffReleases, parseReleaseSpec } from './index.ts';
import type { ReleaseSpec } from './index.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

function release(version: string, overrides: Record<string, unknown> = {}): ReleaseSpec {
  return parseReleaseSpec({ app: 'shop', version, artifact: { digest: DIGEST, size: 1 }, start: 'node server.js', notes: `notes of ${version}`, ...overrides });
}

const A = release('1.0.0', {
  features: [
    { key: 'cart', title: 'Cart' },
    { key: 'wishlist', title: 'Wishlist' },
    { key: 'search', title: 'Search', description: 'basic' },
  ],
  components: [
    { name: 'web', version: '1.0.0', artifact: 'registry.example.com/web@sha256:aaa' },
    { name: 'worker', version: '1.0.0' },
    { name: 'cron', version: '0.1.0' },
  ],
  migrations: [{ id: '0001_init' }, { id: '0002_orders', description: 'orders table' }],
});

const B = release('1.2.0', {
  features: [
    { key: 'cart', title: 'Cart' },
    { key: 'search', title: 'Search', description: 'fuzzy' },
    { key: 'checkout', title: 'One-click checkout' },
  ],
  components: [
    { name: 'web', version: '1.2.0', artifact: 'registry.example.com/web@sha256:bbb' },
    { name: 'worker', version: '1.0.0' },
    { name: 'mailer', version: '1.0.0' },
  ],
  migrations: [{ id: '0001_init' }, { id: '0002_orders' }, { id: '0003_coupons' }],
});

test('an upgrade: features, components and migrations added, removed and changed', () => {
  const diff = diffReleases(A, B, []);
  assert.equal(diff.direction, 'upgrade');
  assert.equal(diff.from, '1.0.0');
  assert.equal(diff.to, '1.2.0');
  assert.deepEqual(diff.features, {
    added: [{ key: 'checkout', title: 'One-click checkout' }],
    removed: [{ key: 'wishlist', title: 'Wishlist' }],
    changed: [{ key: 'search', from: { key: 'search', title: 'Search', description: 'basic' }, to: { key: 'search', title: 'Search', description: 'fuzzy' } }],
  });
  assert.deepEqual(diff.components, {
    added: [{ name: 'mailer', version: '1.0.0' }],
    removed: [{ name: 'cron', version: '0.1.0' }],
    changed: [{ name: 'web', from: '1.0.0', to: '1.2.0', artifact: { from: 'registry.example.com/web@sha256:aaa', to: 'registry.example.com/web@sha256:bbb' } }],
  });
  // A changed description of a migration is not a new migration.
  assert.deepEqual(diff.migrations, { added: ['0003_coupons'], removed: [] });
  assert.deepEqual(diff.notes, [{ version: '1.2.0', notes: 'notes of 1.2.0' }]);
});

test('a downgrade mirrors the upgrade', () => {
  const up = diffReleases(A, B);
  const down = diffReleases(B, A);
  assert.equal(down.direction, 'downgrade');
  assert.deepEqual(down.features.added, up.features.removed);
  assert.deepEqual(down.features.removed, up.features.added);
  assert.deepEqual(down.components.added, up.components.removed);
  assert.deepEqual(down.components.removed, up.components.added);
  assert.deepEqual(down.components.changed, [{ name: 'web', from: '1.2.0', to: '1.0.0', artifact: { from: 'registry.example.com/web@sha256:bbb', to: 'registry.example.com/web@sha256:aaa' } }]);
  assert.deepEqual(down.migrations, { added: [], removed: ['0003_coupons'] });
});

test('a component changed only in its artifact, or gaining one, is listed', () => {
  const x = release('1.0.0', { components: [{ name: 'web', version: '1.0.0' }] });
  const y = release('1.0.1', { components: [{ name: 'web', version: '1.0.0', artifact: 'web.tgz' }] });
  assert.deepEqual(diffReleases(x, y).components.changed, [{ name: 'web', from: '1.0.0', to: '1.0.0', artifact: { from: null, to: 'web.tgz' } }]);
  assert.deepEqual(diffReleases(x, x).components.changed, []);
});

test('same version: nothing changes and no notes', () => {
  const diff = diffReleases(A, A, [B]);
  assert.equal(diff.direction, 'same');
  assert.deepEqual(diff.features, { added: [], removed: [], changed: [] });
  assert.deepEqual(diff.components, { added: [], removed: [], changed: [] });
  assert.deepEqual(diff.migrations, { added: [], removed: [] });
  assert.deepEqual(diff.notes, []);
});

const CHAIN = ['1.0.0', '1.1.0-beta.1', '1.1.0', '1.2.0-beta.2', '1.2.0-beta.10', '1.2.0', '1.3.0'].map((v) => release(v, v === '1.1.0' ? { notes: '  ' } : {}));
const byV = (v: string) => CHAIN.find((r) => r.version === v)!;

test('upgrade notes: every release in (from, to], oldest first, pre-releases in semver order, empty ones skipped', () => {
  const shuffled = [...CHAIN].reverse();
  const diff = diffReleases(byV('1.0.0'), byV('1.2.0'), shuffled);
  assert.deepEqual(
    diff.notes.map((n) => n.version),
    ['1.1.0-beta.1', '1.2.0-beta.2', '1.2.0-beta.10', '1.2.0'],
  );
  assert.equal(diff.notes[0]!.notes, 'notes of 1.1.0-beta.1');
});

test('downgrade notes: the releases being undone, newest first', () => {
  const diff = diffReleases(byV('1.2.0'), byV('1.1.0-beta.1'), CHAIN);
  assert.deepEqual(
    diff.notes.map((n) => n.version),
    ['1.2.0', '1.2.0-beta.10', '1.2.0-beta.2'],
  );
});

test('notes: `to` counts even when not in between; duplicates and other apps are ignored', () => {
  const other = parseReleaseSpec({ app: 'blog', version: '1.1.5', artifact: { digest: DIGEST, size: 1 }, start: 'x', notes: 'blog' });
  const diff = diffReleases(byV('1.0.0'), byV('1.1.0-beta.1'), [other, byV('1.1.0-beta.1'), byV('1.1.0-beta.1')]);
  assert.deepEqual(diff.notes, [{ version: '1.1.0-beta.1', notes: 'notes of 1.1.0-beta.1' }]);
});

test('releases stored before migrations existed still diff (missing lists count as empty)', () => {
  const { migrations: _m, ...old } = release('0.9.0');
  const stored = JSON.parse(JSON.stringify(old)) as ReleaseSpec;
  assert.deepEqual(diffReleases(stored, A).migrations, { added: ['0001_init', '0002_orders'], removed: [] });
  // And the stored spec still parses, with migrations defaulted.
  assert.deepEqual(parseReleaseSpec(stored).migrations, []);
});

test('releases of different apps are refused', () => {
  const other = parseReleaseSpec({ app: 'blog', version: '1.0.0', artifact: { digest: DIGEST, size: 1 }, start: 'x' });
  assert.throws(
    () => diffReleases(A, other),
    (err: unknown) => isCutoverError(err) && err.code === 'VALIDATION_FAILED' && /different apps/.test(err.message),
  );
});

test('pre-release ordering: 1.2.0-beta.2 < 1.2.0-beta.10 < 1.2.0', () => {
  assert.ok(compareVersions('1.2.0-beta.2', '1.2.0-beta.10') < 0);
  assert.ok(compareVersions('1.2.0-beta.10', '1.2.0') < 0);
  assert.equal(diffReleases(byV('1.2.0-beta.10'), byV('1.2.0-beta.2')).direction, 'downgrade');
});

test('glued pre-release counters like beta10 are refused with a hint', () => {
  assert.throws(
    () => release('1.2.0-beta10'),
    (err: unknown) => isCutoverError(err) && err.code === 'MANIFEST_INVALID' && err.message.includes('"1.2.0-beta.10"') && /beta10 sorts before beta2/.test(err.message),
  );
});

test('property: a diff and its reverse are mirror images; notes stay within the range', () => {
  const key = fc.constantFrom('a', 'b', 'c', 'd');
  const specArb = fc.record({
    version: fc.constantFrom(...CHAIN.map((r) => r.version)),
    features: fc.uniqueArray(fc.record({ key, title: fc.constantFrom('T1', 'T2') }), { selector: (f) => f.key }),
    components: fc.uniqueArray(fc.record({ name: key, version: fc.constantFrom('1.0.0', '2.0.0') }), { selector: (c) => c.name, minLength: 1 }),
    migrations: fc.uniqueArray(fc.record({ id: key }), { selector: (m) => m.id }),
  });
  fc.assert(
    fc.property(specArb, specArb, (x, y) => {
      const a = release(x.version, x);
      const b = release(y.version, y);
      const ab = diffReleases(a, b, CHAIN);
      const ba = diffReleases(b, a, CHAIN);
      assert.deepEqual(ab.features.added, ba.features.removed);
      assert.deepEqual(ab.components.removed, ba.components.added);
      assert.deepEqual(ab.migrations.added, ba.migrations.removed);
      const swapped = ba.features.changed.map((c) => ({ key: c.key, from: c.to, to: c.from }));
      const byKey = (p: { key: string }, q: { key: string }) => p.key.localeCompare(q.key);
      assert.deepEqual(ab.features.changed.sort(byKey), swapped.sort(byKey));
      assert.deepEqual(new Set(ab.notes.map((n) => n.version)), new Set(ba.notes.map((n) => n.version)));
      const [low, high] = compareVersions(a.version, b.version) <= 0 ? [a.version, b.version] : [b.version, a.version];
      for (const n of ab.notes) assert.ok(compareVersions(n.version, low) > 0 && compareVersions(n.version, high) <= 0);
    }),
  );
});
