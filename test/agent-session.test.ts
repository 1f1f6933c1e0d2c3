// The session an agent opens to the server (ADR 0019), end to end in one process: a real agent
// (router, supervisor, slots) dials a real API listener on loopback, and the server drives it
// through `sessionRuntime` — the same `Runtime` contract the HTTP client passes.
import assert from 'node:assert/strict';
import { after, before, suite, test } from 'node:test';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packArtifact } from '../src/releases/index.ts';
import { getMachine } from '../src/control/index.ts';
import { PROTOCOL_VERSION } from '../src/protocol/index.ts';
import { FIXTURE_APP, deploy, fixtureSlotSpec, get, rollBackLocally, startTestAgent, tempDataDir } from '../src/agent/test-agent.ts';
import type { MachineLink, TestAgent } from '../src/agent/test-agent.ts';
import { runtimeContract, startLinkServer, waitFor } from '../src/testing/index.ts';
import { openSessionLogs, sessionRuntime } from '../src/link/index.ts';


runtimeContract('the agent over its session with the server', async () => {
  const server = await startLinkServer();
  const temp = await tempDataDir();
  const packed = await packArtifact(FIXTURE_APP);
  await server.artifacts.put(createReadStream(packed.file), packed.digest);
  const agent = await startTestAgent(
    temp.dir,
    {},
    { machine: { link: server.machineLink, agentVersion: '0.0.0' } },
  );
  await agent.agent.session!.whenConnected(10_000);
  return {
    runtime: sessionRuntime('web-1', server.link.sessionOf),
    artifact: { digest: packed.digest, open: () => createReadStream(packed.file) },
    rollBackLocally: (instance) => rollBackLocally(temp.dir, instance),
    spec: fixtureSlotSpec(packed.digest),
    async stop() {
      await agent.stop();
      await server.stop();
      if (packed.temporary) await rm(packed.file, { force: true });
      await temp.cleanup();
    },
  };
});

suite('the agent session', () => {
  let server: Awaited<ReturnType<typeof startLinkServer>>;
  let temp: Awaited<ReturnType<typeof tempDataDir>>;
  let packed: Awaited<ReturnType<typeof packArtifact>>;
  const agents: TestAgent[] = [];
  before(async () => {
    server = await startLinkServer();
    temp = await tempDataDir();
    await chmod(temp.dir, 0o711); // slot users pass through to each agent's directory
    packed = await packArtifact(FIXTURE_APP);
    await server.artifacts.put(createReadStream(packed.file), packed.digest);
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await server.stop();
    if (packed.temporary) await rm(packed.file, { force: true });
    await temp.cleanup();
  });
  const agentFor = async (link: MachineLink, dir: string, protocol?: number) => {
    const a = await startTestAgent(
      dir,
      {},
      { machine: { link, agentVersion: '0.0.0', ...(protocol === undefined ? {} : { protocol }) } },
    );
    agents.push(a);
    return a;
  };

  test('logs stream over their own stream; a download cut short resumes where it stopped; the agent comes back after the link is cut', async () => {
    const agent = await agentFor(server.machineLink, join(temp.dir, 'a'));
    await agent.agent.session!.whenConnected(10_000);
    // Half the artifact is already there, as a lost link would leave it.
    const downloads = join(temp.dir, 'a', 'agent', 'private', 'downloads');
    await mkdir(downloads, { recursive: true });
    const whole = await readFile(packed.file);
    await writeFile(
      join(downloads, `${packed.digest.replace(':', '-')}.part`),
      whole.subarray(0, Math.floor(whole.length / 2)),
    );
    const runtime = sessionRuntime('web-1', server.link.sessionOf);
    await deploy(runtime, 'shop', 'shop.test', { blue: { version: '1.0.0' } });
    const sent = server.log.lines.filter((l) => l.msg === 'sending an artifact to an agent');
    assert.deepEqual(
      sent.map((l) => l.obj.from),
      [Math.floor(whole.length / 2)],
      'only the missing half was sent',
    );
    await runtime.flip('shop', 'blue');
    // Requests through the router show up in the counters the agent pushes (what the bake reads).
    for (let i = 0; i < 5; i++) await get(agent.agent.routerPort, 'shop.test');
    const pushed = await waitFor('counters pushed', () => {
      const blue = server.link.pushedStats('shop')?.colors.find((c) => c.color === 'blue');
      return blue && blue.requests >= 5 ? blue : undefined;
    }, 5000);
    assert.equal(pushed.version, '1.0.0');
    const logs = await openSessionLogs(
      server.link.sessionOf('web-1'),
      'web-1',
      'shop',
      { tail: 50 },
      AbortSignal.timeout(10_000),
    );
    assert.equal(logs.color, 'blue');
    let text = '';
    for await (const chunk of logs.body) text += String(chunk);
    assert.match(text, /listening|1\.0\.0/);

    // The server drops the session: the agent reconnects by itself and answers again.
    server.link.disconnect('web-1', 'the test cut the link');
    await assert.rejects(runtime.describe('shop'), { code: 'AGENT_UNREACHABLE' });
    await waitFor('the agent reconnects', () => server.link.connected().includes('web-1'), 15_000);
    assert.equal((await runtime.describe('shop'))?.active, 'blue');
  });

  test('two deployments fetching the same artifact at once share one download', async () => {
    const link = await server.join('twin-fetch');
    const agent = await agentFor(link, join(temp.dir, 'f'));
    await agent.agent.session!.whenConnected(10_000);
    const runtime = sessionRuntime('twin-fetch', server.link.sessionOf);
    const sentBefore = server.log.lines.filter((l) => l.msg === 'sending an artifact to an agent').length;
    await Promise.all([1, 2, 3].map((i) => runtime.ensureArtifact(`twin-${i}`, packed.digest, () => createReadStream(packed.file))));
    const sent = server.log.lines.filter((l) => l.msg === 'sending an artifact to an agent').length - sentBefore;
    assert.equal(sent, 1, 'one download for three calls');
    assert.ok((await runtime.listArtifacts()).some((a) => a.digest === packed.digest));
  });

  test('a release test keeps running when its session drops; asked again with the same key on the next session, the agent joins it and answers its result (ADR 0026)', async () => {
    const link = await server.join('resume-1');
    const agent = await agentFor(link, join(temp.dir, 'g'));
    await agent.agent.session!.whenConnected(10_000);
    const runtime = sessionRuntime('resume-1', server.link.sessionOf);
    await deploy(runtime, 'resume', 'resume.test', { blue: { version: '1.0.0' } });
    const spec = { instance: 'resume', kind: 'verify' as const, command: 'sleep 5; echo verified', timeoutMs: 60_000, digest: packed.digest, version: '1.0.0', deploymentId: 'dpl_resume', previewToken: '' };
    const runs = () => agent.log.lines.filter((l) => l.msg === 'running the verify test').length;
    const first = runtime.runTest(spec);
    first.catch(() => undefined);
    await waitFor('the test to run', () => runs() === 1, 10_000);
    // The replica that asked dies: its session with the agent is gone, the test runs on.
    server.link.disconnect('resume-1', 'the test cut the link');
    await assert.rejects(first, { code: 'AGENT_UNREACHABLE' });
    await waitFor('the agent reconnects', () => server.link.connected().includes('resume-1'), 15_000);
    const result = await runtime.runTest(spec);
    assert.equal(result.passed, true, JSON.stringify(result));
    assert.match(result.output, /verified/);
    assert.equal(runs(), 1, 'one run: the repeat joined it (a second would have cancelled the first)');
  });

  test('protocol N−1 is welcomed (and flagged), N−2 refused naming both; a wrong credential and a stolen name are refused', async () => {
    const older = await agentFor(
      await server.join('old-1', PROTOCOL_VERSION - 1),
      join(temp.dir, 'b'),
      PROTOCOL_VERSION - 1,
    );
    await older.agent.session!.whenConnected(10_000);
    assert.ok(server.link.connected().includes('old-1'));
    const old = await getMachine(server.store, 'old-1');
    assert.deepEqual([old.address, old.protocolVersion, old.needsUpgrade], ['127.0.0.1', PROTOCOL_VERSION - 1, true], 'the session records where it came from, and flags the upgrade');
    const ancient = await agentFor(
      await server.join('ancient-1', PROTOCOL_VERSION - 1),
      join(temp.dir, 'c'),
      PROTOCOL_VERSION - 2,
    );
    await assert.rejects(ancient.agent.session!.whenConnected(10_000), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'PROTOCOL_UNSUPPORTED');
      assert.match(
        e.message,
        new RegExp(`protocol ${PROTOCOL_VERSION - 2}, this server ${PROTOCOL_VERSION}`),
      );
      return true;
    });
    const forged = await agentFor(
      { ...server.machineLink, name: 'forged-1', credential: 'cutm_wrong' },
      join(temp.dir, 'd'),
    );
    await assert.rejects(forged.agent.session!.whenConnected(10_000), { code: 'MACHINE_CREDENTIAL_INVALID' });
    // Another machine's credential with web-1's name: it is that machine, not web-1.
    const other = await server.join('other-1');
    const thief = await agentFor({ ...other, name: 'web-1' }, join(temp.dir, 'e'));
    await assert.rejects(thief.agent.session!.whenConnected(10_000), { code: 'MACHINE_CREDENTIAL_INVALID' });
    assert.ok(!server.link.connected().includes('forged-1'));
  });
});

test('over TLS the agent talks only to the pinned certificate', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-link-tls-'));
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'k.pem'),
    '-out',
    join(dir, 'c.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=link-test',
  ]);
  const cert = await readFile(join(dir, 'c.pem'), 'utf8');
  const fingerprint = new X509Certificate(cert).fingerprint256.replaceAll(':', '').toLowerCase();
  const server = await startLinkServer({ name: 'tls-1', tls: { cert, key: await readFile(join(dir, 'k.pem'), 'utf8'), fingerprint } });
  const agents: TestAgent[] = [];
  try {
    const good = await startTestAgent(
      join(dir, 'good'),
      {},
      { machine: { link: server.machineLink, agentVersion: '0.0.0' } },
    );
    agents.push(good);
    await good.agent.session!.whenConnected(10_000);
    assert.deepEqual(await sessionRuntime('tls-1', server.link.sessionOf).listArtifacts(), []);
    const other = await server.join('tls-2');
    const pinnedElsewhere = await startTestAgent(
      join(dir, 'bad'),
      {},
      { machine: { link: { ...other, fingerprint: 'ab'.repeat(32) }, agentVersion: '0.0.0' } },
    );
    agents.push(pinnedElsewhere);
    await waitFor(
      'the wrong pin is refused',
      () => pinnedElsewhere.log.lines.some((l) => l.obj.code === 'TLS_UNTRUSTED'),
      10_000,
    );
    assert.ok(!server.link.connected().includes('tls-2'));
  } finally {
    for (const a of agents) await a.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
