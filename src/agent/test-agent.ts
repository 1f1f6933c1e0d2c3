// Test support (not shipped): a real agent (router, supervisor, control API on loopback) in a temp
// data directory, driven through the real agent client, deploying `fixtures/app`.
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { CutoverError } from '../shared/index.ts';
import type { Color, ErrorCode } from '../shared/index.ts';
import type { LocalRollback } from '../protocol/index.ts';
import { packArtifact } from '../releases/index.ts';
import type { Runtime } from '../deploy/index.ts';
import { startAgent } from './agent.ts';
import type { AgentOptions, RunningAgent } from './agent.ts';
import { sessionRuntime } from '../link/index.ts';
import { captureLog, startLinkServer } from '../testing/index.ts';
import type { CapturedLine, LinkServer } from '../testing/index.ts';
import { localSocketPath } from './local-socket.ts';

/** The app the agent tests deploy (see its header). */
export const FIXTURE_APP = join(import.meta.dirname, 'fixtures', 'app');

/** A logger that keeps every line, for assertions (the test kit's). */
export const captureLogger = captureLog;
export type LogLine = CapturedLine;

export interface TestAgent {
  agent: RunningAgent;
  /** The server's `Runtime` over this agent's session (artifacts given to `ensureArtifact` are put on the server first). */
  client: Runtime & { close(): Promise<void> };
  log: ReturnType<typeof captureLogger>;
  dataDir: string;
  /** The in-process server the agent dialled (none when the test gave its own `machine`). */
  server?: LinkServer;
  /** Stops the agent (and its slots) and its server; the data directory stays. */
  stop(): Promise<void>;
}

/**
 * Starts an agent on `dataDir` (router port 0 unless given), joined to an in-process server on
 * loopback (`startLinkServer`) unless the test gives its own `machine`, and waits for its session.
 */
export async function startTestAgent(
  dataDir: string,
  ports: { http?: number } = {},
  extra: { flags?: Record<string, unknown>; log?: ReturnType<typeof captureLogger>; checkAnswers?: boolean; machine?: AgentOptions['machine'] } = {},
): Promise<TestAgent> {
  const config = await loadConfig({
    env: {},
    flags: { dataDir, httpPort: ports.http ?? 0, drainTimeout: '2s', pauseTimeout: '2s', logLevel: 'silent', ...extra.flags },
  });
  const log = extra.log ?? captureLogger();
  const server = extra.machine ? undefined : await startLinkServer({ name: 'test-agent' });
  const machine = extra.machine ?? { link: server!.machineLink, agentVersion: '0.0.0' };
  let agent: RunningAgent;
  try {
    agent = await startAgent(config, log, { ...(extra.checkAnswers ? { checkAnswers: true } : {}), machine });
  } catch (error) {
    await server?.stop();
    throw error;
  }
  if (!server) return { agent, client: sessionRuntime(machine.link.name, () => undefined), log, dataDir, stop: () => agent.stop() };
  await agent.session!.whenConnected(10_000);
  const runtime = sessionRuntime(machine.link.name, server.link.sessionOf);
  let serverStopped: Promise<void> | undefined;
  const stopServer = () => (serverStopped ??= server.stop());
  const client: TestAgent['client'] = {
    ...runtime,
    // Closing the client ends the server's side (an abandoned agent serves on without it).
    close: stopServer,
    async ensureArtifact(instance, digest, open) {
      if (!(await server.artifacts.has(digest))) await server.artifacts.put(open(), digest);
      return runtime.ensureArtifact(instance, digest, open);
    },
  };
  return {
    agent,
    client,
    log,
    dataDir,
    server,
    async stop() {
      await agent.stop();
      await stopServer();
    },
  };
}

/** The slot spec of the fixture app from `digest`, healthy or never healthy (what the Runtime contract suite starts). */
export const fixtureSlotSpec =
  (digest: string) =>
  (instance: string, color: Color, version: string, healthy = true) => ({
    instance,
    color,
    version,
    digest,
    start: `${JSON.stringify(process.execPath)} server.mjs`,
    env: healthy ? {} : ({ UNHEALTHY: '1' } as Record<string, string>),
    health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2 },
    stopTimeoutMs: 2000,
    deploymentId: `d-${instance}-${color}-${version}`,
  });

/** A temp directory, removed by the returned cleanup. */
export async function tempDataDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-agent-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Packs the fixture app (the artifact `deploy` uploads). */
export const packFixtureApp = () => packArtifact(FIXTURE_APP);

/** Uploads the fixture app, routes `instance` on `host`, and starts one slot per colour given, waiting until each is healthy. */
export async function deploy(
  runtime: Runtime,
  instance: string,
  host: string,
  slots: Partial<Record<Color, { version: string; env?: Record<string, string>; waitHealthy?: boolean; drain?: { path: string; intervalMs?: number } }>>,
): Promise<void> {
  const packed = await packArtifact(FIXTURE_APP);
  await runtime.ensureArtifact(instance, packed.digest, () => createReadStream(packed.file));
  if (packed.temporary) await rm(packed.file, { force: true });
  await runtime.ensureInstance(instance, [host]);
  for (const [color, slot] of Object.entries(slots) as [Color, NonNullable<(typeof slots)[Color]>][]) {
    await runtime.startSlot({
      instance,
      color,
      version: slot.version,
      digest: packed.digest,
      start: `${JSON.stringify(process.execPath)} server.mjs`,
      env: slot.env ?? {},
      health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2 },
      stopTimeoutMs: 2000,
      deploymentId: `d-${color}-${slot.version}`,
      ...(slot.drain ? { drain: slot.drain } : {}),
    });
    if (slot.waitHealthy !== false) {
      const health = await runtime.waitHealthy(instance, color, 10_000);
      if (!health.ok) throw new Error(`${color} did not get healthy: ${health.message}`);
    }
  }
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One GET through the router, without keep-alive (so the test leaves no socket behind). */
export function get(port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { host, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export type { MachineLink } from './machine-link.ts';

/** One request to the agent's local socket (what `cutover local rollback` sends): the status and the JSON answer. */
export function localRequest(dataDir: string, method: 'GET' | 'POST', path: string, body?: object): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: localSocketPath(join(dataDir, 'agent')), method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

/** `cutover local rollback` through the socket: the recorded rollback, or the agent's refusal thrown as a `CutoverError`. */
export async function rollBackLocally(dataDir: string, instance: string): Promise<LocalRollback> {
  const { status, json } = await localRequest(dataDir, 'POST', '/v1/local/rollback', { instance });
  if (status !== 200) throw new CutoverError(json.code as ErrorCode, String(json.message), { details: json.details as Record<string, unknown> });
  return json.rollback as LocalRollback;
}
