import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { isCutoverError } from '../shared/index.ts';
import { createUnpackBudget, unpackInChild } from './index.ts';
import { tarHeader } from '../testing/index.ts';

function tgz(files: { name: string; body: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(tarHeader(f.name, f.body.length), f.body, Buffer.alloc((512 - (f.body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const LIMITS = { maxEntries: 1000, maxBytes: 1024 * 1024, maxHeapMiB: 256 };

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutover-budget-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function refused(p: Promise<unknown>, code: string, message: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCutoverError(e), String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

test('the budget counts entries and bytes and names the setting that was exceeded', () => {
  const b = createUnpackBudget({ maxEntries: 3, maxBytes: 100 });
  assert.equal(b.add(40), undefined);
  assert.equal(b.add(60), undefined);
  assert.match(b.add(1) ?? '', /more than 100 bytes \(setting unpackMaxSize\)/);
  const c = createUnpackBudget({ maxEntries: 2, maxBytes: 100 });
  c.add(0);
  c.add(0);
  assert.match(c.add(0) ?? '', /more than 2 entries \(setting unpackMaxEntries\)/);
  assert.equal(c.entries, 3);
});

test('unpacking in the child: verified and unpacked; over the entry or size budget, or with the wrong digest, nothing is unpacked', async (t) => {
  const dir = await setup(t);
  const small = tgz([{ name: 'server.js', body: Buffer.from('console.log(1)\n') }, { name: 'lib/a.js', body: Buffer.from('x') }]);
  const file = path.join(dir, 'small.tgz');
  await writeFile(file, small);
  const dest = path.join(dir, 'releases', 'small');
  await unpackInChild(file, dest, digestOf(small), LIMITS);
  assert.equal(await readFile(path.join(dest, 'server.js'), 'utf8'), 'console.log(1)\n');

  // The unpacked directory is the cache: it is used as is, without reading the .tgz again.
  await writeFile(file, 'garbage');
  await unpackInChild(file, dest, digestOf(small), LIMITS);

  const many = tgz(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, body: Buffer.alloc(0) })));
  await writeFile(path.join(dir, 'many.tgz'), many);
  await refused(
    unpackInChild(path.join(dir, 'many.tgz'), path.join(dir, 'releases', 'many'), digestOf(many), { ...LIMITS, maxEntries: 10 }),
    'ARTIFACT_INVALID',
    /holds more than 10 entries \(setting unpackMaxEntries\); nothing was unpacked/,
  );
  const big = tgz([{ name: 'big.bin', body: Buffer.alloc(64 * 1024) }]);
  await writeFile(path.join(dir, 'big.tgz'), big);
  await refused(
    unpackInChild(path.join(dir, 'big.tgz'), path.join(dir, 'releases', 'big'), digestOf(big), { ...LIMITS, maxBytes: 1024 }),
    'ARTIFACT_INVALID',
    /unpacks to more than 1024 bytes \(setting unpackMaxSize\)/,
  );

  // L5: a .tgz replaced at rest is refused by digest, whatever it holds.
  const other = tgz([{ name: 'server.js', body: Buffer.from('tampered') }]);
  await writeFile(path.join(dir, 'swapped.tgz'), other);
  await refused(
    unpackInChild(path.join(dir, 'swapped.tgz'), path.join(dir, 'releases', 'swapped'), digestOf(small), LIMITS),
    'ARTIFACT_DIGEST_MISMATCH',
    /does not hash to sha256:[0-9a-f]{64}.*changed or damaged at rest/,
  );
  assert.deepEqual((await readdir(path.join(dir, 'releases'))).sort(), ['small']);
});

test('a child that runs out of its heap fails alone, with the setting named', async (t) => {
  const dir = await setup(t);
  const many = tgz(Array.from({ length: 30_000 }, (_, i) => ({ name: `d${i % 100}/f${i}`, body: Buffer.alloc(0) })));
  const file = path.join(dir, 'many.tgz');
  await writeFile(file, many);
  await refused(
    unpackInChild(file, path.join(dir, 'out'), digestOf(many), { maxEntries: 1_000_000, maxBytes: 1024 ** 3, maxHeapMiB: 24 }),
    'ARTIFACT_INVALID',
    /ran out of its 24 MiB heap \(setting unpackMaxHeap\)/,
  );
  await assert.rejects(stat(path.join(dir, 'out')));
});

test("the child hands the copy to the instance's group (per-instance release copies): root:<gid>, 0750/0640", async (t) => {
  const dir = await setup(t);
  const app = tgz([{ name: 'server.js', body: Buffer.from('console.log(1)\n') }]);
  const file = path.join(dir, 'app.tgz');
  await writeFile(file, app);
  // Root (the agent with per-instance uids, and CI) may give the copy to any group; another user only to its own.
  const group = process.getuid?.() === 0 ? 61234 : (process.getgid?.() ?? 0);
  const dest = path.join(dir, 'releases', 'web', 'sha256-x');
  await unpackInChild(file, dest, digestOf(app), LIMITS, { group });
  for (const [p, mode] of [['.', 0o750], ['server.js', 0o640]] as const) {
    const st = await stat(path.join(dest, p));
    assert.equal(st.gid, group, p);
    assert.equal(st.uid, process.getuid?.() ?? 0, p);
    assert.equal(st.mode & 0o7777, mode, p);
  }
});
