import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  emptyContexts,
  findServer,
  planContextsUpdate,
  readContexts,
  urlsToProbe,
  withCaFile,
  writeContexts,
} from './cli-contexts.ts';
import type { CliContexts } from './cli-contexts.ts';
import { recordServerForCli } from './credentials.ts';
import { silentLogger } from './shared/index.ts';

const A = 'http://127.0.0.1:7070';
const B = 'http://127.0.0.1:7072';
const DIR = '/srv/app/.cutover';
const none = new Set<string>();

test('a first start records its URL, the admin token and the data directory, and becomes current', () => {
  const { next, keptLive } = planContextsUpdate(
    emptyContexts(),
    { dataDir: DIR, url: A, adminToken: 'cut_a' },
    none,
  );
  assert.equal(keptLive, undefined);
  assert.deepEqual(next, {
    version: 1,
    current: A,
    contexts: { [A]: { token: 'cut_a', dataDir: DIR } },
    dataDirs: { [DIR]: A },
  });
});

test('a restart on another port keeps the admin token of its data directory', () => {
  const before = planContextsUpdate(
    emptyContexts(),
    { dataDir: DIR, url: A, adminToken: 'cut_a' },
    none,
  ).next;
  const { next } = planContextsUpdate(before, { dataDir: DIR, url: B }, none); // A is dead
  assert.deepEqual(next.contexts[B], { token: 'cut_a', dataDir: DIR });
  assert.equal(next.dataDirs[DIR], B);
  assert.equal(next.current, B);
});

test('a token another data directory recorded for a URL is never copied to this one', () => {
  const other: CliContexts = {
    version: 1,
    contexts: { [A]: { token: 'cut_other', dataDir: '/other' } },
    dataDirs: { '/other': A, [DIR]: A },
  };
  const { next } = planContextsUpdate(other, { dataDir: DIR, url: B }, none);
  assert.deepEqual(next.contexts[B], { dataDir: DIR });
});

test('M1: a second server on the same data directory does not redirect the CLI while the recorded one answers', () => {
  const before = planContextsUpdate(
    emptyContexts(),
    { dataDir: DIR, url: A, adminToken: 'cut_a' },
    none,
  ).next;
  assert.deepEqual(urlsToProbe(before, { dataDir: DIR, url: B }), [A]);
  const { next, keptLive, keptCurrent } = planContextsUpdate(before, { dataDir: DIR, url: B }, new Set([A]));
  assert.equal(keptLive, A);
  assert.equal(keptCurrent, A);
  assert.equal(next.dataDirs[DIR], A);
  assert.equal(next.current, A);
  assert.deepEqual(next.contexts[A], { token: 'cut_a', dataDir: DIR });
  assert.deepEqual(next.contexts[B], { token: 'cut_a', dataDir: DIR }, 'the replica is usable by URL');
});

test("a live server of another data directory at the recorded URL does not hold this data directory's entry", () => {
  const c: CliContexts = {
    version: 1,
    current: A,
    contexts: { [A]: { token: 'cut_other', dataDir: '/other' } },
    dataDirs: { '/other': A, [DIR]: A },
  };
  const { next, keptLive, keptCurrent } = planContextsUpdate(
    c,
    { dataDir: DIR, url: B, adminToken: 'cut_b' },
    new Set([A]),
  );
  assert.equal(keptLive, undefined);
  assert.equal(keptCurrent, undefined);
  assert.equal(next.dataDirs[DIR], B);
  assert.equal(next.current, B);
  assert.equal(next.dataDirs['/other'], A);
});

test('the same URL restarting is never probed and rewrites its entries', () => {
  const before = planContextsUpdate(
    emptyContexts(),
    { dataDir: DIR, url: A, adminToken: 'cut_a' },
    none,
  ).next;
  assert.deepEqual(urlsToProbe(before, { dataDir: DIR, url: A }), []);
  assert.deepEqual(planContextsUpdate(before, { dataDir: DIR, url: A }, none).next, before);
});

test("an earlier version's cli.json gives its token; its URL stays usable", () => {
  const { next } = planContextsUpdate(
    emptyContexts(),
    { dataDir: DIR, url: B, legacy: { url: A, token: 'cut_old' } },
    none,
  );
  assert.deepEqual(next.contexts[B], { token: 'cut_old', dataDir: DIR });
  assert.deepEqual(next.contexts[A], { token: 'cut_old', dataDir: DIR });
});

test('the CLI: environment first, then the data directory, then current for the default one only', () => {
  const c = planContextsUpdate(emptyContexts(), { dataDir: DIR, url: A, adminToken: 'cut_a' }, none).next;
  assert.deepEqual(findServer(c, { dataDir: DIR, explicitDataDir: true }), { url: A, token: 'cut_a' });
  assert.deepEqual(findServer(c, { dataDir: '/elsewhere/.cutover', explicitDataDir: false }), {
    url: A,
    token: 'cut_a',
  });
  assert.deepEqual(findServer(c, { dataDir: '/elsewhere', explicitDataDir: true }), {});
  assert.deepEqual(findServer(c, { dataDir: DIR, explicitDataDir: true, envToken: 'cut_env' }), {
    url: A,
    token: 'cut_env',
  });
  assert.deepEqual(findServer(c, { dataDir: DIR, explicitDataDir: true, envUrl: `${A}/` }), {
    url: `${A}/`,
    token: 'cut_a',
  });
  assert.deepEqual(findServer(c, { dataDir: DIR, explicitDataDir: true, envUrl: B }), { url: B });
});

test("the CA of a server's certificate: recorded by its start (tlsCa) or by a --ca-file that worked, found with the URL", () => {
  const H = 'https://cp.internal:7070';
  const started = planContextsUpdate(emptyContexts(), { dataDir: DIR, url: H, adminToken: 'cut_a', caFile: '/etc/cutover/ca.pem' }, none).next;
  assert.deepEqual(started.contexts[H], { token: 'cut_a', dataDir: DIR, caFile: '/etc/cutover/ca.pem' });
  assert.deepEqual(findServer(started, { dataDir: DIR, explicitDataDir: true }), { url: H, token: 'cut_a', caFile: '/etc/cutover/ca.pem' });
  // A restart without tlsCa keeps the recorded one (e.g. what --ca-file named for a self-signed certificate).
  assert.equal(planContextsUpdate(started, { dataDir: DIR, url: H }, none).next.contexts[H]?.caFile, '/etc/cutover/ca.pem');

  const plain = planContextsUpdate(emptyContexts(), { dataDir: DIR, url: H, adminToken: 'cut_a' }, none).next;
  const remembered = withCaFile(plain, `${H}/`, '/home/me/ca.pem');
  assert.deepEqual(remembered?.contexts[H], { token: 'cut_a', dataDir: DIR, caFile: '/home/me/ca.pem' });
  assert.equal(plain.contexts[H]?.caFile, undefined, 'pure: the input is unchanged');
  assert.equal(withCaFile(remembered!, H, '/home/me/ca.pem'), undefined, 'nothing to write when it is already recorded');
  assert.equal(withCaFile(plain, 'https://unknown:7070', '/home/me/ca.pem'), undefined, 'only servers the CLI knows');
});

test('the contexts file is written atomically, 0600 in a 0700 directory, whatever the directory was', async () => {
  const home = await mkdtemp(join(tmpdir(), 'cutover-contexts-'));
  try {
    const dir = join(home, 'cutover');
    await mkdir(dir, { mode: 0o777 });
    await chmod(dir, 0o777);
    const file = join(dir, 'contexts.json');
    await writeFile(file, '{}', { mode: 0o644 });
    const c = planContextsUpdate(emptyContexts(), { dataDir: DIR, url: A, adminToken: 'cut_a' }, none).next;
    await writeContexts(file, c);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readContexts(file), c);
    await writeFile(file, 'not json');
    await assert.rejects(readContexts(file), /contexts\.json is not valid JSON/);
    assert.deepEqual(await readContexts(join(dir, 'missing.json')), emptyContexts());
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('a server start moves cli.json out of the data directory, and keeps a live server recorded', async () => {
  const home = await mkdtemp(join(tmpdir(), 'cutover-record-'));
  try {
    const dataDir = join(home, 'data');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'cli.json'), JSON.stringify({ url: A, token: 'cut_old' }), { mode: 0o644 });
    const file = join(home, 'config', 'cutover', 'contexts.json');
    const logged: string[] = [];
    const log = { ...silentLogger, warn: (_: object, msg: string) => void logged.push(msg) };
    await recordServerForCli({ contextsFile: file, dataDir, url: A, log, probe: async () => false });
    await assert.rejects(stat(join(dataDir, 'cli.json')), { code: 'ENOENT' });
    assert.ok(logged.some((m) => /migrated the CLI's credentials/.test(m)));
    const after = JSON.parse(await readFile(file, 'utf8')) as CliContexts;
    assert.deepEqual(after.contexts[A], { token: 'cut_old', dataDir });

    // A replica on B with the same data directory while A answers: the CLI stays on A.
    const probed: string[] = [];
    await recordServerForCli({
      contextsFile: file,
      dataDir,
      url: B,
      log,
      probe: async (u) => (probed.push(u), true),
    });
    assert.deepEqual(probed, [A]);
    const replica = JSON.parse(await readFile(file, 'utf8')) as CliContexts;
    assert.equal(replica.dataDirs[dataDir], A);
    assert.equal(replica.current, A);
    // Once A is gone, the next start takes over.
    await recordServerForCli({ contextsFile: file, dataDir, url: B, log, probe: async () => false });
    assert.equal((JSON.parse(await readFile(file, 'utf8')) as CliContexts).dataDirs[dataDir], B);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
