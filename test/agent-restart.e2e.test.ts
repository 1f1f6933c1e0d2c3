import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { readPidFile } from '../src/supervisor/index.ts';
import { alive, cutover, load, manifest, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * Restarting the agent hands over without dropping a request: `cutover agent --takeover` binds the
 * same ports (SO_REUSEPORT) and adopts the running slots, then sends the old one SIGUSR2; it
 * drains and exits. Before round 2, a plain `cutover agent` on the same data directory is refused:
 * only `--takeover` may start beside the live agent.
 * Issue 12: ten rounds, with slow requests in flight at every handover (each must be answered, with
 * `Connection: close`, and the next request on that client must not be reset) and event streams,
 * which the old agent ends cleanly within `takeoverStreamGrace` and which reconnect to the new one.
 */
const ROUNDS = 10;

/** Keeps `n` event streams open on `/events`, reconnecting each as soon as it ends. */
function eventStreams(port: number, host: string, n: number) {
  const ends: ('end' | 'error')[] = [];
  let running = true;
  const open = new Set<ReturnType<typeof request>>();
  let messages = 0;
  const connect = (): void => {
    if (!running) return;
    const req = request({ host: '127.0.0.1', port, path: '/events', headers: { host }, agent: false }, (res) => {
      res.on('data', () => messages++);
      const ended = (how: 'end' | 'error'): void => {
        open.delete(req);
        if (!running) return;
        ends.push(how);
        setTimeout(connect, 20);
      };
      res.on('end', () => ended('end'));
      res.on('aborted', () => ended('error'));
      res.on('error', () => {});
    });
    open.add(req);
    req.on('error', () => {
      open.delete(req);
      if (!running) return;
      ends.push('error');
      setTimeout(connect, 20);
    });
    req.end();
  };
  for (let i = 0; i < n; i++) connect();
  return {
    ends,
    messages: () => messages,
    stop() {
      running = false;
      for (const req of open) req.destroy();
    },
  };
}
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch((error: Error) => console.error(`cleanup: ${error.message}`));
});


test(`${ROUNDS} agent handovers under keep-alive load, slow requests and event streams: zero failed requests, streams end cleanly and reconnect, slots adopted, deploys still work`, async () => {
  const started = performance.now();
  const data = await tempDir('handover');
  cleanup.push(data.cleanup);
  const p = await ports();
  const agentArgs = ['agent', '--http-port', String(p.http)];
  // Streams left open at a handover are ended after this grace (default 5 s): short, to keep the test lean.
  process.env.CUTOVER_TAKEOVER_STREAM_GRACE = '200ms';
  cleanup.push(async () => void delete process.env.CUTOVER_TAKEOVER_STREAM_GRACE);
  let agent = await startProcess(data.dir, agentArgs);
  // Whichever agent is current at the end stops the slots; stop() is a no-op for an exited one.
  cleanup.push(() => agent.stop());
  // No bake: slow requests on a loaded machine can breach the latency analysis and roll the
  // release back by itself, which is not under test here (the rollback below is).
  const serverConfig = join(data.dir, 'server.yml');
  await writeFile(serverConfig, 'bakeWindow: 0\n');
  const server = await startProcess(data.dir, ['server', '--config', serverConfig, '--api-port', String(p.api)]);
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
  // Acceptance §3: slow requests in flight at the handover, on keep-alive connections, answered
  // after the old router's idle grace (200 ms), when a keep-alive answer would race its drain.
  const slow = load(p.http, 'web.test', 8, '/slow?ms=1000');
  const streams = eventStreams(p.http, 'web.test', 4);
  let trafficStopped = false;
  cleanup.push(async () => {
    streams.stop();
    if (!trafficStopped) await Promise.all([traffic.stop(), slow.stop()]);
  });
  await waitFor('load to reach steady state', async () => traffic.result.ok > 100 && slow.result.ok > 8, 10_000);

  const agentPid = async () => (JSON.parse(await readFile(join(data.dir, 'agent', 'private', 'agent.pid'), 'utf8')) as { pid: number }).pid;
  assert.equal(await agentPid(), agent.child.pid, 'the agent records its pid');
  for (let round = 1; round <= ROUNDS; round++) {
    const old = agent;
    const exited = new Promise<number | null>((resolve) => old.child.once('exit', (code) => resolve(code)));
    if (round === 2) {
      const refused = await cutover(data.dir, agentArgs);
      assert.equal(refused.code, 4, refused.stdout + refused.stderr);
      assert.equal(refused.json?.error?.code, 'AGENT_RUNNING', refused.stdout + refused.stderr);
      assert.match(refused.json.error.message, new RegExp(`pid ${old.child.pid}\\b.*--takeover`));
    }
    const messagesBefore = streams.messages();
    const next = await startProcess(data.dir, [...agentArgs, '--takeover']);
    agent = next;
    // It printed its result only once the old agent had handed over and exited.
    assert.deepEqual({ ...next.info.takeover, waitedMs: 0 }, { previousPid: old.child.pid, exited: true, waitedMs: 0 });
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000).unref())]);
    assert.equal(code, 0, `round ${round}: the old agent exits cleanly after the handover`);
    await waitFor(`round ${round}: agent.pid names the new agent`, async () => (await agentPid()) === next.child.pid, 5000);
    assert.ok(alive(slotPid), `round ${round}: the slot process survived the handover`);
    assert.equal((await readPidFile(logDir, 'web', active))?.pid, slotPid, `round ${round}: the same process serves`);
    const okBefore = traffic.result.ok;
    const slowBefore = slow.result.ok;
    // The streams reconnected to this agent: each new stream starts with an event.
    await waitFor(`round ${round}: traffic and event streams through the new agent`, async () => traffic.result.ok > okBefore + 20 && slow.result.ok > slowBefore + 8 && streams.messages() >= messagesBefore + 4, 10_000);
    // Every stream open at the handover was ended by the old agent and reconnected to this one.
    assert.ok(streams.ends.length >= 4 * round, `round ${round}: ${streams.ends.length} stream ends`);
  }
  assert.deepEqual(streams.ends.filter((how) => how !== 'end'), [], 'every event stream ended with its terminator');
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
  const slowResult = await slow.stop();
  streams.stop();
  trafficStopped = true;
  assert.deepEqual(result.failed, [], 'zero failed requests');
  assert.deepEqual(slowResult.failed, [], 'zero failed slow requests');
  assert.ok(result.samples.some((s) => s.version === '1.1.0'), 'the deploy through the new agent served 1.1.0');
  assert.equal(result.samples.at(-1)?.version, '1.0.0');
  console.log(`# agent-restart e2e: ${ROUNDS} handovers in ${Math.round(performance.now() - started)} ms`);
});
