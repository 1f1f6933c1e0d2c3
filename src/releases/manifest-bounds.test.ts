import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isCutoverError } from '../shared/index.ts';
import type { FieldIssue } from '../shared/index.ts';
import { loadManifest, packArtifact } from './index.ts';
import type { LoadManifestOptions } from './index.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-bounds-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function write(dir: string, name: string, text: string | Buffer): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

async function issues(file: string, options?: LoadManifestOptions): Promise<FieldIssue[]> {
  const err = await loadManifest(file, options).then(
    () => assert.fail('expected MANIFEST_INVALID'),
    (e: unknown) => e,
  );
  assert.ok(isCutoverError(err), `not a CutoverError: ${String(err)}`);
  assert.equal(err.code, 'MANIFEST_INVALID');
  return err.details['issues'] as FieldIssue[];
}

const HEAD = 'app: shop\nversion: 1.0.0\nstart: node server.js\n';

test('env in a manifest: NUL bytes, long values, and the total with start are refused by key, never quoting the value', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'app'));
  const secret = 'TopSecretPassw0rd';
  const nul = await write(dir, 'nul.yml', `${HEAD}artifact: app\nenv:\n  OK: fine\n  DB_URL: "postgres://u:${secret}\\0@db"\n`);
  const [issue, ...rest] = await issues(nul);
  assert.equal(rest.length, 0);
  assert.equal(issue!.path, 'env.DB_URL');
  assert.match(issue!.message, /NUL byte/);
  assert.doesNotMatch(JSON.stringify(issue), new RegExp(secret));

  const big = await write(dir, 'big.yml', `${HEAD}artifact: app\nenv:\n  BLOB: "${secret}${'z'.repeat(40_000)}"\n`);
  const [long] = await issues(big);
  assert.equal(long!.path, 'env.BLOB');
  assert.match(long!.message, /at most 32768 bytes per value/);
  assert.doesNotMatch(long!.message, new RegExp(secret));

  const values = Array.from({ length: 3 }, (_, i) => `  V${i}: "${'v'.repeat(30_000)}"`).join('\n');
  const total = await write(dir, 'total.yml', `${HEAD}artifact: app\nenv:\n${values}\n`);
  const [sum] = await issues(total);
  assert.equal(sum!.path, 'env');
  assert.match(sum!.message, /together with the start command; at most 65536 bytes/);

  const start = await write(dir, 'start.yml', 'app: shop\nversion: 1.0.0\nartifact: app\nstart: "node\\0 x"\n');
  assert.equal((await issues(start))[0]!.path, 'start');
});

test('extends refuses /dev/zero, a FIFO, a socket and a directory before reading, and caps the file size', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'app'));
  const fifo = path.join(dir, 'base.fifo');
  execFileSync('mkfifo', [fifo]);
  const sock = path.join(dir, 'base.sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await write(dir, 'huge.yml', `# ${'x'.repeat(1024 * 1024)}\napp: shop\n`);

  const cases: [string, RegExp][] = [
    ['/dev/zero', /must be a regular file, but it is a character device: \/dev\/zero \(extended by/],
    [fifo, /must be a regular file, but it is a FIFO/],
    [sock, /must be a regular file, but it is a socket/],
    [path.join(dir, 'app'), /must be a regular file, but it is a directory/],
    [path.join(dir, 'huge.yml'), /a manifest file may be at most 1048576 bytes/],
  ];
  for (const [target, expected] of cases) {
    const file = await write(dir, 'release.yml', `extends: ${target}\n${HEAD}artifact: app\n`);
    const found = await issues(file);
    assert.equal(found[0]!.path, 'extends', target);
    assert.match(found[0]!.message, expected);
  }

  // The release file itself, given on the command line.
  const [top] = await issues(fifo);
  assert.match(top!.message, /FIFO/);
});

test('artifact refuses what is neither a directory nor a .tgz file, a .tgz over the size cap, and paths outside the manifest', async (t) => {
  const dir = await tempDir(t);
  const project = path.join(dir, 'project');
  await write(project, 'app/server.js', 'console.log(1)\n');
  execFileSync('mkfifo', [path.join(project, 'pipe.tgz')]);
  await write(project, 'big.tgz', Buffer.alloc(4096));

  const check = async (artifact: string, expected: RegExp, options?: LoadManifestOptions) => {
    const file = await write(project, 'releases/1.0.0.yml', `${HEAD}artifact: ${artifact}\n`);
    const found = await issues(file, options);
    assert.equal(found[0]!.path, 'artifact', artifact);
    assert.match(found[0]!.message, expected);
  };
  await check('/dev/zero', /must be a directory or a \.tgz\/\.tar\.gz file, but it is a character device/);
  await check('../pipe.tgz', /but it is a FIFO/);
  await check('../big.tgz', /is 4096 bytes; an artifact may be at most 1024 bytes/, { maxArtifactBytes: 1024 });

  // Outside every directory of the chain: refused unless allowed; the example layout
  // (releases/1.0.0.yml extending ../cutover.yml with artifact ../app) stays accepted.
  await check('/etc', /is outside the manifest's directory.*--allow-artifact-outside/);
  const outside = await write(project, 'releases/1.0.0.yml', `${HEAD}artifact: /etc\n`);
  assert.equal((await loadManifest(outside, { allowArtifactOutside: true })).artifactPath, '/etc');
  await symlink('/etc', path.join(project, 'releases', 'etc-link'));
  await check('etc-link', /is outside the manifest's directory/);

  await write(project, 'cutover.yml', HEAD);
  const release = await write(project, 'releases/1.1.0.yml', 'extends: ../cutover.yml\nversion: 1.1.0\nartifact: ../app\n');
  assert.equal((await loadManifest(release)).artifactPath, path.join(project, 'app'));
});

test('packing stops at the size cap and leaves no partial archive', async (t) => {
  const dir = await tempDir(t);
  await write(dir, 'app/blob.bin', randomBytes(64 * 1024));
  await assert.rejects(
    packArtifact(path.join(dir, 'app'), dir, 16 * 1024),
    (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_INVALID' && /larger than 16384 bytes/.test(e.message),
  );
  assert.deepEqual(await readdir(dir), ['app']);
});
