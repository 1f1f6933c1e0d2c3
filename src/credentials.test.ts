import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrateCredentials } from './credentials.ts';
import { silentLogger } from './shared/index.ts';

test("an earlier version's agent token and endpoint are removed at start, wherever they are: agents dial the server now", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cutover-credentials-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  await writeFile(join(dataDir, 'agent-token'), 'old-token\n', { mode: 0o600 });
  await writeFile(join(dataDir, 'agent.json'), '{"url":"http://127.0.0.1:1"}\n', { mode: 0o600 });
  await migrateCredentials(dataDir, silentLogger);
  await writeFile(join(dataDir, 'private', 'agent-token'), 'old-token\n', { mode: 0o600 });
  await Promise.all([migrateCredentials(dataDir, silentLogger), migrateCredentials(dataDir, silentLogger)]);
  for (const file of ['agent-token', 'agent.json', 'private/agent-token', 'private/agent.json']) await assert.rejects(stat(join(dataDir, file)), { code: 'ENOENT' }, file);
  assert.equal((await stat(join(dataDir, 'private'))).mode & 0o777, 0o700);
});
