import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCutoverError } from '../shared/index.ts';
import { createArtifactStore, packArtifact } from '../releases/index.ts';
import { startTestAgent, tempDataDir } from './test-agent.ts';

const APP = fileURLToPath(new URL('./fixtures/app', import.meta.url));
const isMismatch = (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_DIGEST_MISMATCH';

// Review L5: a stored artifact changed at rest must never be pushed to an agent or unpacked by it.
test('an artifact changed at rest is refused by digest: while the server streams it to the agent, and when the agent unpacks its own copy', async (t) => {
  const data = await tempDataDir();
  const agent = await startTestAgent(data.dir);
  t.after(async () => {
    await agent.stop();
    await data.cleanup();
  });
  const other = await mkdtemp(join(tmpdir(), 'cutover-other-'));
  t.after(() => rm(other, { recursive: true, force: true }));
  await cp(APP, join(other, 'app'), { recursive: true });
  await writeFile(join(other, 'app', 'server.mjs'), 'console.log("TAMPERED")\n');
  const good = await packArtifact(APP, other);
  const evil = await packArtifact(join(other, 'app'), other);
  const server = createArtifactStore(join(data.dir, 'server-artifacts'));
  const { digest } = await server.put(await readFile(good.file));

  // 1. The server's copy was replaced: the push fails with the mismatch, the agent keeps nothing.
  await copyFile(evil.file, server.path(digest));
  await assert.rejects(
    agent.client.ensureArtifact('web', digest, () => server.open(digest) as never),
    isMismatch,
  );
  const agentArtifacts = join(data.dir, 'agent', 'artifacts');
  assert.deepEqual((await readdir(agentArtifacts).catch(() => [])).filter((n) => !n.startsWith('.')), []);

  // 2. The agent's copy was replaced before any instance unpacked it (each does at its slot's
  // start): the start refuses, and no release copy is made.
  await copyFile(good.file, server.path(digest));
  await agent.client.ensureArtifact('web', digest, () => server.open(digest) as never);
  await copyFile(evil.file, join(agentArtifacts, `sha256-${digest.slice(7)}.tgz`));
  await agent.client.ensureInstance('web', ['web.test']);
  await assert.rejects(
    agent.client.startSlot({
      instance: 'web',
      color: 'blue',
      version: '1.0.0',
      digest,
      start: `${JSON.stringify(process.execPath)} server.mjs`,
      env: {},
      health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2 },
      stopTimeoutMs: 2000,
      deploymentId: 'd-1',
    }),
    isMismatch,
  );
  assert.deepEqual(await readdir(join(data.dir, 'agent', 'releases', 'web')), []);
});
