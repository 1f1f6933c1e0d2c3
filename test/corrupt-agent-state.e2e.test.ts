import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { readPidFile } from '../src/supervisor/index.ts';
import { alive, cutover, manifest, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

// The server's health watcher is what notices a lost instance: look every half second.
process.env.CUTOVER_BAKE_CHECK_INTERVAL = '500ms';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

/** `printf garbage | dd of=<file> bs=1 seek=20 conv=notrunc` */
async function ddGarbage(file: string): Promise<void> {
  const h = await open(file, 'r+');
  await h.write(Buffer.from('garbage'), 0, 7, 20);
  await h.close();
}

test('M6: both agent state files corrupt: the agent refuses, --reset-state starts it empty, the server brings the recorded version back', async () => {
  const started = performance.now();
  const data = await tempDir('corrupt-state');
  cleanup.push(data.cleanup);
  const p = await ports();
  const agentArgs = ['agent', '--http-port', String(p.http)];
  let agent = await startProcess(data.dir, agentArgs);
  cleanup.push(() => agent.stop());
  const server = await startProcess(data.dir, ['server', '--api-port', String(p.api)]);
  cleanup.push(server.stop);
  assert.equal((await cutover(data.dir, ['release', 'publish', await manifest(data.dir, '1.1.0')])).code, 0);
  assert.equal((await cutover(data.dir, ['instance', 'create', 'hello', '--app', 'hello', '--host', 'hello.test'])).code, 0);
  const deployed = await cutover(data.dir, ['deploy', 'hello', '1.1.0', '--wait']);
  assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
  const healthy = await cutover(data.dir, ['status']);
  assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
  assert.equal(healthy.json.items[0].agent.state, 'ok');
  const color = healthy.json.items[0].activeColor as 'blue' | 'green';
  const slotPid = (await readPidFile(join(data.dir, 'agent', 'logs'), 'hello', color))!.pid;
  let orphan = slotPid;
  cleanup.push(async () => void (alive(orphan) && process.kill(-orphan, 'SIGKILL')));

  agent.child.kill('SIGKILL');
  await agent.stop();
  const down = await cutover(data.dir, ['status']);
  assert.equal(down.code, 6, 'status exits 6 when the agent is unreachable');
  assert.equal(down.json.items[0].agent.state, 'unreachable');
  assert.match(down.json.items[0].agent.problems[0], /cannot ask the agent/);

  const agentDir = join(data.dir, 'agent', 'private');
  for (const f of ['state.a', 'state.b']) await ddGarbage(join(agentDir, f));
  const refused = await cutover(data.dir, agentArgs);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.equal(refused.json.error.code, 'AGENT_STATE_INVALID');
  assert.match(refused.json.error.message, /--reset-state/);
  assert.ok(alive(slotPid), 'refusing to start touched nothing');

  agent = await startProcess(data.dir, [...agentArgs, '--reset-state']);
  assert.equal((await readdir(agentDir)).filter((f) => f.includes('.corrupt-')).length, 2, 'the bad files were moved aside');
  assert.equal(alive(slotPid), false, 'the orphaned slot process was stopped');

  // The server brings the machine back to its records by itself, no operator step: when the agent
  // reconnects it finds the instance missing there and converges the machine on the recorded
  // version (`instance.converge`, actor `convergence`, issue 18); should the health watcher see the
  // instance lost first, it records `instance.lost` and redeploys it (actor `recovery`) instead.
  let entries: { action: string; actor: string; reason: string | null; after: unknown; details?: { machine?: string } }[] = [];
  const states = new Set<string>();
  await waitFor('the server to bring the lost instance back and status to exit 0', async () => {
    const status = await cutover(data.dir, ['status']);
    const state = status.json?.items?.[0]?.agent?.state as string | undefined;
    if (state) states.add(state);
    if (state === 'needs-deploy') assert.match(status.json.items[0].agent.problems[0], /deploy 1\.1\.0/);
    const listed = await cutover(data.dir, ['audit', '--instance', 'hello']);
    entries = (Array.isArray(listed.json?.items) ? listed.json.items : []) as typeof entries;
    const converged = entries.some((e) => e.action === 'instance.converge' && e.actor === 'convergence');
    const redeployed = entries.some((e) => e.action === 'deploy.succeeded' && e.actor === 'recovery');
    return status.code === 0 && state === 'ok' && (converged || redeployed);
  }, 30_000);
  for (const s of states) assert.ok(['ok', 'unknown', 'needs-deploy', 'changing'].includes(s), `status said ${s} meanwhile`);
  const converge = entries.find((e) => e.action === 'instance.converge');
  if (converge) {
    assert.match(converge.reason ?? '', /did not serve what the records say/);
    assert.ok(converge.details?.machine, JSON.stringify(converge));
  } else {
    const lostEntries = entries.filter((e) => e.action === 'instance.lost') as unknown as { reason: string; after: { activeColor: null } }[];
    assert.equal(lostEntries.length, 1, JSON.stringify(entries));
    assert.equal(lostEntries[0]!.after.activeColor, null, 'the lost entry records what was left: nothing served');
    assert.ok(entries.some((e) => e.reason === 'the agent lost this instance; redeploying 1.1.0'), JSON.stringify(entries));
  }
  const fine = await cutover(data.dir, ['status']);
  assert.equal(fine.code, 0, fine.stdout + fine.stderr);
  assert.equal(fine.json.items[0].currentVersion, '1.1.0');
  const served = await request(`http://127.0.0.1:${p.http}/api/version`, { headers: { host: 'hello.test' } });
  await served.body.dump();
  assert.equal(served.statusCode, 200);
  assert.equal(served.headers['x-app-version'], '1.1.0', 'the instance serves its version again');
  orphan = (await readPidFile(join(data.dir, 'agent', 'logs'), 'hello', fine.json.items[0].activeColor))?.pid ?? orphan;
  console.log(`# corrupt agent state e2e took ${Math.round(performance.now() - started)} ms`);
});
