import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCutoverError } from '../shared/index.ts';
import { STATE_VERSION, createStateFile } from './agent-state.ts';
import type { AgentState } from './agent-state.ts';

const state = (n: number): AgentState => ({
  version: 1,
  instances: { [`i${n}`]: { hosts: [`h${n}.test`], active: 'blue', slots: {} } },
});

async function withDir(fn: (base: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-state-'));
  try {
    await fn(join(dir, 'state'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('an empty directory loads an empty state', () =>
  withDir(async (base) => {
    const file = createStateFile(base);
    assert.deepEqual(await file.load(), { state: { version: 1, instances: {} }, skipped: [], movedAside: [] });
    await file.close();
  }));

test('the newest save wins across reopen, whichever file holds it', () =>
  withDir(async (base) => {
    for (const saves of [1, 2, 3, 6]) {
      const file = createStateFile(base);
      await file.load();
      for (let n = 1; n <= saves; n++) await file.save(state(saves * 10 + n));
      await file.close();
      const again = createStateFile(base);
      assert.deepEqual((await again.load()).state, state(saves * 10 + saves));
      await again.close();
    }
  }));

test('a shorter state written over a longer one is read back exactly', () =>
  withDir(async (base) => {
    const file = createStateFile(base);
    const big: AgentState = { version: 1, instances: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`x${i}`, { hosts: ['a'], active: null, slots: {} }])) };
    await file.save(big);
    await file.save(big);
    await file.save(state(1));
    await file.close();
    const again = createStateFile(base);
    assert.deepEqual((await again.load()).state, state(1));
    await again.close();
  }));

test('a torn newest file falls back to the previous state', () =>
  withDir(async (base) => {
    const file = createStateFile(base);
    await file.save(state(1)); // seq 1 → .b
    await file.save(state(2)); // seq 2 → .a
    await file.close();
    const torn = await readFile(`${base}.a`);
    await writeFile(`${base}.a`, torn.subarray(0, torn.length - 5));
    const again = createStateFile(base);
    assert.deepEqual((await again.load()).state, state(1));
    await again.save(state(3));
    await again.close();
    const third = createStateFile(base);
    assert.deepEqual((await third.load()).state, state(3), 'saving after a fallback continues the sequence');
    await third.close();
  }));

test('a corrupt instance entry is skipped, the others load', () =>
  withDir(async (base) => {
    const file = createStateFile(base);
    await file.save({ version: 1, instances: { good: { hosts: ['g.test'], active: null, slots: {} }, bad: 'garbage' as never } });
    await file.close();
    const again = createStateFile(base);
    const { state: loaded, skipped } = await again.load();
    assert.deepEqual(Object.keys(loaded.instances), ['good']);
    assert.deepEqual(skipped, ['bad']);
    await again.close();
  }));

test('files that exist with none valid are refused; resetState moves them aside; empty files are "never written"', () =>
  withDir(async (base) => {
    const file = createStateFile(base);
    await file.save(state(1));
    await file.save(state(2));
    await file.close();
    await writeFile(`${base}.a`, 'garbage');
    await writeFile(`${base}.b`, '{"seq":1,"len":3,"sum":"00"}\nabc');
    const refused = createStateFile(base);
    await assert.rejects(refused.load(), (e: unknown) => {
      assert.ok(isCutoverError(e));
      assert.equal(e.code, 'AGENT_STATE_INVALID');
      assert.match(e.message, /state\.a \(no header line\).*state\.b \(checksum mismatch\)/s);
      return true;
    });
    const reset = createStateFile(base);
    const loaded = await reset.load({ resetState: true });
    assert.deepEqual(loaded.state, { version: 1, instances: {} });
    assert.equal(loaded.movedAside.length, 2);
    assert.equal(await readFile(loaded.movedAside.find((f) => f.includes('state.a'))!, 'utf8'), 'garbage');
    await reset.save(state(3));
    await reset.close();
    const after = createStateFile(base);
    assert.deepEqual((await after.load()).state, state(3));
    await after.close();

    // Zero-length files (created, never written) are an empty state, not corrupt.
    await writeFile(`${base}.a`, '');
    await writeFile(`${base}.b`, '');
    const empty = createStateFile(base);
    assert.deepEqual(await empty.load(), { state: { version: 1, instances: {} }, skipped: [], movedAside: [] });
    await empty.close();
  }));

test('resetState changes nothing while one file is valid', () =>
  withDir(async (base) => {
    const file = createStateFile(base);
    await file.save(state(1)); // .b
    await file.save(state(2)); // .a
    await file.close();
    await writeFile(`${base}.a`, 'garbage');
    const again = createStateFile(base);
    const loaded = await again.load({ resetState: true });
    assert.deepEqual(loaded.state, state(1));
    assert.deepEqual(loaded.movedAside, []);
    await again.close();
    assert.equal(await readFile(`${base}.a`, 'utf8'), 'garbage');
  }));

/** A state file as an agent writes it: the header line, then the body. */
function stateFileText(seq: number, body: unknown): string {
  const raw = Buffer.from(JSON.stringify(body));
  return `${JSON.stringify({ seq, len: raw.length, sum: createHash('sha256').update(raw).digest('hex') })}\n${raw}`;
}

test('a state file of an earlier agent (no version field, slots in the old shape) still loads', () =>
  withDir(async (base) => {
    const slot = {
      version: '1.0.0',
      digest: `sha256:${'b'.repeat(64)}`,
      start: 'node server.js',
      env: { A: '1' },
      health: { path: '/', intervalMs: 10, timeoutMs: 10, healthyThreshold: 1, unhealthyThreshold: 3 },
      stopTimeoutMs: 100,
      deploymentId: 'd1',
    };
    await writeFile(`${base}.b`, stateFileText(1, { instances: { web: { hosts: ['web.test'], active: 'blue', slots: { blue: slot } } } }));
    const file = createStateFile(base);
    const loaded = await file.load();
    assert.equal(loaded.state.version, STATE_VERSION);
    assert.deepEqual(loaded.state.instances.web?.slots.blue, slot);
    await file.close();
  }));

test('a state file written by a newer agent (a higher version) is refused, naming the versions', () =>
  withDir(async (base) => {
    await writeFile(`${base}.b`, stateFileText(1, { version: STATE_VERSION + 1, instances: {} }));
    const file = createStateFile(base);
    await assert.rejects(file.load(), (e: unknown) => {
      assert.ok(isCutoverError(e));
      assert.equal(e.code, 'AGENT_STATE_INVALID');
      assert.match(e.message, new RegExp(`newer agent \\(state version ${STATE_VERSION + 1}; this agent reads ${STATE_VERSION}\\)`));
      return true;
    });
    await file.close();
  }));
