import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readPidFile } from '../src/supervisor/index.ts';
import { cutover, eventually, load, manifest, ports, startProcess, tempDir } from './helpers.ts';

/**
 * Restarting the agent hands over without dropping a request: `cutover agent --takeover` binds the
 * same ports (SO_REUSEPORT) and adopts the running slots, then sends the old one SIGUSR2; it
 * drains and exits. Before round 2, a plain `cutover agent` on the same data directory is refused:
 * only `--takeover` may start beside the live agent.
 */
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch((error: Error) => console.error(`cleanup: ${error.message}`));
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('two agent handovers under keep-alive load: zero failed requests, slots adopted, deploys still work', async () => {
  const data = await tempDir('handover');
  cleanup.push(data.cleanup);
  const p = await ports();
  const agentArgs = ['agent', '--http-port', String(p.http), '--agent-port', String(p.agent)];
  let agent = await startProcess(data.dir, agentArgs);
  // Whichever agent is current at the end stops the slots; stop() is a no-op for an exited one.
  cleanup.push(() => agent.stop());
  const server = await startProcess(data.dir, ['server', '--api-port', String(p.api), '--agent-port', String(p.agent)]);
  cleanup.push(server.stop);
  for (const v of ['1.0.0', '1.1.0']) assert.equal((await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v)])).code, 0);
  assert.equal((await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test'])).code, 0);
  const first = await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait']);
  assert.equal(first.code, 0, first.stdout + first.stderr);

  const status = await cutover(data.dir, ['status', 'web']);
  const active = status.json.activeColor as 'blue' | 'green';
  const logDir = join(data.dir, 'agent', 'logs');
  const slotPid = (await readPidFile(logDir, 'web', active))?.pid;
  assert.ok(slotPid !== undefined && alive(slotPid), 'the active slot runs and has a pid file');

  const traffic = load(p.http, 'web.test', 16);
  let trafficStopped = false;
  cleanup.push(async () => void (trafficStopped || (await traffic.stop())));
  await eventually(async () => traffic.result.ok > 100, 10_000, 'load to reach steady state');

  const agentPid = async () => (JSON.parse(await readFile(join(data.dir, 'agent', 'agent.pid'), 'utf8')) as { pid: number }).pid;
  assert.equal(await agentPid(), agent.child.pid, 'the agent records its pid');
  for (let round = 1; round <= 2; round++) {
    const old = agent;
    const exited = new Promise<number | null>((resolve) => old.child.once('exit', (code) => resolve(code)));
    if (round === 2) {
      const refused = await cutover(data.dir, agentArgs);
      assert.equal(refused.code, 4, refused.stdout + refused.stderr);
      assert.equal(refused.json?.error?.code, 'AGENT_RUNNING', refused.stdout + refused.stderr);
      assert.match(refused.json.error.message, new RegExp(`pid ${old.child.pid}\\b.*--takeover`));
    }
    const next = await startProcess(data.dir, [...agentArgs, '--takeover']);
    agent = next;
    // It printed its result only once the old agent had handed over and exited.
    assert.deepEqual({ ...next.info.takeover, waitedMs: 0 }, { previousPid: old.child.pid, exited: true, waitedMs: 0 });
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000).unref())]);
    assert.equal(code, 0, `round ${round}: the old agent exits cleanly after the handover`);
    await eventually(async () => (await agentPid()) === next.child.pid, 5000, `round ${round}: agent.pid names the new agent`);
    assert.ok(alive(slotPid), `round ${round}: the slot process survived the handover`);
    assert.equal((await readPidFile(logDir, 'web', active))?.pid, slotPid, `round ${round}: the same process serves`);
    const okBefore = traffic.result.ok;
    await eventually(async () => traffic.result.ok > okBefore + 100, 10_000, `round ${round}: traffic through the new agent`);
  }
  const runtime = await cutover(data.dir, ['status', 'web']);
  assert.equal(runtime.json.runtime.active, active, 'the new agent routes to the adopted active slot');

  const deployed = await cutover(data.dir, ['deploy', 'web', '1.1.0', '--wait']);
  assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
  const rolledBack = await cutover(data.dir, ['rollback', 'web', '--wait', '--reason', 'e2e']);
  assert.equal(rolledBack.code, 0, rolledBack.stdout + rolledBack.stderr);
  assert.equal(rolledBack.json.strategy, 'flip-to-warm');
  assert.equal(rolledBack.json.toVersion, '1.0.0');
  assert.equal((await readPidFile(logDir, 'web', active))?.pid, slotPid, 'rolling back flips to the adopted warm slot');

  const result = await traffic.stop();
  trafficStopped = true;
  assert.deepEqual(result.failed, [], 'zero failed requests');
  assert.ok(result.samples.some((s) => s.version === '1.1.0'), 'the deploy through the new agent served 1.1.0');
  assert.equal(result.samples.at(-1)?.version, '1.0.0');
});
