import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { testReleaseSpec } from '../testing/index.ts';
import { startHarness } from './test-harness.ts';
import type { Harness } from './test-harness.ts';

const SECRET = 'planted-deploy-secret-0b7e';

async function deployed(h: Harness, path: string, body: unknown) {
  const r = await h.call('deployer', 'POST', `${path}?wait=5000`, body);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body;
}

test('a deployment is the pair (release, app config): slot env resolved and decrypted, --app-config-only, ALREADY_ON_VERSION, rollback to the warm pair', async () => {
  const ring = new Map([['k1', randomBytes(32)]]);
  const h = await startHarness(undefined, { keyRing: () => ring });
  try {
    await h.release('1.0.0', testReleaseSpec('1.0.0', { env: { LOG_LEVEL: 'info', CURRENCY: 'USD' }, requires: ['DATABASE_URL'] }));
    await h.call('deployer', 'POST', '/api/instances', { name: 'acme-live', app: 'shop', hosts: ['acme.t'], environment: 'production' });

    const refused = await h.call('deployer', 'POST', '/api/instances/acme-live/deploy', { version: '1.0.0' });
    assert.equal(refused.body.code, 'APP_CONFIG_MISSING');
    assert.match(refused.body.message, /DATABASE_URL: not set in release env, app shop, environment production, app shop \+ environment production, instance acme-live/);
    assert.equal(h.runtime.started.length, 0, 'refused before anything started');
    assert.equal((await h.store.listDeployments()).length, 0);

    await h.call('deployer', 'PUT', '/api/secrets', { instance: 'acme-live', key: 'DATABASE_URL', value: SECRET });
    await h.call('deployer', 'PUT', '/api/app-config', { environment: 'production', key: 'LOG_LEVEL', value: 'warn' });
    const first = await deployed(h, '/api/instances/acme-live/deploy', { version: '1.0.0' });
    assert.equal(first.status, 'succeeded', JSON.stringify(first));
    assert.deepEqual(h.runtime.started.at(-1)!.env, { CURRENCY: 'USD', DATABASE_URL: SECRET, LOG_LEVEL: 'warn' });
    assert.ok(!JSON.stringify(first).includes(SECRET));

    const again = await h.call('deployer', 'POST', '/api/instances/acme-live/deploy', { appConfigOnly: true });
    assert.equal(again.body.code, 'ALREADY_ON_VERSION', 'same release, same config');
    // Another instance's config is not this one's change.
    await h.call('deployer', 'PUT', '/api/app-config', { environment: 'staging', key: 'LOG_LEVEL', value: 'debug' });
    assert.equal((await h.call('deployer', 'POST', '/api/instances/acme-live/deploy', { appConfigOnly: true })).body.code, 'ALREADY_ON_VERSION');

    await h.call('deployer', 'PUT', '/api/app-config', { instance: 'acme-live', key: 'CURRENCY', value: 'EUR' });
    const diff = await h.call('viewer', 'GET', '/api/instances/acme-live/app-config/diff');
    assert.equal(diff.body.from, first.configVersion, 'against what the live slot runs');
    assert.deepEqual(diff.body.changes.map((c: { key: string }) => c.key), ['CURRENCY']);
    const configOnly = await deployed(h, '/api/instances/acme-live/deploy', { appConfigOnly: true });
    assert.equal(configOnly.status, 'succeeded');
    assert.equal(configOnly.strategy, 'start-and-flip', 'blue-green: a new slot');
    assert.equal(configOnly.toVersion, '1.0.0');
    assert.equal(h.runtime.started.at(-1)!.env.CURRENCY, 'EUR');
    const instance = (await h.store.getInstance('acme-live'))!;
    assert.equal(instance.slots[configOnly.toColor as 'blue' | 'green']!.configVersion, configOnly.configVersion);

    const starts = h.runtime.started.length;
    const back = await deployed(h, '/api/instances/acme-live/rollback', {});
    assert.equal(back.strategy, 'flip-to-warm', 'the warm slot holds the old pair: a flip');
    assert.equal(back.configVersion, first.configVersion);
    assert.equal(h.runtime.started.length, starts, 'nothing started');
    const after = (await h.store.getInstance('acme-live'))!;
    assert.equal(after.slots[after.activeColor!]!.configVersion, first.configVersion);
    // Deploying the current config again is not a flip to the warm slot (it holds the old config): a new start.
    const forward = await deployed(h, '/api/instances/acme-live/deploy', { appConfigOnly: true });
    assert.equal(forward.strategy, 'flip-to-warm', 'the warm slot now holds the current pair');
    assert.equal(h.runtime.started.length, starts);

    // A cold rollback, after the warm window: the release started again with the config before.
    await h.call('deployer', 'PUT', '/api/app-config', { instance: 'acme-live', key: 'CURRENCY', value: 'GBP' });
    const gbp = await deployed(h, '/api/instances/acme-live/deploy', { appConfigOnly: true });
    assert.equal(h.runtime.started.at(-1)!.env.CURRENCY, 'GBP');
    h.clock.advance(61_000);
    const cold = await deployed(h, '/api/instances/acme-live/rollback', {});
    assert.equal(cold.status, 'succeeded', JSON.stringify(cold));
    assert.equal(cold.strategy, 'start-and-flip', 'past the window: a start');
    assert.notEqual(cold.configVersion, gbp.configVersion);
    assert.equal(h.runtime.started.at(-1)!.env.CURRENCY, 'EUR', 'the old values are back');
    assert.equal(h.runtime.started.at(-1)!.env.DATABASE_URL, SECRET);
  } finally {
    await h.close();
  }
});
