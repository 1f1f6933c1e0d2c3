import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCutoverError } from '../shared/index.ts';
import { getText, harness, slotSpec } from './test-harness.ts';
import { waitFor } from '../testing/index.ts';
import type { SlotInfo } from './types.ts';

test('a slot gets PORT, APP_VERSION, colour, instance and its config, but none of the agent secrets', async (t) => {
  process.env.CUTOVER_TOKEN = 'agent-secret';
  process.env.NODE_OPTIONS = '--max-old-space-size=64';
  const h = await harness();
  t.after(async () => {
    delete process.env.CUTOVER_TOKEN;
    delete process.env.NODE_OPTIONS;
    await h.close();
  });
  const changes: SlotInfo[] = [];
  h.supervisor.onChange((info) => changes.push(info));

  const started = await h.supervisor.start(
    slotSpec({ version: '2.0.0', env: { GREETING: 'hello', PORT: '1', DATABASE_URL: 'postgres://db' } }),
  );
  assert.equal(started.state, 'starting');
  assert.equal(typeof started.pid, 'number');
  assert.ok(started.port > 0);
  assert.equal(started.logFile, join(h.logDir, 'shop', 'green-2.0.0.log'));

  const outcome = await h.supervisor.waitHealthy('shop', 'green', 5000);
  assert.equal(outcome.ok, true);
  assert.equal(outcome.info.state, 'healthy');
  assert.ok(outcome.info.healthySince !== undefined && outcome.info.healthySince >= started.startedAt);
  assert.equal(outcome.info.lastCheck?.ok, true);
  assert.equal(outcome.info.lastCheck?.status, 200);

  const env = JSON.parse((await getText(started.port, '/env')).body) as Record<string, string>;
  assert.equal(env.PORT, String(started.port), 'PORT is ours even when config sets one');
  assert.equal(env.APP_VERSION, '2.0.0');
  assert.equal(env.CUTOVER_COLOR, 'green');
  assert.equal(env.CUTOVER_INSTANCE, 'shop');
  assert.equal(env.GREETING, 'hello');
  assert.equal(env.DATABASE_URL, 'postgres://db');
  assert.equal(env.PATH, process.env.PATH);
  assert.equal(env.CUTOVER_TOKEN, undefined);
  assert.equal(env.NODE_OPTIONS, undefined);

  // Already healthy: resolves at once.
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 1)).ok, true);
  await h.supervisor.stop('shop', 'green');
  assert.deepEqual(
    changes.map((c) => c.state),
    ['healthy', 'stopping', 'stopped'],
  );
});

test('output goes to the log file, the tail and followers, with partial writes joined', async (t) => {
  const h = await harness({ tailLines: 5 });
  t.after(() => h.close());
  const followed: string[] = [];
  const unfollow = h.supervisor.follow('shop', 'green', (line) => followed.push(line));

  const info = await h.supervisor.start(slotSpec());
  await waitFor('the app to print its greeting', () => followed.some((l) => l === 'hello world'));
  await waitFor('the app to listen', () =>
    followed.some((l) => l === `listening on ${info.port}`),
  );
  assert.ok(followed.some((l) => l === 'a warning on stderr'));
  assert.match(
    followed[0] ?? '',
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z sup starting 1\.2\.0 on port \d+: /,
  );

  // Healthy first, so the supervisor's own "healthy" note cannot land between the lines below.
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  await getText(info.port, '/say?text=first');
  await waitFor('a followed line', () => followed.some((l) => l === 'first'));
  unfollow();
  await getText(info.port, '/say?text=second');
  await waitFor('the line in the tail', () =>
    h.supervisor.tail('shop', 'green').some((l) => l === 'second'),
  );
  assert.ok(!followed.some((l) => l === 'second'), 'no lines after unsubscribe');

  // The ring keeps only the last `tailLines` lines; `lines` narrows further.
  assert.equal(h.supervisor.tail('shop', 'green').length, 5);
  assert.deepEqual(h.supervisor.tail('shop', 'green', 1), ['second']);

  await h.supervisor.stop('shop', 'green');
  // The app writes to the file itself: its lines are raw; the supervisor's notes are stamped.
  const lines = (await readFile(info.logFile, 'utf8')).trimEnd().split('\n');
  for (const expected of ['hello world', 'a warning on stderr', 'first', 'got SIGTERM, closing']) {
    assert.ok(lines.includes(expected), `log file has "${expected}"`);
  }
  for (const line of lines.filter((l) => l.includes(' sup '))) assert.match(line, /^\S+Z sup /);
  assert.deepEqual(h.supervisor.tail('shop', 'green'), lines.slice(-5), 'the tail is the end of the file');
  // The tail outlives the process.
  assert.ok(h.supervisor.tail('shop', 'green').some((l) => l.includes(' sup stopped')));
});

test('waitHealthy reports an app that exits at start with its code and the log tail', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.supervisor.start(slotSpec({ fixture: 'crash-app.mjs' }));
  const outcome = await h.supervisor.waitHealthy('shop', 'green', 5000);
  assert.equal(outcome.ok, false);
  if (outcome.ok) return;
  assert.equal(outcome.reason, 'exited');
  assert.match(outcome.message, /slot shop\/green \(1\.2\.0\) exited with code 3/);
  assert.ok(outcome.logTail.some((l) => l === 'fatal: DATABASE_URL is not set'));
  assert.ok(outcome.logTail.some((l) => l === 'booting'));
  assert.equal(outcome.info.state, 'exited');
  assert.equal(outcome.info.exitCode, 3);
  assert.equal(h.supervisor.get('shop', 'green')?.state, 'exited');
  // A later waitHealthy answers at once.
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, false);

  const stopped = await h.supervisor.stop('shop', 'green');
  assert.equal(stopped?.state, 'stopped');
  assert.equal(stopped?.exitCode, 3);
});

test('waitHealthy times out saying what the last check saw', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.supervisor.start(slotSpec({ fixture: 'never-healthy-app.mjs' }));
  await h.supervisor.start(
    slotSpec({ color: 'blue', fixture: 'slow-start-app.mjs', env: { START_DELAY_MS: '60000' } }),
  );
  const [broken, silent] = await Promise.all([
    h.supervisor.waitHealthy('shop', 'green', 600),
    h.supervisor.waitHealthy('shop', 'blue', 600),
  ]);
  assert.equal(broken.ok, false);
  assert.equal(silent.ok, false);
  if (broken.ok || silent.ok) return;
  assert.equal(broken.reason, 'timeout');
  assert.match(broken.message, /not healthy after 600ms: last check GET \/healthz → 500 \(0\/2/);
  assert.equal(broken.lastCheck?.status, 500);
  assert.ok(broken.logTail.some((l) => l === 'listening, but broken'));
  assert.equal(silent.reason, 'timeout');
  assert.match(silent.message, /GET \/healthz → ECONNREFUSED/);
  // A timeout is the caller's decision to make: the slot keeps running until stopped.
  assert.equal(h.supervisor.get('shop', 'green')?.state, 'starting');
});

test('an app that warms up first becomes healthy once it listens', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const info = await h.supervisor.start(
    slotSpec({ fixture: 'slow-start-app.mjs', env: { START_DELAY_MS: '300' } }),
  );
  const outcome = await h.supervisor.waitHealthy('shop', 'green', 5000);
  assert.equal(outcome.ok, true);
  assert.ok((outcome.info.healthySince ?? 0) - info.startedAt >= 300);
});

test('a healthy slot that starts failing becomes unhealthy, then healthy again on recovery', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const states: string[] = [];
  h.supervisor.onChange((info) => states.push(info.state));
  const info = await h.supervisor.start(slotSpec());
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);

  await getText(info.port, '/fail');
  await waitFor('unhealthy', () => h.supervisor.get('shop', 'green')?.state === 'unhealthy');
  assert.equal(h.supervisor.get('shop', 'green')?.lastCheck?.status, 500);
  const outcome = await h.supervisor.waitHealthy('shop', 'green', 100);
  assert.equal(outcome.ok, false);
  if (!outcome.ok) {
    assert.equal(outcome.reason, 'unhealthy');
    assert.match(outcome.message, /became unhealthy .* GET \/healthz → 500/);
  }

  const recovered = h.supervisor.waitHealthy('shop', 'green', 5000);
  await getText(info.port, '/recover');
  assert.equal((await recovered).ok, true);
  assert.deepEqual(states, ['healthy', 'unhealthy', 'healthy']);
  assert.ok(
    h.supervisor.tail('shop', 'green').some((l) => l.includes(' sup unhealthy after 2 failed checks')),
  );
});

test('a release directory that does not exist is an exited slot with a clear message, not a crash', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const info = await h.supervisor.start(slotSpec({ cwd: join(h.logDir, 'missing-release') }));
  assert.equal(info.state, 'exited');
  assert.equal(info.pid, undefined);
  const outcome = await h.supervisor.waitHealthy('shop', 'green', 1000);
  assert.equal(outcome.ok, false);
  if (!outcome.ok) {
    assert.equal(outcome.reason, 'exited');
    assert.match(outcome.message, /could not start: release directory .*missing-release does not exist/);
  }
  assert.equal((await h.supervisor.stop('shop', 'green'))?.state, 'stopped');
});

test('a command that is not found exits 127 and the tail shows the shell saying so', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.supervisor.start(slotSpec({ command: 'no-such-server --port "$PORT"' }));
  const outcome = await h.supervisor.waitHealthy('shop', 'green', 5000);
  assert.equal(outcome.ok, false);
  if (!outcome.ok) {
    assert.match(outcome.message, /exited with code 127/);
    assert.ok(
      outcome.logTail.some((l) => /no-such-server: not found/.test(l)),
      outcome.logTail.join('\n'),
    );
  }
});

test('waitHealthy ends with "stopped" when the slot is stopped while it waits', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.supervisor.start(slotSpec({ fixture: 'slow-start-app.mjs', env: { START_DELAY_MS: '60000' } }));
  const waiting = h.supervisor.waitHealthy('shop', 'green', 10_000);
  await h.supervisor.stop('shop', 'green');
  const outcome = await waiting;
  assert.equal(outcome.ok, false);
  if (!outcome.ok) assert.equal(outcome.reason, 'stopped');
});

test('bad input is refused before anything is spawned', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await assert.rejects(
    h.supervisor.start(slotSpec({ command: ' ', health: { ...slotSpec().health, intervalMs: 0 } })),
    (err) =>
      isCutoverError(err) &&
      err.code === 'VALIDATION_FAILED' &&
      /command[\s\S]*health\.intervalMs/.test(err.message),
  );
  assert.equal(h.supervisor.list().length, 0);
  await assert.rejects(
    h.supervisor.waitHealthy('nope', 'blue', 10),
    (err) => isCutoverError(err) && err.code === 'SLOT_NOT_FOUND',
  );
});

test("a slot's PATH is the supervisor's path setting, not the environment of whoever started the agent", async (t) => {
  const h = await harness({ path: '/opt/cutover-test/bin:/usr/bin:/bin', baseEnv: { PATH: '/home/someone/node20/bin', HOME: '/root' } });
  t.after(() => h.close());
  const started = await h.supervisor.start(slotSpec({ version: '2.0.0' }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  const env = JSON.parse((await getText(started.port, '/env')).body) as Record<string, string>;
  assert.equal(env.PATH, '/opt/cutover-test/bin:/usr/bin:/bin');
  assert.equal(env.HOME, '/root');
  await h.supervisor.stop('shop', 'green');
});
