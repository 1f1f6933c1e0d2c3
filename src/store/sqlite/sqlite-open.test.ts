import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCutoverError } from '../../shared/index.ts';
import { channel, deployment, instance, release } from '../contract/fixtures.ts';
import { createSqliteStore } from './sqlite-store.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-sqlite-open-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const corrupt = (e: unknown, pattern: RegExp): boolean => {
  assert.ok(isCutoverError(e), String(e));
  assert.equal(e.code, 'DATABASE_CORRUPT');
  assert.match(e.message, pattern);
  return true;
};

test('a zero-length database is refused where the directory shows earlier use, and is a fresh install elsewhere', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'cutover.db');
  await writeFile(file, '');
  await mkdir(join(dir, 'agent')); // `up`'s agent creates it before the server's first start: no sign of use
  const fresh = createSqliteStore(file);
  assert.deepEqual(await fresh.listReleases(), []);
  await fresh.close();

  const used = join(dir, 'used');
  await mkdir(join(used, 'artifacts'), { recursive: true });
  await writeFile(join(used, 'cutover.db'), '');
  assert.throws(() => createSqliteStore(join(used, 'cutover.db')), (e: unknown) => corrupt(e, /is empty \(0 bytes\).*artifacts/));
  assert.equal((await stat(join(used, 'cutover.db'))).size, 0, 'the file is left as it was');

  // The default place, <dataDir>/private/cutover.db: the signs are in the data directory.
  const layout = join(dir, 'layout');
  await mkdir(join(layout, 'agent', 'private'), { recursive: true });
  await mkdir(join(layout, 'private'));
  await writeFile(join(layout, 'agent', 'private', 'state.a'), 'x');
  await writeFile(join(layout, 'private', 'cutover.db'), '');
  assert.throws(() => createSqliteStore(join(layout, 'private', 'cutover.db')), (e: unknown) => corrupt(e, /is empty \(0 bytes\).*agent\/private\/state\.a/));
});

test('garbage pages in the middle of the database are found by quick_check at start', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'cutover.db');
  const store = createSqliteStore(file);
  for (let n = 0; n < 200; n++) {
    await store.insertRelease({ ...release(`1.0.${n}`, 1000 + n), spec: { notes: 'x'.repeat(500) } });
  }
  await store.close();
  const size = (await stat(file)).size;
  assert.ok(size > 16 * 4096, `the database has pages to damage (${size} bytes)`);
  const h = await open(file, 'r+');
  await h.write(Buffer.alloc(4096 * 4, 0x5a), 0, 4096 * 4, 4096 * 6); // pages 7–10
  await h.close();
  assert.throws(() => createSqliteStore(file), (e: unknown) => corrupt(e, /damaged|cannot be read/));
});

test('one instances row that is not JSON is skipped with a log line naming it; the list still answers', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'cutover.db');
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = { error: (obj: object, msg: string) => void lines.push({ obj: obj as Record<string, unknown>, msg }) };
  const store = createSqliteStore(file, { log });
  for (const name of ['a', 'b', 'c']) await store.insertInstance(instance(name, { hosts: [`${name}.test`] }));
  const raw = new DatabaseSync(file);
  raw.prepare("UPDATE instances SET state = '{not json' WHERE name = 'b'").run();
  raw.close();
  assert.deepEqual((await store.listInstances()).map((i) => i.name), ['a', 'c']);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.obj.key, 'b');
  assert.match(lines[0]!.msg, /skipped a malformed instances row/);
  await store.close();
});

// The deployments table derives its `actor` column from the body, so SQLite refuses a body that is
// not JSON at all: the bad row here is JSON that is not a deployment.
test('a deployments row and a channels row that do not decode are skipped with a log line naming them', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'cutover.db');
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = { error: (obj: object, msg: string) => void lines.push({ obj: obj as Record<string, unknown>, msg }) };
  const store = createSqliteStore(file, { log });
  for (const [n, id] of ['d1', 'd2', 'd3'].entries()) await store.insertDeployment(deployment(id, 'a', 1000 + n));
  for (const name of ['alpha', 'beta']) await store.insertChannel(channel(name));
  const raw = new DatabaseSync(file);
  raw.prepare("UPDATE deployments SET body = '[1, 2]' WHERE id = 'd2'").run();
  raw.prepare("UPDATE channels SET policy = 'null' WHERE name = 'alpha'").run();
  raw.close();

  assert.deepEqual((await store.listDeployments()).map((d) => d.id), ['d3', 'd1']);
  assert.deepEqual((await store.listDeployments({ instance: 'a' })).map((d) => d.id), ['d3', 'd1']);
  assert.deepEqual((await store.listChannels()).map((c) => c.name).filter((n) => n === 'alpha' || n === 'beta'), ['beta']);
  const skipped = lines.map((l) => `${String(l.obj.table)}:${String(l.obj.key)}`);
  assert.deepEqual(skipped, ['deployments:d2', 'deployments:d2', 'channels:alpha']);
  assert.ok(lines.every((l) => /^skipped a malformed (deployments|channels) row$/.test(l.msg)));
  await store.close();
});
