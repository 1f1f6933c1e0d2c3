import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ManualClock } from '../shared/index.ts';
import { SlotLog } from './slot-log.ts';

test('keeps the last lines in a ring, writes every line to the file and stamps them with the clock', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-slot-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  const delivered: string[] = [];
  const log = new SlotLog(join(dir, 'shop', 'blue-1.0.0.log'), 3, clock, (line) => delivered.push(line));
  await log.open();

  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const captured = Promise.all([log.capture(stdout, 'out'), log.capture(stderr, 'err')]);
  stdout.write('one\ntw');
  stderr.write('oops\n');
  clock.advance(1000);
  stdout.end('o\nthree\nfour');
  stderr.end();
  await captured;

  const expected = [
    '2026-03-01T12:00:00.000Z out one',
    '2026-03-01T12:00:00.000Z err oops',
    '2026-03-01T12:00:01.000Z out two',
    '2026-03-01T12:00:01.000Z out three',
    '2026-03-01T12:00:01.000Z out four',
  ];
  assert.deepEqual(delivered, expected);
  assert.deepEqual(log.tail(), expected.slice(2));
  assert.deepEqual(log.tail(2), expected.slice(3));
  assert.deepEqual(log.tail(0), []);

  await log.close();
  log.write('sup', 'after close');
  assert.equal(log.tail(1)[0], '2026-03-01T12:00:01.000Z sup after close', 'the ring outlives the file');
  assert.equal(await readFile(log.file, 'utf8'), `${expected.join('\n')}\n`);
});
