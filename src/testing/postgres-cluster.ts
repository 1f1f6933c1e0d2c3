import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { access, chown, mkdtemp, open, readdir, readFile, rm, statfs } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { createPostgresStore } from '../store/index.ts';

/** A throwaway PostgreSQL server for tests. */
export interface TestCluster {
  /** The maintenance database (`postgres`) as the superuser: for raw SQL in tests. */
  url: string;
  /** Creates a fresh, empty, migrated database and returns its URL. */
  createDatabase(): Promise<string>;
  /**
   * Drops a database `createDatabase` made, in the background (a backend still exiting after its pool
   * ended makes DROP wait ~100 ms; tests need not). `stop` waits for pending drops and reports failures.
   */
  discardDatabase(url: string): void;
  /**
   * The same database over the server's Unix socket (`?host=<socket directory>`): reachable from a
   * process in another network namespace, where 127.0.0.1 is not this one's loopback.
   */
  socketUrl(url: string): string;
  /** Stops the server (fast shutdown, SIGKILL after a bounded wait) and removes its directory. */
  stop(): Promise<void>;
}

const TEMPLATE = 'cutover_template';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * Starts a private PostgreSQL server: `initdb` into a temp directory, `postgres` on a free loopback
 * port with durability switched off (a test cluster never outlives its process), and a migrated
 * template database that `createDatabase` clones, so each test gets an empty store in milliseconds.
 *
 * PostgreSQL refuses to run as root; when the tests run as root, the server runs as the `postgres`
 * system user instead, or this fails with an error that says so.
 */
export async function startTestCluster(): Promise<TestCluster> {
  const bin = await findPostgresBin();
  const runAs = await unprivilegedUser();
  const dir = await mkdtemp(join(await scratchRoot(), 'cutover-pg-'));
  let server: ChildProcess | undefined;
  let admin: pg.Pool | undefined;
  try {
    if (runAs) await chown(dir, runAs.uid, runAs.gid);
    const data = join(dir, 'data');
    await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], runAs, dir);
    let port = 0;
    // A port picked by binding 0 can be taken again before postgres binds it: retry on another.
    for (let attempt = 1; ; attempt++) {
      port = await freeLoopbackPort();
      const started = await startPostgres(join(bin, 'postgres'), data, dir, port, runAs);
      if (started.ok) {
        server = started.child;
        break;
      }
      if (attempt === 3) throw new Error(`PostgreSQL did not start: ${started.reason}`);
    }
    const base = `postgres://postgres@127.0.0.1:${port}`;
    admin = new pg.Pool({ connectionString: `${base}/postgres`, max: 1 });
    admin.on('error', () => {});
    const adminPool = admin;
    await admin.query(`CREATE DATABASE ${TEMPLATE}`);
    // Opening a store migrates its database; closing it leaves the template without connections,
    // which CREATE DATABASE … TEMPLATE needs.
    const template = await createPostgresStore(`${base}/${TEMPLATE}`);
    await template.close();

    // A connection of its own for drops, so a slow drop never delays the next createDatabase.
    const dropper = new pg.Pool({ connectionString: `${base}/postgres`, max: 1 });
    dropper.on('error', () => {});
    let drops = Promise.resolve();
    let dropFailure: unknown;
    let counter = 0;
    let queue: Promise<unknown> = Promise.resolve();
    const child = server;
    // If the test process exits without stop(), do not leave a server behind.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    return {
      url: `${base}/postgres`,
      createDatabase() {
        const name = `cutover_test_${++counter}`;
        // Serialised: cloning takes a lock on the template, and one at a time is as fast.
        const created = queue.then(() => adminPool.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`));
        queue = created.catch(() => {});
        return created.then(() => `${base}/${name}`);
      },
      socketUrl(url) {
        return `${url}?host=${encodeURIComponent(dir)}`;
      },
      discardDatabase(url) {
        const name = new URL(url).pathname.slice(1);
        if (!/^cutover_test_\d+$/.test(name)) throw new Error(`not a test database: ${name}`);
        // FORCE: connections still open to it are closed rather than making the drop fail.
        drops = drops.then(() => dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
          () => {},
          (error: unknown) => {
            dropFailure ??= error;
          },
        );
      },
      async stop() {
        process.off('exit', killOnExit);
        await drops;
        await Promise.all([adminPool.end(), dropper.end()]).catch(() => {});
        await stopServer(child);
        await rm(dir, { recursive: true, force: true });
        if (dropFailure) throw new Error('dropping a test database failed', { cause: dropFailure });
      },
    };
  } catch (error) {
    await admin?.end().catch(() => {});
    if (server) await stopServer(server);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The directory holding `initdb` and `postgres`: PATH, then /usr/local/bin, then the newest /usr/lib/postgresql/N/bin. */
async function findPostgresBin(): Promise<string> {
  const candidates = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  candidates.push('/usr/local/bin');
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  versions.sort((a, b) => Number(b) - Number(a));
  candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  for (const dir of candidates) {
    const ok = await Promise.all(['initdb', 'postgres'].map((b) => access(join(dir, b), constants.X_OK).then(() => true, () => false)));
    if (ok.every(Boolean)) return dir;
  }
  throw new Error('PostgreSQL is not installed: no initdb and postgres on PATH, in /usr/local/bin or in /usr/lib/postgresql/*/bin');
}

/**
 * Where the cluster lives: /dev/shm when it is a roomy tmpfs, else the temp directory. On a real
 * disk CREATE DATABASE costs ~200 ms even with fsync off (it writes the whole 7 MB template); on
 * tmpfs ~20 ms. Containers often give /dev/shm only 64 MB, hence the free-space check.
 */
async function scratchRoot(): Promise<string> {
  const shm = '/dev/shm';
  try {
    const fs = await statfs(shm);
    await access(shm, constants.W_OK);
    if (fs.bavail * fs.bsize >= 1024 ** 3) return shm;
  } catch {
    // not Linux, or no /dev/shm
  }
  return tmpdir();
}

/** When running as root: the `postgres` system user to run the server as (initdb and postgres refuse root). */
async function unprivilegedUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres' && uid && gid) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(
    'the PostgreSQL test cluster cannot start as root: initdb and postgres refuse to run as root. ' +
      'Run the tests as an ordinary user, or create a `postgres` system user for the server to run as.',
  );
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

type RunAs = { uid: number; gid: number } | undefined;

const childOptions = (runAs: RunAs, cwd: string) => ({
  cwd,
  // A predictable environment: no PG* variables from the developer's shell, no locale surprises.
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' },
  ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
});

/** Runs a command to completion; rejects with its output if it fails. */
function run(command: string, args: string[], runAs: RunAs, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...childOptions(runAs, cwd), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}:\n${output.trim()}`)),
    );
  });
}

/** Spawns the server and polls until it accepts connections, exits, or the deadline passes. */
async function startPostgres(
  command: string,
  data: string,
  dir: string,
  port: number,
  runAs: RunAs,
): Promise<{ ok: true; child: ChildProcess } | { ok: false; reason: string }> {
  const logFile = join(dir, `postgres-${port}.log`);
  // The log goes to a file, not a pipe: a pipe nobody drains would stall the server once full.
  const log = await open(logFile, 'a');
  if (runAs) await chown(logFile, runAs.uid, runAs.gid);
  const args = ['-D', data, '-p', String(port), '-k', dir, '-h', '127.0.0.1', '-F'];
  for (const setting of ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=200']) args.push('-c', setting);
  const child = spawn(command, args, { ...childOptions(runAs, dir), stdio: ['ignore', log.fd, log.fd] });
  await log.close();
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(error.message));
    child.once('exit', (code, signal) => resolve(`postgres exited (${signal ?? code})`));
  });
  let gone: string | undefined;
  void exited.then((reason) => (gone = reason));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  while (gone === undefined && Date.now() < deadline) {
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return { ok: true, child };
    } catch (error) {
      lastError = (error as Error).message;
      await client.end().catch(() => {});
    }
    // Poll interval while the server starts (typically 100–300 ms); the deadline bounds the wait.
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 25).unref())]);
  }
  const tail = (await readFile(logFile, 'utf8').catch(() => '')).slice(-2000).trim();
  if (gone === undefined) await stopServer(child);
  return { ok: false, reason: `${gone ?? `not accepting connections after ${READY_TIMEOUT_MS} ms (${lastError})`}\n${tail}` };
}

/** Fast shutdown (SIGINT: abort transactions, exit cleanly); SIGKILL if it has not exited in time. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
    timer.unref();
  });
  if (await Promise.race([exited.then(() => false), timedOut])) {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}
