import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentTokenFile, ensureAgentToken, migrateCredentials, readAgentEndpoint, writeAgentEndpoint } from './credentials.ts';
import { silentLogger } from './shared/index.ts';

test("an earlier layout's agent token and endpoint are used until moved, then moved, never replaced", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cutover-credentials-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  await writeFile(join(dataDir, 'agent-token'), 'old-token\n', { mode: 0o600 });
  await writeFile(join(dataDir, 'agent.json'), '{"url":"http://127.0.0.1:1"}\n', { mode: 0o600 });
  // `up` asks a surviving agent of the earlier version before anything moved: the same token.
  assert.equal(await ensureAgentToken(dataDir), 'old-token');
  assert.equal(await readAgentEndpoint(dataDir), 'http://127.0.0.1:1');
  await assert.rejects(stat(agentTokenFile(dataDir)), { code: 'ENOENT' }, 'no second token was made');

  await Promise.all([migrateCredentials(dataDir, silentLogger), migrateCredentials(dataDir, silentLogger), ensureAgentToken(dataDir)]);
  assert.equal(await readFile(join(dataDir, 'private', 'agent-token'), 'utf8'), 'old-token\n');
  await assert.rejects(stat(join(dataDir, 'agent-token')), { code: 'ENOENT' });
  await assert.rejects(stat(join(dataDir, 'agent.json')), { code: 'ENOENT' });
  assert.equal((await stat(join(dataDir, 'private'))).mode & 0o777, 0o700);
  assert.equal(await ensureAgentToken(dataDir), 'old-token');

  await writeAgentEndpoint(dataDir, 'http://127.0.0.1:2');
  assert.equal(await readAgentEndpoint(dataDir), 'http://127.0.0.1:2');
  // A leftover at the old place (an earlier version started again) does not replace the one in use.
  await writeFile(join(dataDir, 'agent-token'), 'stale\n');
  await migrateCredentials(dataDir, silentLogger);
  assert.equal(await ensureAgentToken(dataDir), 'old-token');
  await assert.rejects(stat(join(dataDir, 'agent-token')), { code: 'ENOENT' }, 'the stale one is removed');
});
