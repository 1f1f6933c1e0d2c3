import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../shared/index.ts';
import { readPidFile } from './pid-file.ts';
import { createSupervisor } from './supervisor.ts';
import { getText, harness, isAlive, slotSpec } from './test-harness.ts';
import { waitFor } from '../testing/index.ts';

test('a second supervisor adopts a running slot from its pid file: checks, logs, crash restart and stop', async (t) => {
  // The first supervisor plays the agent that was restarted: it lets its slot go.
  const h = await harness({ restart: false });
  const next = createSupervisor({ logDir: h.logDir, logPollMs: 20, restart: { initialDelayMs: 20 } });
  t.after(async () => {
    await next.stopAll();
    await h.close();
  });
  const spec = slotSpec({ fixture: 'crashy-app.mjs' });
  const started = await h.supervisor.start(spec);
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);

  const pidInfo = await readPidFile(h.logDir, 'shop', 'green');
  assert.ok(pidInfo !== undefined);
  assert.deepEqual(
    [pidInfo.pid, pidInfo.pgid, pidInfo.port, pidInfo.version, pidInfo.startedAt, pidInfo.logFile],
    [started.pid, started.pid, started.port, '1.2.0', started.startedAt, started.logFile],
  );

  const adopted = await next.adopt(spec, pidInfo);
  assert.deepEqual([adopted.state, adopted.pid, adopted.port], ['starting', started.pid, started.port]);
  // Re-checked before it counts as healthy again.
  assert.equal((await next.waitHealthy('shop', 'green', 5000)).ok, true);
  const tail = next.tail('shop', 'green');
  assert.ok(tail.includes(`listening as ${started.pid}`), 'the tail starts with what the file already held');
  assert.ok(tail.some((l) => l.endsWith(` sup adopted process group ${started.pid} (1.2.0 on port ${started.port})`)));

  // A crash of the adopted process is restarted by its new supervisor, on the same port.
  await getText(started.port, '/crash?code=4');
  await waitFor('the restart', () => next.get('shop', 'green')?.restarts === 1);
  const back = await next.waitHealthy('shop', 'green', 5000);
  assert.equal(back.ok, true);
  assert.notEqual(back.info.pid, started.pid);
  assert.equal((await getText(started.port, '/pid')).body, String(back.info.pid));

  const stopped = await next.stop('shop', 'green');
  assert.equal(stopped?.state, 'stopped');
  assert.equal(await isAlive(back.info.pid ?? 0), false);
  assert.equal(await readPidFile(h.logDir, 'shop', 'green'), undefined);
});

test('adopt refuses a pid file that does not match the spec or a reused pid, and reports a gone process as exited', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const spec = slotSpec();
  const info = await h.supervisor.start(spec);
  const pidInfo = await readPidFile(h.logDir, 'shop', 'green');
  assert.ok(pidInfo !== undefined);
  const other = createSupervisor({ logDir: h.logDir });
  t.after(() => other.stopAll());

  await assert.rejects(
    other.adopt(slotSpec({ version: '9.9.9' }), pidInfo),
    (err) => isCutoverError(err) && err.code === 'VALIDATION_FAILED' && /runs 1\.2\.0, not 9\.9\.9/.test(err.message),
  );
  // The test runner is alive but is not this slot's process (another group, no CUTOVER_* variables).
  await assert.rejects(
    other.adopt(spec, { ...pidInfo, pid: process.pid, pgid: process.pid }),
    (err) => isCutoverError(err) && /the pid was reused/.test(err.message),
  );

  await h.supervisor.stop('shop', 'green');
  assert.equal(await isAlive(info.pid ?? 0), false);
  const gone = await other.adopt(spec, pidInfo);
  assert.equal(gone.state, 'exited');
  const outcome = await other.waitHealthy('shop', 'green', 1000);
  assert.equal(outcome.ok, false);
});
