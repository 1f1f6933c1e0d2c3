import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, link, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { isCutoverError } from '../shared/index.ts';
import { packArtifact } from './index.ts';
import type { PackedArtifact } from './index.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-pack-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Builds the same small app tree; `order` changes the creation order, `mtime` the timestamps. */
async function makeApp(dir: string, order: 'forward' | 'backward', mtime: Date): Promise<void> {
  const files: [string, string, number][] = [
    ['server.js', 'console.log("hi")\n', 0o644],
    ['bin/run', '#!/bin/sh\nexec node server.js\n', 0o755],
    ['lib/a.js', 'export const a = 1;\n', 0o600],
    ['lib/z/deep.txt', 'deep\n', 0o664],
    ['@scoped', 'not an archive\n', 0o644],
  ];
  if (order === 'backward') files.reverse();
  for (const [name, content, mode] of files) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    await chmod(file, mode);
    await utimes(file, mtime, mtime);
  }
  await mkdir(path.join(dir, 'empty'), { recursive: true });
  await symlink('server.js', path.join(dir, 'link.js'));
}

async function packed(t: { after: (fn: () => Promise<void>) => void }, dir: string): Promise<PackedArtifact> {
  const result = await packArtifact(dir, path.dirname(dir));
  t.after(() => rm(result.file, { force: true }));
  return result;
}

test('packing two copies of the same tree made at different times gives the same digest', async (t) => {
  const root = await tempDir(t);
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  await makeApp(a, 'forward', new Date('2020-01-01T00:00:00Z'));
  await makeApp(b, 'backward', new Date('2025-06-01T12:34:56Z'));
  const pa = await packed(t, a);
  const pb = await packed(t, b);
  assert.equal(pa.temporary, true);
  assert.match(pa.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(pa.digest, pb.digest);
  const bytes = await readFile(pa.file);
  assert.equal(pa.size, bytes.length);
  assert.equal(pa.digest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);

  const entries: { path: string; mode: number | undefined; mtime: Date | undefined }[] = [];
  await tar.list({ file: pa.file, onReadEntry: (e) => void entries.push({ path: e.path, mode: e.mode, mtime: e.mtime }) });
  assert.deepEqual(
    entries.map((e) => e.path),
    ['./@scoped', './bin/', './bin/run', './empty/', './lib/', './lib/a.js', './lib/z/', './lib/z/deep.txt', './link.js', './server.js'],
  );
  const modes = Object.fromEntries(entries.map((e) => [e.path, e.mode]));
  assert.equal(modes['./bin/run'], 0o755);
  assert.equal(modes['./lib/a.js'], 0o644);
  assert.equal(modes['./lib/z/deep.txt'], 0o644);
  assert.equal(modes['./bin/'], 0o755);
  assert.ok(entries.every((e) => e.mtime === undefined || e.mtime.getTime() === 0));
});

test('changing a file or its executable bit changes the digest', async (t) => {
  const root = await tempDir(t);
  const dir = path.join(root, 'app');
  await makeApp(dir, 'forward', new Date());
  const before = await packed(t, dir);
  await writeFile(path.join(dir, 'lib/a.js'), 'export const a = 2;\n');
  const changed = await packed(t, dir);
  assert.notEqual(changed.digest, before.digest);
  await chmod(path.join(dir, 'lib/a.js'), 0o700);
  const executable = await packed(t, dir);
  assert.notEqual(executable.digest, changed.digest);
});

test('a hard-linked file packs like a plain copy', async (t) => {
  const root = await tempDir(t);
  const copy = path.join(root, 'copy');
  const linked = path.join(root, 'linked');
  for (const dir of [copy, linked]) {
    await mkdir(dir);
    await writeFile(path.join(dir, 'a.txt'), 'same\n');
  }
  await writeFile(path.join(copy, 'b.txt'), 'same\n');
  await link(path.join(linked, 'a.txt'), path.join(linked, 'b.txt'));
  assert.equal((await packed(t, copy)).digest, (await packed(t, linked)).digest);
});

test('a .tgz file passes through: its own bytes, digest and path', async (t) => {
  const root = await tempDir(t);
  const dir = path.join(root, 'app');
  await makeApp(dir, 'forward', new Date());
  const file = path.join(root, 'app.tar.gz');
  await tar.create({ gzip: true, cwd: dir, file }, ['.']);
  const bytes = await readFile(file);
  const result = await packArtifact(file);
  assert.deepEqual(result, {
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    size: bytes.length,
    file,
    temporary: false,
  });
});

test('a missing path, a non-archive file, a corrupt or escaping .tgz, an empty directory are refused', async (t) => {
  const root = await tempDir(t);
  const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isCutoverError(e) ? e.code : String(e)));
  assert.equal(await code(packArtifact(path.join(root, 'nope'))), 'ARTIFACT_NOT_FOUND');
  await writeFile(path.join(root, 'app.zip'), 'zip');
  assert.equal(await code(packArtifact(path.join(root, 'app.zip'))), 'ARTIFACT_INVALID');
  await writeFile(path.join(root, 'corrupt.tgz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]));
  assert.equal(await code(packArtifact(path.join(root, 'corrupt.tgz'))), 'ARTIFACT_INVALID');
  await mkdir(path.join(root, 'inner'));
  await writeFile(path.join(root, 'outside.txt'), 'x');
  await tar.create({ gzip: true, cwd: path.join(root, 'inner'), file: path.join(root, 'evil.tgz'), preservePaths: true }, ['../outside.txt']);
  const evil = await packArtifact(path.join(root, 'evil.tgz')).catch((e: unknown) => e);
  assert.ok(isCutoverError(evil) && evil.code === 'ARTIFACT_INVALID' && /outside the archive root/.test(evil.message));
  await mkdir(path.join(root, 'empty'));
  assert.equal(await code(packArtifact(path.join(root, 'empty'))), 'ARTIFACT_INVALID');
});
