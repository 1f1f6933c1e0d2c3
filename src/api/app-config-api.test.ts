import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { startHarness } from './test-harness.ts';

const SECRET = 'planted-api-secret-51c2';

test('app-config API: roles, layers, fingerprints only, diff, unset, rotation by an admin; no answer carries a secret', async () => {
  let ring = new Map([['k1', randomBytes(32)]]);
  const h = await startHarness(undefined, { keyRing: () => ring });
  try {
    await h.release('1.0.0', { env: { LOG_LEVEL: 'info' } });
    assert.equal((await h.call('deployer', 'POST', '/api/instances', { name: 'acme-live', app: 'shop', hosts: ['acme.t'], environment: 'production' })).status, 201);
    await h.call('deployer', 'POST', '/api/instances/acme-live/deploy', { version: '1.0.0' });
    const answers: unknown[] = [];
    const call = async (...args: Parameters<typeof h.call>) => {
      const r = await h.call(...args);
      answers.push(r.body);
      return r;
    };

    assert.equal((await call('viewer', 'PUT', '/api/app-config', { environment: 'production', key: 'LOG_LEVEL', value: 'warn' })).status, 403);
    assert.equal((await call('viewer', 'PUT', '/api/secrets', { instance: 'acme-live', key: 'DATABASE_URL', value: SECRET })).status, 403);
    const plain = await call('deployer', 'PUT', '/api/app-config', { environment: 'production', key: 'LOG_LEVEL', value: 'warn' });
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    assert.deepEqual(plain.body, { version: 1, key: 'LOG_LEVEL', layer: 'environment production', secret: false, before: null, after: 'warn' });
    const secret = await call('deployer', 'PUT', '/api/secrets', { instance: 'acme-live', key: 'DATABASE_URL', value: SECRET });
    assert.equal(secret.status, 200);
    assert.match(secret.body.after, /^secret [0-9a-f]{12}$/);

    const bad = await call('deployer', 'PUT', '/api/app-config', { app: 'shop', key: 'DATABASE_URL', value: 'x' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /secret at instance acme-live/);
    assert.equal((await call('deployer', 'PUT', '/api/app-config', { app: 'shop', key: 'CUTOVER_X', value: 'x' })).status, 400);

    const shown = await call('viewer', 'GET', '/api/instances/acme-live/app-config');
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.entries.map((e: { key: string; layer: string; value: string | null }) => [e.key, e.layer, e.value]), [
      ['DATABASE_URL', 'instance acme-live', null],
      ['LOG_LEVEL', 'environment production', 'warn'],
    ]);
    const diff = await call('viewer', 'GET', '/api/instances/acme-live/app-config/diff?from=1');
    assert.deepEqual(diff.body.changes.map((c: { key: string; change: string }) => [c.key, c.change]), [['DATABASE_URL', 'added']]);

    assert.equal((await call('deployer', 'POST', '/api/secrets/rotate-key', { to: 'k2' })).status, 403);
    const missing = await call('admin', 'POST', '/api/secrets/rotate-key', { to: 'k2' });
    assert.equal(missing.body.code, 'SECRET_KEY_MISSING');
    assert.match(missing.body.message, /k2/);
    ring = new Map([...ring, ['k2', randomBytes(32)]]);
    const rotated = await call('admin', 'POST', '/api/secrets/rotate-key', { to: 'k2' });
    assert.deepEqual(rotated.body, { keyId: 'k2', versions: 2, secrets: 1, certificates: 0 });
    assert.equal((await call('deployer', 'POST', '/api/secrets/unset', { instance: 'acme-live', key: 'DATABASE_URL' })).status, 200);

    const audit = await call('admin', 'GET', '/api/audit');
    assert.ok(audit.body.items.some((e: { action: string }) => e.action === 'secret.rotate-key'));
    assert.ok(!JSON.stringify(answers).includes(SECRET), 'no answer of any role holds the value');
  } finally {
    await h.close();
  }
});
