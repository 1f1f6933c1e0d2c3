import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../shared/index.ts';
import { SlotLog } from './slot-log.ts';
import { waitFor } from '../testing/index.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-slot-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('lines another process appends reach the tail and followers; notes are stamped and in file order', async (t) => {
  const dir = await tempDir(t);
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  const delivered: string[] = [];
  const log = new SlotLog(join(dir, 'shop', 'blue-1.0.0.log'), 3, clock, (line) => delivered.push(line), 20);
  t.after(() => log.close());
  await log.open();

  // The child's descriptor: what it writes never passes through the agent.
  const child = await log.openForChild();
  await child.write('one\ntw');
  await log.catchUp();
  await child.write('o\r\nthree\nfo');
  // A note while the app is mid-line starts on a line of its own.
  await log.note('healthy');
  clock.advance(1000);
  await child.write('ur');
  await child.close();
  await log.catchUp();

  assert.deepEqual(delivered, ['one', 'two', 'three', 'fo', '2026-03-01T12:00:00.000Z sup healthy']);
  assert.deepEqual(log.tail(), ['three', 'fo', '2026-03-01T12:00:00.000Z sup healthy']);
  assert.deepEqual(log.tail(1), ['2026-03-01T12:00:00.000Z sup healthy']);
  assert.deepEqual(log.tail(0), []);

  // Without catchUp, the watch (or the poll) brings new lines within a bounded delay.
  await appendFile(log.file, ' and more\n');
  await waitFor('the appended line', () => log.tail(1)[0] === 'ur and more');

  await appendFile(log.file, 'no newline at the end');
  await log.close();
  assert.equal(delivered.at(-1), 'no newline at the end', 'close emits the last unterminated line');
  await log.note('after close');
  assert.equal(log.tail(1)[0], '2026-03-01T12:00:01.000Z sup after close', 'the tail outlives the file');
  assert.equal(
    await readFile(log.file, 'utf8'),
    'one\ntwo\r\nthree\nfo\n2026-03-01T12:00:00.000Z sup healthy\nur and more\nno newline at the end',
  );
});

test('the tail starts from the end of an existing file, without replaying it to followers', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'shop', 'green-1.0.0.log');
  await mkdir(join(dir, 'shop'));
  const old = Array.from({ length: 10_000 }, (_, i) => `old line ${i}`).join('\n');
  await writeFile(file, `${old}\n`);
  const delivered: string[] = [];
  const log = new SlotLog(file, 3, new ManualClock(0), (line) => delivered.push(line), 20);
  t.after(() => log.close());
  await log.open();
  assert.deepEqual(log.tail(), ['old line 9997', 'old line 9998', 'old line 9999']);
  assert.deepEqual(delivered, []);

  await appendFile(file, 'new line\n');
  await log.catchUp();
  assert.deepEqual(delivered, ['new line']);
});

test('a file truncated by hand is read again from the top', async (t) => {
  const dir = await tempDir(t);
  const delivered: string[] = [];
  const log = new SlotLog(join(dir, 'x.log'), 10, new ManualClock(0), (line) => delivered.push(line), 20);
  t.after(() => log.close());
  await log.open();
  await appendFile(log.file, 'a long first line\n');
  await log.catchUp();
  await truncate(log.file, 0);
  await appendFile(log.file, 'b\n');
  await waitFor('the line after truncation', () => delivered.includes('b'));
  assert.deepEqual(delivered, ['a long first line', 'b']);
});

test('a log past its size is copied to .1 (older ones shifted, at most n kept) and truncated; writing goes on', async (t) => {
  const dir = await tempDir(t);
  const delivered: string[] = [];
  const log = new SlotLog(join(dir, 'x.log'), 10, new ManualClock(0), (line) => delivered.push(line), 20, { maxBytes: 100, files: 2 });
  t.after(() => log.close());
  await log.open();
  // The app's own handle: append mode, as a slot's stdout is.
  const app = await open(log.file, 'a');
  t.after(() => app.close());
  for (const round of [1, 2, 3]) {
    await app.appendFile(`${`round ${round} `.padEnd(120, 'x')}\n`);
    await waitFor(`rotation ${round}`, async () => (await stat(log.file)).size === 0);
  }
  await app.appendFile('after\n');
  await waitFor('the line after rotation', () => delivered.includes('after'));
  assert.match(await readFile(`${log.file}.1`, 'utf8'), /^round 3 /);
  assert.match(await readFile(`${log.file}.2`, 'utf8'), /^round 2 /);
  await assert.rejects(stat(`${log.file}.3`), { code: 'ENOENT' });
  assert.equal(await readFile(log.file, 'utf8'), 'after\n');
  assert.deepEqual(delivered.map((l) => l.slice(0, 7)), ['round 1', 'round 2', 'round 3', 'after']);
});
