import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCutoverError } from '../shared/index.ts';
import { loopbackPortFree } from '../supervisor/index.ts';
import { createStateFile } from './agent-state.ts';
import type { AgentState } from './agent-state.ts';
import { captureLogger, deploy, get, startTestAgent, tempDataDir } from './test-agent.ts';
import { waitFor } from '../testing/index.ts';
import type { TestAgent } from './test-agent.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `printf garbage | dd of=<file> bs=1 seek=20 conv=notrunc`, as in the review. */
async function ddGarbage(file: string): Promise<void> {
  const h = await open(file, 'r+');
  await h.write(Buffer.from('garbage'), 0, 7, 20);
  await h.close();
}

/** Leaves the slot processes running, as a `kill -9` of the agent would. */
async function abandon(t: TestAgent): Promise<void> {
  await t.client.close();
  await t.agent.handover();
}

const pidOf = async (t: TestAgent, instance: string): Promise<number> => {
  const pid = (await t.client.describe(instance))?.slots.find((s) => s.color === 'blue')?.pid;
  assert.ok(pid, `${instance} has a pid`);
  return pid;
};

test('both state files corrupt: the agent refuses to start; --reset-state moves them aside, stops the orphans and starts empty', async () => {
  const data = await tempDataDir();
  const pids: number[] = [];
  let t: TestAgent | undefined;
  try {
    t = await startTestAgent(data.dir);
    await deploy(t.client, 'hello', 'hello.test', { blue: { version: '1.1.0' } });
    await t.client.flip('hello', 'blue');
    pids.push(await pidOf(t, 'hello'));
    await abandon(t);
    t = undefined;

    const agentDir = join(data.dir, 'agent', 'private');
    for (const f of ['state.a', 'state.b']) await ddGarbage(join(agentDir, f));
    const corrupt = { a: await readFile(join(agentDir, 'state.a')), b: await readFile(join(agentDir, 'state.b')) };

    const refusedLog = captureLogger();
    await assert.rejects(startTestAgent(data.dir, {}, { log: refusedLog }), (e: unknown) => {
      assert.ok(isCutoverError(e), String(e));
      assert.equal(e.code, 'AGENT_STATE_INVALID');
      assert.match(e.message, /state\.a .*state\.b .*--reset-state/s);
      return true;
    });
    assert.ok(refusedLog.lines.some((l) => l.level === 'error' && l.msg.includes('refusing to start')), 'the refusal is logged');
    assert.ok(alive(pids[0]!), 'a refused start touches nothing: the slot process still runs');
    assert.deepEqual((await readdir(agentDir)).filter((f) => f.startsWith('state')).sort(), ['state.a', 'state.b'], 'the files are left as they are');

    const log = captureLogger();
    t = await startTestAgent(data.dir, {}, { flags: { resetState: true }, log });
    const files = await readdir(agentDir);
    const aside = files.filter((f) => /^state\.[ab]\.corrupt-/.test(f)).sort();
    assert.equal(aside.length, 2, `both files moved aside: ${files.join(', ')}`);
    assert.deepEqual(await readFile(join(agentDir, aside[0]!)), corrupt.a, 'kept byte for byte, never deleted');
    assert.deepEqual(await readFile(join(agentDir, aside[1]!)), corrupt.b);
    assert.ok(log.lines.some((l) => l.level === 'error' && l.msg.includes('moved an invalid agent state file aside')));
    assert.equal(alive(pids[0]!), false, 'the orphaned slot process was stopped');
    assert.ok(log.lines.some((l) => l.msg.includes('no agent state entry claims') && l.obj.instance === 'hello' && l.obj.pid === pids[0]));
    assert.equal(await t.client.describe('hello'), undefined, 'the agent starts empty');
    assert.equal((await get(t.agent.routerPort, 'hello.test')).status, 404);
    // The agent serves again once told (the server re-pushes; here, the client directly).
    await deploy(t.client, 'hello', 'hello.test', { blue: { version: '1.1.0' } });
    await t.client.flip('hello', 'blue');
    assert.equal((await get(t.agent.routerPort, 'hello.test')).status, 200);
  } finally {
    await t?.stop();
    for (const pid of pids) if (alive(pid)) process.kill(-pid, 'SIGKILL');
    await data.cleanup();
  }
});

test('a skipped entry does not orphan its processes: they are stopped and the port is freed; the others are adopted', async () => {
  const data = await tempDataDir();
  const pids: number[] = [];
  let t: TestAgent | undefined;
  try {
    t = await startTestAgent(data.dir);
    await deploy(t.client, 'good', 'good.test', { blue: { version: '1.0.0' } });
    await deploy(t.client, 'corrupt2', 'corrupt2.test', { blue: { version: '1.0.0' } });
    await t.client.flip('good', 'blue');
    await t.client.flip('corrupt2', 'blue');
    const good = await pidOf(t, 'good');
    const bad = await pidOf(t, 'corrupt2');
    const badPort = (await t.client.describe('corrupt2'))?.slots[0]?.port;
    assert.ok(badPort);
    pids.push(good, bad);
    await abandon(t);
    t = undefined;

    // `corrupt2.hosts = 5` with a valid checksum, as in the review.
    const file = createStateFile(join(data.dir, 'agent', 'private', 'state'));
    const { state } = await file.load();
    (state.instances.corrupt2 as unknown as { hosts: number }).hosts = 5;
    await file.save(state as AgentState);
    await file.close();

    const log = captureLogger();
    t = await startTestAgent(data.dir, {}, { log });
    assert.ok(log.lines.some((l) => l.msg.includes('skipped a corrupt instance entry') && l.obj.instance === 'corrupt2'));
    assert.equal(alive(bad), false, "the skipped entry's process was stopped");
    assert.ok(log.lines.some((l) => l.msg.includes('no agent state entry claims') && l.obj.pid === bad));
    assert.equal(await loopbackPortFree(badPort), true, 'its port is free again');
    assert.equal(await pidOf(t, 'good'), good, 'the good instance was adopted, not restarted');
    const routerPort = t.agent.routerPort;
    await waitFor('good to be served', async () => (await get(routerPort, 'good.test')).status === 200);
  } finally {
    await t?.stop();
    for (const pid of pids) if (alive(pid)) process.kill(-pid, 'SIGKILL');
    await data.cleanup();
  }
});
