import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../shared/index.ts';
import { fixtureCommand, getText, harness, isAlive, slotSpec } from './test-harness.ts';
import { waitFor } from '../testing/index.ts';

test('stop sends SIGTERM to the group and the app shuts down gracefully', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const info = await h.supervisor.start(slotSpec());
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);

  const startedAt = Date.now();
  const stopped = await h.supervisor.stop('shop', 'green');
  assert.ok(Date.now() - startedAt < 1500, 'no waiting for the grace period');
  assert.equal(stopped?.state, 'stopped');
  // A simple command is exec'd, so the status is the app's own, not the shell's.
  assert.equal(stopped?.exitCode, 0);
  assert.equal(stopped?.signal, null);
  assert.equal(await isAlive(info.pid ?? 0), false);
  assert.ok(h.supervisor.tail('shop', 'green').some((l) => l === 'got SIGTERM, closing'));
  await assert.rejects(getText(info.port, '/healthz'), /ECONNREFUSED/);
});

test('stop escalates to SIGKILL when the app ignores SIGTERM past the grace', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const info = await h.supervisor.start(slotSpec({ fixture: 'stubborn-app.mjs', stopTimeoutMs: 300 }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);

  const startedAt = Date.now();
  const stopped = await h.supervisor.stop('shop', 'green');
  assert.ok(Date.now() - startedAt >= 300, 'the grace was honoured');
  assert.equal(stopped?.state, 'stopped');
  assert.equal(stopped?.signal, 'SIGKILL');
  assert.equal(await isAlive(info.pid ?? 0), false);
  const tail = h.supervisor.tail('shop', 'green');
  assert.ok(tail.some((l) => l === 'ignoring SIGTERM'));
  assert.ok(tail.some((l) => l.includes(' sup still running 300ms after SIGTERM: SIGKILL')));
});

test('stop with an explicit timeout overrides the spec grace', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.supervisor.start(slotSpec({ fixture: 'stubborn-app.mjs', stopTimeoutMs: 60_000 }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  const stopped = await h.supervisor.stop('shop', 'green', { timeoutMs: 100 });
  assert.equal(stopped?.signal, 'SIGKILL');
});

test('stop kills the whole process group, including children that outlive the leader', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  // A background child that ignores SIGTERM and does not hold the output pipes.
  const command = `(trap '' TERM; exec sleep 30) >/dev/null 2>&1 & echo "straggler $!"; exec ${fixtureCommand('healthy-app.mjs')}`;
  // The leader exits at once on SIGTERM; the straggler ignores it, so it keeps the rest of the grace, then SIGKILL.
  await h.supervisor.start(slotSpec({ command, stopTimeoutMs: 300 }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  const line = h.supervisor.tail('shop', 'green').find((l) => l.startsWith('straggler '));
  const straggler = Number(line?.split(' ').pop());
  assert.ok(straggler > 0 && (await isAlive(straggler)));

  await h.supervisor.stop('shop', 'green');
  await waitFor('the straggler to die', async () => !(await isAlive(straggler)), 2000);
});

test('stop is idempotent, answers undefined for unknown slots, and the slot can start again', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.supervisor.start(slotSpec());
  const [a, b] = await Promise.all([h.supervisor.stop('shop', 'green'), h.supervisor.stop('shop', 'green')]);
  assert.deepEqual(a, b);
  assert.deepEqual(await h.supervisor.stop('shop', 'green'), a);
  assert.equal(await h.supervisor.stop('nowhere', 'blue'), undefined);

  const again = await h.supervisor.start(slotSpec({ version: '1.3.0' }));
  assert.equal(again.version, '1.3.0');
  assert.match(again.logFile, /green-1\.3\.0\.log$/);
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  assert.equal(h.supervisor.list().length, 1);
});

test('a second start of a live slot is refused with SLOT_BUSY; the other colour is free', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const first = h.supervisor.start(slotSpec());
  // Even while the first start is still in flight.
  await assert.rejects(h.supervisor.start(slotSpec({ version: '9.9.9' })), (err) => {
    return isCutoverError(err) && err.code === 'SLOT_BUSY';
  });
  await first;
  await assert.rejects(h.supervisor.start(slotSpec({ version: '9.9.9' })), (err) => {
    return (
      isCutoverError(err) &&
      err.code === 'SLOT_BUSY' &&
      /shop\/green is already running 1\.2\.0/.test(err.message)
    );
  });
  const blue = await h.supervisor.start(slotSpec({ color: 'blue', version: '1.1.0' }));
  assert.equal(blue.state, 'starting');
  assert.notEqual(blue.port, h.supervisor.get('shop', 'green')?.port);
});

test('an exited slot can be started again without an explicit stop', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.supervisor.start(slotSpec({ fixture: 'crash-app.mjs' }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, false);
  await h.supervisor.start(slotSpec({ version: '1.2.1' }));
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
});

test('stopAll stops every slot in parallel', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const specs = [
    slotSpec({ instance: 'a', color: 'blue' }),
    slotSpec({ instance: 'a', color: 'green', fixture: 'stubborn-app.mjs', stopTimeoutMs: 500 }),
    slotSpec({ instance: 'b', color: 'blue', fixture: 'stubborn-app.mjs', stopTimeoutMs: 500 }),
  ];
  const infos = await Promise.all(specs.map((spec) => h.supervisor.start(spec)));
  for (const spec of specs)
    assert.equal((await h.supervisor.waitHealthy(spec.instance, spec.color, 5000)).ok, true);

  const startedAt = Date.now();
  await h.supervisor.stopAll();
  assert.ok(Date.now() - startedAt < 950, 'the two graces ran side by side, not one after the other');
  assert.deepEqual(
    h.supervisor.list().map((s) => s.state),
    ['stopped', 'stopped', 'stopped'],
  );
  for (const info of infos) assert.equal(await isAlive(info.pid ?? 0), false);
});

test('a given port is used as is', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const free = await h.supervisor.start(slotSpec({ color: 'blue' }));
  await h.supervisor.stop('shop', 'blue');
  const info = await h.supervisor.start(slotSpec({ port: free.port }));
  assert.equal(info.port, free.port);
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);
  assert.equal((await getText(free.port, '/healthz')).status, 200);
});
