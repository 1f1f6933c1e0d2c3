import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, slotSpec } from './test-harness.ts';
import type { SlotInfo, StopProgress } from './types.ts';

test('stop sends SIGTERM, then polls the drain endpoint during the grace and reports each answer', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const changes: SlotInfo[] = [];
  h.supervisor.onChange((info) => changes.push(info));
  await h.supervisor.start(
    slotSpec({
      fixture: 'worker-app.mjs',
      env: { JOBS: '3', JOB_MS: '120', LINGER_MS: '150' },
      drain: { path: '/drain', intervalMs: 25, timeoutMs: 500 },
      stopTimeoutMs: 10_000,
    }),
  );
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);

  const progress: StopProgress[] = [];
  const stopped = await h.supervisor.stop('shop', 'green', { onProgress: (p) => progress.push(p) });
  assert.equal(stopped?.state, 'stopped');
  assert.deepEqual([stopped?.exitCode, stopped?.signal], [0, null], 'the app finished its jobs and exited');
  assert.equal(stopped?.drain?.done, true);

  const phases = progress.map((p) => p.phase);
  assert.equal(phases[0], 'sigterm');
  assert.equal(phases.at(-1), 'stopped');
  assert.ok(!phases.includes('sigkill'));
  const answers = progress.filter((p) => p.phase === 'draining').map((p) => p.drain);
  for (const answer of answers) assert.match(answer?.message ?? '', /^\d jobs (still )?running$/);
  assert.match(answers.at(-2)?.message ?? '', /still running/, 'the app heard SIGTERM while it was polled');
  const counts = [...new Set(answers.map((a) => a?.pending))];
  assert.ok(counts.length >= 2 && counts.at(-1) === 0, `the count went down to zero: ${counts.join(', ')}`);
  assert.deepEqual(
    counts,
    [...counts].sort((a, b) => (b ?? 0) - (a ?? 0)),
    'and only down',
  );
  assert.ok(progress.every((p) => p.graceMs === 10_000 && p.elapsedMs >= 0));

  // onChange carries each change of the drain status while stopping, not every poll. A change of
  // message alone ("3 jobs running" → "3 jobs still running", once the app heard SIGTERM) is one
  // too, so the same count may come twice in a row on a slow machine.
  const drainChanges = changes.filter((c) => c.state === 'stopping' && c.drain !== undefined);
  const pendings = drainChanges.map((c) => c.drain?.pending);
  assert.deepEqual(
    pendings.filter((p, i) => i === 0 || p !== pendings[i - 1]),
    counts,
  );
  assert.equal(new Set(drainChanges.map((c) => `${c.drain?.pending} ${c.drain?.message}`)).size, drainChanges.length, 'never the same status twice');
  const tail = h.supervisor.tail('shop', 'green');
  const sigterm = tail.findIndex((l) => l.includes(' sup stopping: SIGTERM to process group'));
  const firstPoll = tail.findIndex((l) => l.includes(' sup drain: '));
  assert.ok(sigterm >= 0 && firstPoll > sigterm, 'SIGTERM first, then the drain progress');
  assert.ok(tail.some((l) => l.endsWith(' sup drain: 2 pending: 2 jobs still running')));
  assert.ok(tail.some((l) => l.endsWith(' sup drain: done: 0 jobs still running')));
  assert.ok(tail.includes('all jobs done, exiting'));
});

test('a drain endpoint that never reports done does not hold the stop past the grace', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // Answers "ok" on every path (not a count) and ignores SIGTERM.
  await h.supervisor.start(
    slotSpec({ fixture: 'stubborn-app.mjs', drain: { path: '/drain', intervalMs: 20 }, stopTimeoutMs: 250 }),
  );
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  const progress: StopProgress[] = [];
  const startedAt = Date.now();
  const stopped = await h.supervisor.stop('shop', 'green', { onProgress: (p) => progress.push(p) });
  assert.ok(Date.now() - startedAt < 2500);
  assert.equal(stopped?.signal, 'SIGKILL');
  assert.deepEqual(
    [...new Set(progress.map((p) => p.phase))],
    ['sigterm', 'draining', 'sigkill', 'stopped'],
  );
  assert.equal(stopped?.drain?.error, 'the answer is not JSON with a "pending" count');
  // Said once in the log, however many polls gave the same answer.
  const notes = h.supervisor.tail('shop', 'green').filter((l) => l.includes(' sup drain: '));
  assert.equal(notes.length, 1);
});

test('a group member finishing its work after the leader exited keeps the rest of the grace', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // The shell leads the group and dies on SIGTERM at once; its worker needs ~300ms more.
  const command =
    "(trap 'sleep 0.3; echo worker finished; exit 0' TERM; while :; do sleep 0.05; done) & " +
    `${JSON.stringify(process.execPath)} -e "require('node:http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT)"; wait`;
  await h.supervisor.start(slotSpec({ command, stopTimeoutMs: 5000 }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  const stopped = await h.supervisor.stop('shop', 'green');
  assert.equal(stopped?.state, 'stopped');
  const tail = h.supervisor.tail('shop', 'green');
  assert.ok(tail.includes('worker finished'), tail.join('\n'));
  assert.ok(!tail.some((l) => l.includes('SIGKILL')));
});
