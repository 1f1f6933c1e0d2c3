import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { symlink } from 'node:fs/promises';
import * as tar from 'tar';
import { isCutoverError } from '../shared/index.ts';
import { packArtifact, unpackArtifact } from './index.ts';
import { tarHeader } from '../testing/index.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-unpack-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function packedApp(root: string): Promise<string> {
  const src = path.join(root, 'src');
  await mkdir(path.join(src, 'bin'), { recursive: true });
  await mkdir(path.join(src, 'empty'));
  await writeFile(path.join(src, 'server.js'), 'console.log("hello")\n');
  await writeFile(path.join(src, 'bin', 'run'), '#!/bin/sh\necho run\n');
  await chmod(path.join(src, 'bin', 'run'), 0o755);
  await symlink('server.js', path.join(src, 'main.js'));
  return (await packArtifact(src, root)).file;
}

test('unpack round-trips contents, the executable bit and symlinks', async (t) => {
  const root = await tempDir(t);
  const tgz = await packedApp(root);
  const dest = path.join(root, 'slots', 'sha256-abc');
  await unpackArtifact(tgz, dest);
  assert.equal(await readFile(path.join(dest, 'server.js'), 'utf8'), 'console.log("hello")\n');
  assert.equal(await readFile(path.join(dest, 'bin', 'run'), 'utf8'), '#!/bin/sh\necho run\n');
  assert.equal((await stat(path.join(dest, 'bin', 'run'))).mode & 0o111, 0o111);
  assert.equal((await stat(path.join(dest, 'server.js'))).mode & 0o111, 0);
  assert.equal(await readlink(path.join(dest, 'main.js')), 'server.js');
  assert.ok((await stat(path.join(dest, 'empty'))).isDirectory());
  // Nothing but the destination is left in its parent.
  assert.deepEqual(await readdir(path.dirname(dest)), ['sha256-abc']);
});

test('unpack into an existing directory does nothing; concurrent unpacks agree', async (t) => {
  const root = await tempDir(t);
  const tgz = await packedApp(root);
  const dest = path.join(root, 'out');
  await unpackArtifact(tgz, dest);
  await writeFile(path.join(dest, 'marker'), 'kept');
  await unpackArtifact(tgz, dest);
  assert.equal(await readFile(path.join(dest, 'marker'), 'utf8'), 'kept');

  const racing = path.join(root, 'race');
  await Promise.all(Array.from({ length: 5 }, () => unpackArtifact(tgz, racing)));
  assert.equal(await readFile(path.join(racing, 'server.js'), 'utf8'), 'console.log("hello")\n');
  assert.deepEqual((await readdir(root)).filter((n) => n.startsWith('.')), []);
});

test('a corrupt or escaping archive fails and leaves no destination behind', async (t) => {
  const root = await tempDir(t);
  const corrupt = path.join(root, 'corrupt.tgz');
  await writeFile(corrupt, Buffer.from([0x1f, 0x8b, 8, 0, 9, 9, 9, 9, 9]));
  const dest = path.join(root, 'out');
  await assert.rejects(unpackArtifact(corrupt, dest), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_INVALID');

  await mkdir(path.join(root, 'inner'));
  await writeFile(path.join(root, 'outside.txt'), 'x');
  const evil = path.join(root, 'evil.tgz');
  await tar.create({ gzip: true, cwd: path.join(root, 'inner'), file: evil, preservePaths: true }, ['../outside.txt']);
  await assert.rejects(unpackArtifact(evil, dest), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_INVALID');
  await assert.rejects(stat(dest), { code: 'ENOENT' });
  await assert.rejects(unpackArtifact(path.join(root, 'missing.tgz'), dest), (e: unknown) => isCutoverError(e) && e.code === 'ARTIFACT_NOT_FOUND');
  assert.deepEqual((await readdir(root)).sort(), ['corrupt.tgz', 'evil.tgz', 'inner', 'outside.txt']);
});

test('a symlink then a file of the same name fails with its real cause, and leaves no temporary directory', async (t) => {
  const root = await tempDir(t);
  const outside = path.join(root, 'outside.txt');
  await writeFile(outside, 'untouched');
  // The review's tarball: `victim` → an absolute file outside the root, then a regular `victim`.
  const evil = path.join(root, 'evil.tgz');
  const link = new tar.Header({ path: 'victim', type: 'SymbolicLink', linkpath: outside, mode: 0o777, size: 0 });
  const body = Buffer.from('overwritten');
  const file = new tar.Header({ path: 'victim', type: 'File', mode: 0o644, size: body.length });
  const blocks: Buffer[] = [];
  const add = (h: tar.Header) => {
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block);
    if (h.size) blocks.push(Buffer.concat([body, Buffer.alloc(512 - body.length)]));
  };
  // Many entries around the bad pair keep the unpacker writing when it fails: the race.
  const filler = (prefix: string) => {
    for (let i = 0; i < 200; i++) add(new tar.Header({ path: `${prefix}${i}/a.txt`, type: 'File', mode: 0o644, size: body.length }));
  };
  filler('before');
  add(link);
  add(file);
  filler('after');
  blocks.push(Buffer.alloc(1024));
  const { gzipSync } = await import('node:zlib');
  await writeFile(evil, gzipSync(Buffer.concat(blocks)));
  const dest = path.join(root, 'releases', 'sha256-x');
  await assert.rejects(unpackArtifact(evil, dest), (e: unknown) => {
    assert.ok(isCutoverError(e), String(e));
    assert.equal(e.code, 'ARTIFACT_INVALID');
    assert.match(e.message, /absolute linkpath/, 'the original error');
    return true;
  });
  assert.equal(await readFile(outside, 'utf8'), 'untouched');
  assert.deepEqual(await readdir(path.join(root, 'releases')), [], 'no .sha256-….tmp-… directory is left behind');
});

/** A gzipped ustar archive written byte by byte, so its modes are exactly what the test says (as any client could upload). */
function rawTgz(entries: { name: string; mode: number; body?: string; dir?: boolean }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const header = tarHeader(e.name, body.length, e.dir ? '5' : '0', e.mode);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

test('setuid, setgid and sticky bits are cleared on unpack (L1), with or without a group', async (t) => {
  const root = await tempDir(t);
  const tgz = path.join(root, 'suid.tgz');
  await writeFile(
    tgz,
    rawTgz([
      { name: 'bin/', mode: 0o3777, dir: true },
      { name: 'bin/escalate', mode: 0o6755, body: '#!/bin/sh\nid\n' },
      { name: 'notes.txt', mode: 0o4644, body: 'x' },
    ]),
  );
  const plain = path.join(root, 'plain');
  await unpackArtifact(tgz, plain);
  assert.equal((await stat(path.join(plain, 'bin', 'escalate'))).mode & 0o7777, 0o755);
  assert.equal((await stat(path.join(plain, 'notes.txt'))).mode & 0o7000, 0);
  assert.equal((await stat(path.join(plain, 'bin'))).mode & 0o7000, 0);

  const gid = process.getgid?.() ?? 0;
  const grouped = path.join(root, 'grouped');
  await unpackArtifact(tgz, grouped, { group: gid });
  const modeOf = async (p: string) => (await stat(path.join(grouped, p))).mode & 0o7777;
  assert.equal(await modeOf('bin/escalate'), 0o750);
  assert.equal(await modeOf('notes.txt'), 0o640);
  assert.equal(await modeOf('bin'), 0o750);
  assert.equal(await modeOf('.'), 0o750);
});

test('with a group, the tree belongs to this uid and that group, symlinks untouched (root only)', async (t) => {
  if (process.getuid?.() !== 0) {
    assert.notEqual(process.env.CI, 'true', 'CI runs as root: this test must not be skipped there');
    t.skip('needs root to chown');
    return;
  }
  const root = await tempDir(t);
  const tgz = await packedApp(root);
  const outside = path.join(root, 'outside.txt');
  await writeFile(outside, 'x');
  await chmod(outside, 0o600);
  const dest = path.join(root, 'inst', 'sha256-abc');
  await unpackArtifact(tgz, dest, { group: 61234 });
  for (const p of ['.', 'server.js', 'bin', 'bin/run', 'empty']) {
    const st = await stat(path.join(dest, p));
    assert.equal(st.uid, 0, p);
    assert.equal(st.gid, 61234, p);
  }
  assert.equal((await stat(path.join(dest, 'bin', 'run'))).mode & 0o7777, 0o750);
  assert.equal((await stat(path.join(dest, 'server.js'))).mode & 0o7777, 0o640);
  assert.equal((await lstat(path.join(dest, 'main.js'))).gid, 61234);
  // The file outside that nothing points at keeps its owner and mode.
  assert.equal((await stat(outside)).mode & 0o7777, 0o600);
});
