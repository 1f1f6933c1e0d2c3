import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { secureAgentFiles, secureServerFiles, withPrivateUmask } from './data-dir-modes.ts';
import { createSqliteStore } from './store/index.ts';
import { silentLogger } from './shared/index.ts';

const mode = async (p: string) => (await stat(p)).mode & 0o7777;

test('every start sets the modes of the data directory, whatever they were before', async () => {
  const root = await mkdtemp(join(tmpdir(), 'cutover-modes-'));
  const dataDir = join(root, 'data');
  try {
    // An earlier version's layout, with loose modes everywhere.
    for (const [dir, m] of [
      [dataDir, 0o777],
      [join(dataDir, 'artifacts'), 0o755],
      [join(dataDir, 'agent'), 0o777],
      [join(dataDir, 'agent', 'logs'), 0o755],
      [join(dataDir, 'agent', 'artifacts'), 0o777],
    ] as const) {
      await mkdir(dir, { recursive: true });
      await chmod(dir, m);
    }
    const files = [
      'agent-token',
      'agent.json',
      'cli.json',
      'cutover.db',
      'cutover.db-wal',
      'cutover.db-shm',
    ].map((f) => join(dataDir, f));
    const agentFiles = ['agent.pid', 'state.a', 'state.b'].map((f) => join(dataDir, 'agent', f));
    for (const [i, f] of [...files, ...agentFiles].entries()) {
      await writeFile(f, 'x');
      await chmod(f, [0o644, 0o755, 0o777][i % 3]!);
    }
    const logged: string[] = [];
    const log = { ...silentLogger, warn: (o: object) => void logged.push((o as { path: string }).path) };

    await secureAgentFiles(dataDir, log);
    await secureServerFiles(dataDir, join(dataDir, 'cutover.db'), log);

    assert.equal(await mode(dataDir), 0o711);
    assert.equal(await mode(join(dataDir, 'agent')), 0o711);
    for (const d of ['artifacts', 'agent/logs', 'agent/artifacts'])
      assert.equal(await mode(join(dataDir, d)), 0o700, d);
    for (const f of [...files, ...agentFiles]) assert.equal(await mode(f), 0o600, f);
    assert.ok(logged.includes(join(dataDir, 'cutover.db')), 'each change is logged');

    // A second start changes (and logs) nothing.
    logged.length = 0;
    await secureAgentFiles(dataDir, log);
    await secureServerFiles(dataDir, join(dataDir, 'cutover.db'), log);
    assert.deepEqual(logged, []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a new data directory is created with these modes; PostgreSQL has no local database file', async () => {
  const root = await mkdtemp(join(tmpdir(), 'cutover-modes-'));
  const dataDir = join(root, 'new', 'data');
  try {
    const logged: string[] = [];
    const log = { ...silentLogger, warn: (o: object) => void logged.push((o as { path: string }).path) };
    await secureServerFiles(dataDir, 'postgres://u:p@localhost/db', log);
    await secureAgentFiles(dataDir, log);
    assert.deepEqual(logged, [], 'creating is not a change worth a warning');
    assert.equal(await mode(dataDir), 0o711);
    assert.equal(await mode(join(dataDir, 'artifacts')), 0o700);
    assert.equal(await mode(join(dataDir, 'agent')), 0o711);
    assert.equal(await mode(join(dataDir, 'agent', 'logs')), 0o700);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a SQLite database created under withPrivateUmask is 0600 from the start, WAL files included', async () => {
  const root = await mkdtemp(join(tmpdir(), 'cutover-modes-'));
  try {
    const file = join(root, 'cutover.db');
    const saved = process.umask(0o022); // the usual one, under which SQLite makes 0644 files
    const store = await withPrivateUmask(async () => createSqliteStore(file));
    assert.equal(process.umask(saved), 0o022, 'the umask is restored');
    try {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(await mode(f), 0o600, f);
    } finally {
      await store.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
