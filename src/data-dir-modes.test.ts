import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultDatabaseFile, secureAgentFiles, secureServerFiles, withPrivateUmask } from './data-dir-modes.ts';
import { createSqliteStore } from './store/index.ts';
import { migrateAgentFiles } from './agent/index.ts';
import { silentLogger } from './shared/index.ts';
import type { Logger } from './shared/index.ts';

const mode = async (p: string) => (await stat(p)).mode & 0o7777;

/** What an agent's start does before it reads its files: `startAgentProcess`, then `startAgent`. */
async function agentStart(dataDir: string, log: Logger): Promise<void> {
  await secureAgentFiles(dataDir, log);
  await migrateAgentFiles(join(dataDir, 'agent'), log);
}


test('every start moves an earlier layout into private directories and sets the modes, whatever they were before', async () => {
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
    // The files of the agent control API an earlier version had go: agents dial the server now.
    const retired = [join(dataDir, 'agent-token'), join(dataDir, 'agent.json')];
    for (const f of retired) await writeFile(f, f);
    const moved = {
      [join(dataDir, 'cutover.db')]: join(dataDir, 'private', 'cutover.db'),
      [join(dataDir, 'cutover.db-wal')]: join(dataDir, 'private', 'cutover.db-wal'),
      [join(dataDir, 'cutover.db-shm')]: join(dataDir, 'private', 'cutover.db-shm'),
      ...Object.fromEntries(
        ['agent.pid', 'state.a', 'state.b', 'state.a.corrupt-1'].map((f) => [join(dataDir, 'agent', f), join(dataDir, 'agent', 'private', f)]),
      ),
    };
    const cliJson = join(dataDir, 'cli.json');
    for (const [i, f] of [...Object.keys(moved), cliJson].entries()) {
      await writeFile(f, f);
      await chmod(f, [0o644, 0o755, 0o777][i % 3]!);
    }
    const logged: string[] = [];
    const record = (o: object) => void logged.push((o as { path?: string; from?: string }).path ?? (o as { from: string }).from);
    const log = { ...silentLogger, warn: record };

    // The agent moves its files and the credentials; the server the database.
    await agentStart(dataDir, log);
    await secureServerFiles(dataDir, defaultDatabaseFile(dataDir), log);

    assert.equal(await mode(dataDir), 0o711);
    assert.equal(await mode(join(dataDir, 'agent')), 0o711);
    for (const d of ['private', 'artifacts', 'agent/private', 'agent/logs', 'agent/artifacts'])
      assert.equal(await mode(join(dataDir, d)), 0o700, d);
    for (const [from, to] of Object.entries(moved)) {
      assert.equal(await readFile(to, 'utf8'), from, `${from} moved to ${to}`);
      assert.equal(await mode(to), 0o600, to);
      await assert.rejects(stat(from), { code: 'ENOENT' });
      // The database's -wal and -shm move with it, in its line.
      if (!/-(wal|shm)$/.test(from)) assert.ok(logged.includes(from), `the move of ${from} is logged`);
    }
    for (const f of retired) await assert.rejects(stat(f), { code: 'ENOENT' }, `${f} is removed`);
    assert.equal(await mode(cliJson), 0o600, 'cli.json is the server\'s to move (out of the data directory)');
    assert.ok(logged.includes(cliJson), 'each change is logged');

    // A second start changes (and logs) nothing.
    logged.length = 0;
    await agentStart(dataDir, log);
    await secureServerFiles(dataDir, defaultDatabaseFile(dataDir), log);
    assert.deepEqual(logged, []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the server moves the database only to the default place, never beside one in use; a configured one stays', async () => {
  const root = await mkdtemp(join(tmpdir(), 'cutover-modes-'));
  const dataDir = join(root, 'data');
  try {
    const warned: string[] = [];
    const log = { ...silentLogger, warn: (_: object, msg: string) => void warned.push(msg) };
    await mkdir(join(dataDir, 'private'), { recursive: true });
    await writeFile(join(dataDir, 'cutover.db'), 'old');
    await secureServerFiles(dataDir, join(dataDir, 'cutover.db'), log);
    assert.equal(await readFile(join(dataDir, 'cutover.db'), 'utf8'), 'old', 'a configured path is used where it is');
    assert.ok(warned.some((m) => m.includes('other users may enter the directory of the database')), 'its 0711 directory is worth a warning');

    await writeFile(join(dataDir, 'private', 'cutover.db'), 'new');
    await secureServerFiles(dataDir, defaultDatabaseFile(dataDir), log);
    assert.equal(await readFile(join(dataDir, 'private', 'cutover.db'), 'utf8'), 'new', 'the database in use is never replaced');
    assert.equal(await readFile(join(dataDir, 'cutover.db'), 'utf8'), 'old');
    assert.ok(warned.some((m) => m.includes("earlier layout's database is left in place")));
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
    assert.equal(await mode(join(dataDir, 'private')), 0o700);
    assert.equal(await mode(join(dataDir, 'agent', 'private')), 0o700);
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
