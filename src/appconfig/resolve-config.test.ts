import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AppConfigEntry, AppConfigLayer } from '../store/index.ts';
import { layerFromFlags, layerRank } from './layers.ts';
import { missingRequired, missingRequiredMessage, resolveConfig } from './resolve-config.ts';

const scope = { instance: 'acme-live', app: 'shop', environment: 'production' };
const plain = (layer: AppConfigLayer, key: string, value: string): AppConfigEntry => ({ layer, key, secret: false, value });

test('layers win in order: release env < app < environment < app+environment < instance', () => {
  const entries = [
    plain({ kind: 'instance', instance: 'acme-live' }, 'A', 'instance'),
    plain({ kind: 'app-environment', app: 'shop', environment: 'production' }, 'A', 'app-env'),
    plain({ kind: 'app-environment', app: 'shop', environment: 'production' }, 'B', 'app-env'),
    plain({ kind: 'environment', environment: 'production' }, 'B', 'env'),
    plain({ kind: 'environment', environment: 'production' }, 'C', 'env'),
    plain({ kind: 'app', app: 'shop' }, 'C', 'app'),
    plain({ kind: 'app', app: 'shop' }, 'D', 'app'),
  ];
  const resolved = resolveConfig({ D: 'release', E: 'release' }, entries, scope);
  assert.deepEqual(
    resolved.map((r) => [r.key, r.secret ? '' : r.value, r.layer.kind]),
    [['A', 'instance', 'instance'], ['B', 'app-env', 'app-environment'], ['C', 'env', 'environment'], ['D', 'app', 'app'], ['E', 'release', 'release']],
  );
  assert.deepEqual(resolved[0]!.overrides.map((l) => l.kind), ['app-environment']);
  assert.deepEqual(resolved[3]!.overrides.map((l) => l.kind), ['release']);
});

test('layers of other apps, environments and instances do not apply', () => {
  const entries = [
    plain({ kind: 'app', app: 'blog' }, 'A', 'x'),
    plain({ kind: 'environment', environment: 'staging' }, 'B', 'x'),
    plain({ kind: 'app-environment', app: 'shop', environment: 'staging' }, 'C', 'x'),
    plain({ kind: 'instance', instance: 'acme-test' }, 'D', 'x'),
  ];
  assert.deepEqual(resolveConfig({}, entries, scope), []);
});

test('property: the winner of each key is its highest applicable layer, whatever the entry order', () => {
  const layers: AppConfigLayer[] = [
    { kind: 'app', app: 'shop' },
    { kind: 'environment', environment: 'production' },
    { kind: 'app-environment', app: 'shop', environment: 'production' },
    { kind: 'instance', instance: 'acme-live' },
    { kind: 'app', app: 'blog' },
  ];
  const entry = fc.record({ layer: fc.constantFrom(...layers), key: fc.constantFrom('A', 'B', 'C'), value: fc.string({ maxLength: 4 }) });
  fc.assert(
    fc.property(fc.uniqueArray(entry, { selector: (e) => `${e.key}/${JSON.stringify(e.layer)}` }), (picked) => {
      const entries = picked.map((p) => plain(p.layer, p.key, p.value));
      const resolved = resolveConfig({}, entries, scope);
      for (const r of resolved) {
        const applicable = entries.filter((e) => e.key === r.key && !(e.layer.kind === 'app' && e.layer.app === 'blog'));
        const best = Math.max(...applicable.map((e) => layerRank(e.layer)));
        assert.equal(layerRank(r.layer), best);
        assert.equal(r.overrides.length, applicable.length - 1);
      }
      assert.deepEqual(resolveConfig({}, [...entries].reverse(), scope).map((r) => r.key), resolved.map((r) => r.key));
    }),
    { numRuns: 500 },
  );
});

test('a missing required key is named with every layer checked', () => {
  const resolved = resolveConfig({ A: '1' }, [plain({ kind: 'instance', instance: 'acme-live' }, 'B', '2')], scope);
  const missing = missingRequired(['A', 'B', 'DATABASE_URL'], resolved, scope);
  assert.deepEqual(missing.map((m) => m.key), ['DATABASE_URL']);
  const message = missingRequiredMessage('acme-live', missing);
  assert.match(message, /DATABASE_URL: not set in release env, app shop, environment production, app shop \+ environment production, instance acme-live/);
});

test('flags name exactly one layer shape', () => {
  assert.deepEqual(layerFromFlags({ environment: 'production' }), { kind: 'environment', environment: 'production' });
  assert.deepEqual(layerFromFlags({ app: 'shop', environment: 'production' }), { kind: 'app-environment', app: 'shop', environment: 'production' });
  assert.deepEqual(layerFromFlags({ instance: 'x' }), { kind: 'instance', instance: 'x' });
  assert.equal(typeof layerFromFlags({}), 'string');
  assert.equal(typeof layerFromFlags({ instance: 'x', app: 'shop' }), 'string');
});
