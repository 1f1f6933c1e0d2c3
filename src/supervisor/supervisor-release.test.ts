import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readPidFile } from './pid-file.ts';
import { createSupervisor } from './supervisor.ts';
import { harness, isAlive, slotSpec } from './test-harness.ts';

test('releaseAll lets slots run on with their pid files, for the next agent to adopt', async (t) => {
  const h = await harness();
  const next = createSupervisor({ logDir: h.logDir, logPollMs: 20 });
  t.after(async () => {
    await next.stopAll();
    await h.close();
  });
  const spec = slotSpec({ fixture: 'crashy-app.mjs' });
  const started = await h.supervisor.start(spec);
  assert.equal((await h.supervisor.waitHealthy('shop', 'green', 5000)).ok, true);

  await h.supervisor.releaseAll();
  assert.equal(h.supervisor.get('shop', 'green'), undefined, 'the releasing supervisor forgets the slot');
  assert.equal(await isAlive(started.pid ?? 0), true, 'the process runs on');
  const pidInfo = await readPidFile(h.logDir, 'shop', 'green');
  assert.ok(pidInfo !== undefined);
  assert.equal(pidInfo.pid, started.pid, 'the pid file stays');

  await next.adopt(spec, pidInfo);
  assert.equal((await next.waitHealthy('shop', 'green', 5000)).ok, true);
  await next.stop('shop', 'green');
  assert.equal(await isAlive(started.pid ?? 0), false);
});
