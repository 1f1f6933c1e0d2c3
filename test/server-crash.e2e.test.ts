import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cutover, load, manifest, ports, startProcess, tempDir } from './helpers.ts';

/** The agent is its own process: killing the control plane never interrupts traffic. */
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

test('SIGKILL of the server: traffic continues; after restart, status is right', async () => {
  const data = await tempDir('crash');
  cleanup.push(data.cleanup);
  const p = await ports();
  const agent = await startProcess(data.dir, ['agent', '--http-port', String(p.http)]);
  cleanup.push(agent.stop);
  const serverArgs = ['server', '--api-port', String(p.api)];
  const server = await startProcess(data.dir, serverArgs);
  for (const v of ['1.0.0', '1.1.0']) assert.equal((await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v)])).code, 0);
  assert.equal((await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test'])).code, 0);
  assert.equal((await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait'])).code, 0);
  assert.equal((await cutover(data.dir, ['deploy', 'web', '1.1.0', '--wait'])).code, 0);

  const traffic = load(p.http, 'web.test', 8);
  // Whatever fails below, the load stops, once (left running, it would spin until the run's time limit).
  let stopping: ReturnType<typeof traffic.stop> | undefined;
  const stopTraffic = () => (stopping ??= traffic.stop());
  cleanup.push(async () => void (await stopTraffic()));
  await new Promise((r) => setTimeout(r, 200));
  server.child.kill('SIGKILL');
  await server.stop();
  const down = await cutover(data.dir, ['status', 'web']);
  assert.equal(down.code, 6, 'the CLI says the server is unreachable');
  assert.equal(down.json.error.code, 'SERVER_UNREACHABLE');
  const okBefore = traffic.result.ok;
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(traffic.result.ok > okBefore + 50, 'requests keep being served while the server is down');

  const restarted = await startProcess(data.dir, serverArgs);
  cleanup.push(restarted.stop);
  assert.equal(restarted.info.adminToken, undefined, 'the admin token is shown only on the first start');
  const status = await cutover(data.dir, ['status', 'web']);
  assert.equal(status.code, 0, status.stdout);
  assert.equal(status.json.currentVersion, '1.1.0');
  assert.equal(status.json.runtime.active, status.json.activeColor);
  assert.equal(status.json.lastDeployment.status, 'succeeded');

  const back = await cutover(data.dir, ['rollback', 'web', '--wait']);
  assert.equal(back.code, 0, back.stdout);
  assert.equal(back.json.strategy, 'flip-to-warm');
  const result = await stopTraffic();
  assert.deepEqual(result.failed, []);
  assert.ok(result.samples.some((s) => s.version === '1.0.0') && result.samples.some((s) => s.version === '1.1.0'));
});
