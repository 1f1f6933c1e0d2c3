// Test support for the API's unit tests: the real API over a memory store, the real deployer
// over the fake runtime, a manual clock, and tokens of every role. Not a test file itself.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ManualClock, silentLogger } from '../shared/index.ts';
import type { Logger } from '../shared/index.ts';
import { createArtifactStore } from '../releases/index.ts';
import type { ArtifactStore } from '../releases/index.ts';
import { createMemoryStore } from '../store/index.ts';
import type { Role, Store } from '../store/index.ts';
import { createDeployer, createTrafficControls } from '../deploy/index.ts';
import { FakeRuntime } from '../testing/index.ts';
import { createDeployAppConfig, ensureBuiltInChannels, hashToken } from '../control/index.ts';
import { createApi } from './api.ts';
import type { ApiDeps } from './api-deps.ts';
import { createScheduler } from '../scheduler/index.ts';

export const DAY = 86_400_000;

export interface Harness {
  store: Store;
  runtime: FakeRuntime;
  clock: ManualClock;
  /** The server's artifact store, in a temporary directory. */
  artifacts: ArtifactStore;
  tokens: Record<Role, string>;
  /** Calls the API as `role` (or with no token when null) and returns status, JSON body and headers. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON answers
  call(role: Role | null, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** The API's own `fetch`-style entry, for requests `call` cannot make (streamed or raw bodies). */
  request(path: string, init: RequestInit): Promise<Response>;
  /** Publishes a release record directly (the API's publish path is tested elsewhere). */
  release(version: string, extra?: Record<string, unknown>, app?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(
  start = Date.parse('2026-11-01T10:00:00Z'),
  options: {
    store?: Store;
    maxApiBody?: number;
    maxArtifactSize?: number;
    tlsFingerprint?: string;
    log?: Logger;
    /** The agent's log stream (and the machine it comes from), for tests of the log relay. */
    openLogs?: ApiDeps['openLogs'];
    /** The app-config key ring (secrets are refused without one). */
    keyRing?: ApiDeps['keyRing'];
    /** Told when edge certificates change. */
    desiredStateChanged?: ApiDeps['desiredStateChanged'];
  } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-api-'));
  const { store: givenStore, log = silentLogger, ...limits } = options;
  const store = givenStore ?? createMemoryStore();
  const clock = new ManualClock(start);
  const runtime = new FakeRuntime();
  runtime.now = () => clock.now();
  const appConfig = options.keyRing ? { appConfig: createDeployAppConfig({ store, keyRing: options.keyRing }) } : {};
  const deployer = createDeployer({ store, runtime, clock, openArtifact: () => Readable.from([]), rollbackWindowMs: 60_000, lockTtlMs: 60_000, ...appConfig });
  const scheduler = createScheduler({ store, deployer, clock, log: silentLogger, intervalMs: 60_000, owner: 'test' });
  const artifacts = createArtifactStore(join(dir, 'artifacts'));
  const api = createApi({
    store,
    deployer,
    traffic: createTrafficControls({ store, runtime, clock }),
    scheduler,
    runtime,
    artifacts,
    clock,
    log,
    openLogs: async () => ({ color: 'blue', body: Readable.from([]), machine: null }),
    ...limits,
  });
  await ensureBuiltInChannels({ store, clock });
  const tokens: Record<Role, string> = { viewer: 'tok-viewer', deployer: 'tok-deployer', admin: 'tok-admin', publisher: 'tok-publisher' };
  for (const role of ['viewer', 'deployer', 'admin', 'publisher'] as Role[]) {
    // The publisher (CI) may promote to `beta` only.
    const channels = role === 'publisher' ? { channels: ['beta'] } : {};
    await store.insertToken({ name: role === 'admin' ? 'admin' : `a-${role}`, hash: hashToken(tokens[role]), role, ...channels, createdAt: clock.now(), createdBy: 'test' });
  }
  return {
    store,
    runtime,
    clock,
    artifacts,
    tokens,
    async call(role, method, path, body, headers = {}) {
      const res = await api.request(path, {
        method,
        headers: {
          ...(role ? { authorization: `Bearer ${tokens[role]}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    request: async (path, init) => api.request(path, init),
    async release(version, extra = {}, app = 'shop') {
      const spec = { app, version, features: [], components: [{ name: app, version }], notes: '', migrations: [], ...extra };
      await store.insertRelease({ app, version, digest: `d-${version}`, spec, createdAt: clock.now(), createdBy: 'ci' });
    },
    async close() {
      await deployer.idle();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
