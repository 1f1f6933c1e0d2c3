import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { artifactsToCollect, packArtifact, sniffTarGz } from './index.ts';
import { isTarHeader } from './sniff-artifact.ts';

test('the sniff accepts a packed .tgz and refuses zeros, a bare tar, gzip of something else and an empty archive', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-sniff-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'app'));
  await writeFile(path.join(dir, 'app', 'server.js'), 'console.log(1)\n');
  const tgz = await readFile((await packArtifact(path.join(dir, 'app'), dir)).file);
  assert.deepEqual(sniffTarGz(tgz, true), { kind: 'tgz' });
  // The first chunk alone is enough to decide; one byte is not.
  assert.deepEqual(sniffTarGz(tgz.subarray(0, 200), false), { kind: 'tgz' });
  assert.deepEqual(sniffTarGz(tgz.subarray(0, 1), false), { kind: 'more' });
  assert.deepEqual(sniffTarGz(tgz.subarray(0, 12), false), { kind: 'more' });

  const bareTar = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    tar.create({ cwd: dir, portable: true }, ['app']).on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
  });
  assert.ok(isTarHeader(bareTar.subarray(0, 512)));

  const refused: [Buffer, RegExp][] = [
    [Buffer.alloc(300_000), /is not gzip data/],
    [bareTar, /is not gzip data/],
    [gzipSync(Buffer.from('x'.repeat(4096))), /not of a tar archive/],
    [gzipSync(Buffer.alloc(1024)), /empty tar archive/],
    [gzipSync(Buffer.from('short')), /shorter than one tar header/],
    [Buffer.from([0x1f, 0x8b, 0xff, 0xff, 0xff]), /not valid gzip data/],
    [Buffer.alloc(0), /is not gzip data/],
  ];
  for (const [bytes, expected] of refused) {
    const verdict = sniffTarGz(bytes.subarray(0, 64 * 1024), bytes.length <= 64 * 1024);
    assert.equal(verdict.kind, 'invalid', String(expected));
    assert.match((verdict as { problem: string }).problem, expected);
  }
});

test('artifactsToCollect picks unreferenced uploads and leftover temporary files once old enough, never a referenced one', () => {
  const DAY = 86_400_000;
  const now = 10 * DAY;
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  const files = [
    { name: 'sha256-a.tgz', digest: d('a'), mtimeMs: now - 5 * DAY },
    { name: 'sha256-b.tgz', digest: d('b'), mtimeMs: now - 5 * DAY },
    { name: 'sha256-c.tgz', digest: d('c'), mtimeMs: now - DAY + 1 },
    { name: 'sha256-e.tgz', digest: d('e'), mtimeMs: now - DAY },
    { name: '.tmp-1', mtimeMs: now - 2 * DAY },
    { name: '.tmp-2', mtimeMs: now - 1000 },
  ];
  const picked = artifactsToCollect(files, new Set([d('a')]), now, DAY).map((f) => f.name);
  assert.deepEqual(picked, ['sha256-b.tgz', 'sha256-e.tgz', '.tmp-1']);
  assert.deepEqual(artifactsToCollect(files, new Set(), now, 30 * DAY), []);
  assert.deepEqual(artifactsToCollect([], new Set(), now, 0), []);
});
