import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createArtifactStore, unpackArtifact } from '../releases/index.ts';
import { createSupervisor } from '../supervisor/index.ts';
import { createStateFile } from './agent-state.ts';
import { deploy, get, packFixtureApp, startTestAgent, tempDataDir } from './test-agent.ts';
import { waitFor } from '../testing/index.ts';
import type { TestAgent } from './test-agent.ts';

const isRoot = process.getuid?.() === 0;
/** A uid range of this test process's own: other agents may run on this machine at the same time. */
const base = 66_000 + (process.pid % 40) * 50;
const settings = { flags: { slotUidRange: `${base}-${base + 49}` } };
const health = {
  path: '/healthz',
  intervalMs: 50,
  timeoutMs: 1000,
  healthyThreshold: 1,
  unhealthyThreshold: 2,
};

function needsRoot(t: { skip(message: string): void }): boolean {
  if (isRoot) return true;
  assert.notEqual(process.env.CI, 'true', 'CI runs as root: this test must not be skipped there');
  t.skip('slot uids need the agent to run as root');
  return false;
}

async function uidOf(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

async function slotPid(t: TestAgent, instance: string, color = 'blue'): Promise<number | undefined> {
  return (await t.client.describe(instance))?.slots.find((s) => s.color === color)?.pid;
}

test('each instance gets a uid of its own, kept across restarts, and its own copy of a shared release', async (t) => {
  if (!needsRoot(t)) return;
  const data = await tempDataDir();
  let agent: TestAgent | undefined;
  try {
    agent = await startTestAgent(data.dir, {}, settings);
    await deploy(agent.client, 'one', 'one.test', { blue: { version: '1.0.0' } });
    await deploy(agent.client, 'two', 'two.test', { blue: { version: '1.0.0' } });
    const uidOne = await uidOf(await slotPid(agent, 'one'));
    const uidTwo = await uidOf(await slotPid(agent, 'two'));
    assert.equal(uidOne, base);
    assert.equal(uidTwo, base + 1);
    assert.equal((await agent.client.describe('one'))?.isolation, 'uid');

    const { digest } = await packFixtureApp();
    const copy = (instance: string) =>
      join(data.dir, 'agent', 'releases', instance, digest.replace(':', '-'));
    for (const [instance, uid] of [
      ['one', uidOne],
      ['two', uidTwo],
    ] as const) {
      const release = await stat(copy(instance));
      assert.deepEqual([release.uid, release.gid, release.mode & 0o7777], [0, uid, 0o750]);
      const home = await stat(join(data.dir, 'agent', 'homes', instance));
      assert.deepEqual([home.uid, home.gid, home.mode & 0o7777], [uid, uid, 0o700]);
    }
    await assert.rejects(
      stat(join(data.dir, 'agent', 'releases', digest.replace(':', '-'))),
      { code: 'ENOENT' },
      'no shared copy any more',
    );

    // The state directory outlives a release: what 1.0.0 kept there, 1.1.0 (the other colour) finds.
    const homeOne = join(data.dir, 'agent', 'homes', 'one');
    const kept = join(homeOne, 'kept-by-1.0.0');
    await writeFile(kept, 'still here');
    await chown(kept, uidOne, uidOne);
    await deploy(agent.client, 'one', 'one.test', { green: { version: '1.1.0' } });
    const greenPid = await slotPid(agent, 'one', 'green');
    const environ = (await readFile(`/proc/${greenPid}/environ`, 'utf8')).split('\0');
    assert.ok(environ.includes(`CUTOVER_STATE_DIR=${homeOne}`), 'the next release gets the same state directory');
    assert.ok(environ.includes(`HOME=${homeOne}`));
    assert.equal(await uidOf(greenPid), uidOne);
    assert.equal(await readFile(kept, 'utf8'), 'still here');

    await agent.stop();
    agent = await startTestAgent(data.dir, {}, settings);
    const restarted = agent;
    await waitFor(
      'one to be restored',
      async () => (await restarted.client.describe('one'))?.slots[0]?.state === 'healthy',
      10_000,
    );
    assert.equal(await uidOf(await slotPid(agent, 'one')), uidOne, 'the uid is in the agent state');

    // A process instance two left outside its slots' process groups (a daemon that called setsid).
    const escapee = spawn('/bin/sleep', ['60'], {
      uid: uidTwo,
      gid: uidTwo,
      detached: true,
      stdio: 'ignore',
      env: { CUTOVER_STATE_DIR: join(data.dir, 'agent', 'homes', 'two') },
    });
    escapee.unref();
    const escaped = new Promise((resolve) => escapee.once('exit', (_code, signal) => resolve(signal)));
    // Removing an instance removes its files and processes: its uid may be handed to another instance later.
    await agent.client.removeInstance('two');
    await assert.rejects(stat(join(data.dir, 'agent', 'releases', 'two')), { code: 'ENOENT' });
    await assert.rejects(stat(join(data.dir, 'agent', 'homes', 'two')), { code: 'ENOENT' });
    assert.equal(await escaped, 'SIGKILL');
    assert.equal(
      (await agent.client.describe('one'))?.slots[0]?.state,
      'healthy',
      'the other instance is untouched',
    );
  } finally {
    await agent?.stop();
    await data.cleanup();
  }
});

test("a slot an older agent started (as the agent's uid, from the shared copy) is adopted as it runs, and the next deploy isolates it", async (t) => {
  if (!needsRoot(t)) return;
  const data = await tempDataDir();
  const agentDir = join(data.dir, 'agent');
  let agent: TestAgent | undefined;
  let oldPid: number | undefined;
  try {
    // What an agent before per-instance uids left behind: the shared copy, a slot running as
    // root from it (with its pid file), and a state entry without uid or runAs.
    const packed = await packFixtureApp();
    await createArtifactStore(join(agentDir, 'artifacts')).put(createReadStream(packed.file), packed.digest);
    if (packed.temporary) await rm(packed.file, { force: true });
    const legacy = join(agentDir, 'releases', packed.digest.replace(':', '-'));
    await unpackArtifact(join(agentDir, 'artifacts', `${packed.digest.replace(':', '-')}.tgz`), legacy);
    const start = `${JSON.stringify(process.execPath)} server.mjs`;
    const old = createSupervisor({ logDir: join(agentDir, 'logs') });
    const info = await old.start({
      instance: 'old',
      color: 'blue',
      version: '0.9.0',
      cwd: legacy,
      command: start,
      env: {},
      health,
      stopTimeoutMs: 2000,
    });
    oldPid = info.pid;
    assert.equal((await old.waitHealthy('old', 'blue', 10_000)).ok, true);
    await old.releaseAll();
    const stateFile = createStateFile(join(agentDir, 'state'));
    await stateFile.save({
      version: 1,
      instances: {
        old: {
          hosts: ['old.test'],
          active: 'blue',
          slots: {
            blue: {
              version: '0.9.0',
              digest: packed.digest,
              start,
              env: {},
              health,
              stopTimeoutMs: 2000,
              deploymentId: 'd-old',
            },
          },
        },
        // Its process is gone: when the agent starts it again, it starts it as its instance's user.
        gone: {
          hosts: ['gone.test'],
          active: 'blue',
          slots: {
            blue: {
              version: '0.9.0',
              digest: packed.digest,
              start,
              env: {},
              health,
              stopTimeoutMs: 2000,
              deploymentId: 'd-gone',
            },
          },
        },
      },
    });
    await stateFile.close();

    agent = await startTestAgent(data.dir, {}, settings);
    assert.equal(await slotPid(agent, 'old'), oldPid, 'the running process is adopted');
    assert.equal(await uidOf(oldPid), 0);
    assert.equal(
      (await agent.client.describe('old'))?.isolation,
      'none',
      'reported as it is: not isolated yet',
    );
    assert.equal(JSON.parse((await get(agent.agent.routerPort, 'old.test')).body).version, '0.9.0');
    assert.equal((await stat(legacy)).mode & 0o7777, 0o700, 'the shared copy is for root alone now');
    const running = agent;
    await waitFor(
      'gone to be started again',
      async () => (await running.client.describe('gone'))?.slots[0]?.state === 'healthy',
      10_000,
    );
    assert.equal(await uidOf(await slotPid(agent, 'gone')), base);
    assert.equal((await agent.client.describe('gone'))?.isolation, 'uid');
    assert.equal(JSON.parse((await get(agent.agent.routerPort, 'gone.test')).body).version, '0.9.0');

    await deploy(agent.client, 'old', 'old.test', { green: { version: '1.0.0' } });
    await agent.client.flip('old', 'green');
    await agent.client.stopSlot('old', 'blue');
    assert.equal(await uidOf(await slotPid(agent, 'old', 'green')), base + 1);
    assert.equal((await agent.client.describe('old'))?.isolation, 'uid');
    assert.equal(JSON.parse((await get(agent.agent.routerPort, 'old.test')).body).version, '1.0.0');
  } finally {
    await agent?.stop();
    if (oldPid !== undefined) {
      try {
        process.kill(-oldPid, 'SIGKILL');
      } catch {
        // stopped by the agent
      }
    }
    await data.cleanup();
  }
});

test('a data directory slot users cannot reach is named at start and refused at slot start until it is fixed', async (t) => {
  if (!needsRoot(t)) return;
  const parent = await tempDataDir(); // mkdtemp: 0700, root's
  const dataDir = join(parent.dir, 'data');
  let agent: TestAgent | undefined;
  try {
    agent = await startTestAgent(dataDir, {}, settings);
    const logged = agent.log.lines.find((l) => l.level === 'error');
    assert.match(
      logged?.msg ?? '',
      new RegExp(`${parent.dir} is mode 0700 and does not let other users through`),
    );
    await assert.rejects(
      deploy(agent.client, 'shop', 'shop.test', { blue: { version: '1.0.0' } }),
      (e: Error & { code?: string }) =>
        e.code === 'CONFIG_INVALID' && e.message.includes(`chmod o+x ${parent.dir}`),
    );
    await chmod(parent.dir, 0o711);
    await deploy(agent.client, 'shop', 'shop.test', { blue: { version: '1.0.0' } });
    assert.equal(await uidOf(await slotPid(agent, 'shop')), base);
  } finally {
    await agent?.stop();
    await parent.cleanup();
  }
});

test('the data directory lets slot users through, and nothing in it that it used to hide is readable by path', async (t) => {
  if (!needsRoot(t)) return;
  const data = await tempDataDir();
  let agent: TestAgent | undefined;
  try {
    await mkdir(join(data.dir, 'artifacts'), { mode: 0o755 });
    await writeFile(join(data.dir, 'cutover.db'), 'x', { mode: 0o644 });
    await chmod(join(data.dir, 'cutover.db'), 0o644);
    await chmod(join(data.dir, 'artifacts'), 0o755);
    await writeFile(join(data.dir, 'notes.txt'), 'not ours');
    await chmod(join(data.dir, 'notes.txt'), 0o644);
    agent = await startTestAgent(data.dir, {}, settings);
    const mode = async (p: string) => (await stat(join(data.dir, p))).mode & 0o7777;
    assert.equal(await mode('.'), 0o711);
    assert.equal(await mode('cutover.db'), 0o600);
    assert.equal(await mode('artifacts'), 0o700);
    assert.equal(await mode('notes.txt'), 0o644, "what is not Cutover's is left alone");
    assert.equal(await mode('agent'), 0o711);
    assert.equal(await mode('agent/private'), 0o700);
    assert.equal(await mode('agent/logs'), 0o700);
    assert.equal(await mode('agent/artifacts'), 0o700);
    assert.equal(await mode('agent/releases'), 0o711);
    assert.equal(await mode('agent/homes'), 0o711);
  } finally {
    await agent?.stop();
    await data.cleanup();
  }
});

test('with slotUser, every instance runs as that one user', async (t) => {
  if (!needsRoot(t)) return;
  const data = await tempDataDir();
  let agent: TestAgent | undefined;
  try {
    const user = base + 49;
    agent = await startTestAgent(data.dir, {}, { flags: { ...settings.flags, slotUser: `${user}:${user}` } });
    await deploy(agent.client, 'one', 'one.test', { blue: { version: '1.0.0' } });
    await deploy(agent.client, 'two', 'two.test', { blue: { version: '1.0.0' } });
    assert.equal(await uidOf(await slotPid(agent, 'one')), user);
    assert.equal(await uidOf(await slotPid(agent, 'two')), user);
    assert.equal((await agent.client.describe('two'))?.isolation, 'uid');
    assert.equal((await stat(join(data.dir, 'agent', 'homes', 'two'))).uid, user);
  } finally {
    await agent?.stop();
    await data.cleanup();
  }
});
