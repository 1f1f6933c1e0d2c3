import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createStateFile } from './agent-state.ts';
import type { AgentState } from './agent-state.ts';
import { envKeyFile } from './sealed-env.ts';

const SECRET = 'planted-agent-secret-3f9c';
const health = { path: '/', intervalMs: 100, timeoutMs: 100, healthyThreshold: 1, unhealthyThreshold: 3 };
const withSlot = (env: Record<string, string>): AgentState => ({
  version: 1,
  instances: {
    shop: { hosts: ['shop.test'], active: 'blue', slots: { blue: { version: '1.0.0', digest: 'sha256:x', start: 'node s.js', env, health, stopTimeoutMs: 100, deploymentId: 'd1' } } },
  },
});

async function withDir(fn: (base: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-sealed-'));
  try {
    await fn(join(dir, 'state'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('slot environments are sealed in the state files with the machine key (0600, beside them) and restored on load', () =>
  withDir(async (base) => {
    const file = createStateFile(base);
    await file.save(withSlot({ DATABASE_URL: SECRET, LOG_LEVEL: 'warn' }));
    await file.close();
    const raw = (await readFile(`${base}.b`, 'utf8')) + (await readFile(`${base}.a`, 'utf8').catch(() => ''));
    assert.ok(!raw.includes(SECRET) && !raw.includes('LOG_LEVEL'), 'no clear value, not even a name');
    assert.equal((await stat(envKeyFile(base))).mode & 0o777, 0o600);
    const again = createStateFile(base);
    const { state } = await again.load();
    assert.deepEqual(state.instances.shop!.slots.blue!.env, { DATABASE_URL: SECRET, LOG_LEVEL: 'warn' });
    await again.close();
  }));

test("another machine's key opens nothing: the instance is skipped, not started with an empty environment", () =>
  withDir(async (base) => {
    const file = createStateFile(base);
    await file.save(withSlot({ DATABASE_URL: SECRET }));
    await file.close();
    await writeFile(envKeyFile(base), `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });
    const again = createStateFile(base);
    const { state, skipped } = await again.load();
    assert.deepEqual(skipped, ['shop']);
    assert.deepEqual(state.instances, {});
    await again.close();
  }));

test("an earlier agent's clear env loads, and is sealed at the next save", () =>
  withDir(async (base) => {
    const body = Buffer.from(JSON.stringify(withSlot({ TOKEN: SECRET })));
    const header = `${JSON.stringify({ seq: 1, len: body.length, sum: createHash('sha256').update(body).digest('hex') })}\n`;
    await writeFile(`${base}.a`, Buffer.concat([Buffer.from(header), body]), { mode: 0o600 });
    const file = createStateFile(base);
    const { state } = await file.load();
    assert.equal(state.instances.shop!.slots.blue!.env.TOKEN, SECRET);
    await file.save(state);
    await file.save(state);
    await file.close();
    for (const f of [`${base}.a`, `${base}.b`]) assert.ok(!(await readFile(f, 'utf8')).includes(SECRET), f);
  }));
