import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { isCutoverError } from '../shared/index.ts';
import { startAgent } from './agent.ts';
import { writeAgentPid } from './agent-pid-file.ts';
import { captureLogger, tempDataDir } from './test-agent.ts';

async function configFor(dataDir: string, httpPort: number, metricsPort?: number) {
  return loadConfig({ env: {}, flags: { dataDir, httpPort, ...(metricsPort === undefined ? {} : { metricsListen: `127.0.0.1:${metricsPort}` }), logLevel: 'silent' } });
}

async function holder(reusePort: boolean): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', reusePort }, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

test('an agent refuses a router or metrics port another process holds, even with SO_REUSEPORT, naming the port and its flag', async (t) => {
  const data = await tempDataDir();
  t.after(data.cleanup);
  for (const reusePort of [false, true]) {
    const taken = await holder(reusePort);
    t.after(taken.close);
    const free = await holder(false);
    await free.close();
    for (const [http, metrics, flag] of [
      [taken.port, free.port, '--http-port'],
      [free.port, taken.port, '--metrics-listen'],
    ] as const) {
      for (const takeover of [false, true]) {
        await assert.rejects(
          startAgent(await configFor(data.dir, http, metrics), captureLogger(), { takeover }),
          (e) =>
            isCutoverError(e) &&
            e.code === 'PORT_IN_USE' &&
            e.message.includes(`:${taken.port}`) &&
            e.message.includes(flag),
        );
      }
    }
  }
  await assert.rejects(
    access(join(data.dir, 'agent', 'private', 'agent.pid')),
    { code: 'ENOENT' },
    'a refused agent records nothing',
  );
});

test('another live agent of the data directory: refused without --takeover; --takeover only when it holds the ports', async (t) => {
  const data = await tempDataDir();
  t.after(data.cleanup);
  const taken = await holder(true);
  t.after(taken.close);
  // A stand-in for the live agent: another process, named by agent.pid with its start time, at
  // the path an earlier version's agent wrote it (agent/, not agent/private/): a successor must
  // still find such a predecessor.
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.after(() => other.kill('SIGKILL'));
  await once(other, 'spawn');
  const file = join(data.dir, 'agent', 'agent.pid');
  await mkdir(join(data.dir, 'agent'), { recursive: true });
  await writeAgentPid(file, { routerPort: taken.port });
  const record = JSON.parse(await readFile(file, 'utf8')) as { bootTicks?: string };
  const stat = await readFile(`/proc/${other.pid}/stat`, 'utf8').catch(() => undefined);
  const bootTicks = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  await writeFile(file, JSON.stringify({ ...record, pid: other.pid, ...(bootTicks ? { bootTicks } : {}) }));

  await assert.rejects(
    startAgent(await configFor(data.dir, 0), captureLogger()),
    (e) =>
      isCutoverError(e) &&
      e.code === 'AGENT_RUNNING' &&
      e.message.includes(`pid ${other.pid}`) &&
      e.message.includes('--takeover'),
  );
  // The taken router port is held by this process, not by the agent agent.pid names: --takeover is refused too.
  await assert.rejects(
    startAgent(await configFor(data.dir, taken.port), captureLogger(), { takeover: true }),
    (e) =>
      isCutoverError(e) &&
      e.code === 'PORT_IN_USE' &&
      e.message.includes(`pid ${other.pid}`) &&
      e.message.includes('does not hold'),
  );
});
