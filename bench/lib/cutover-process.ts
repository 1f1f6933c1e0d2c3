import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Client } from 'undici';
import {
  CLI,
  alive,
  cutover,
  isolateCliConfig,
  localToken,
  manifest,
  portFlags,
  ports,
  tempDir,
  waitFor,
} from '../../src/testing/index.ts';

// Every `cutover up` a benchmark starts records its admin token in this process's own contexts
// directory, never the user's, and `localToken` reads it back from there.
isolateCliConfig();

/** A `cutover up` started for one benchmark, in its own temp dir, on free ports. */
export interface BenchCutover {
  dataDir: string;
  routerUrl: string;
  apiUrl: string;
  token: string;
  /** The API on one kept-alive connection, as a long-lived client (not the CLI) would talk to it. */
  api: Client;
  /** Runs the CLI (a new process) for set-up steps that are not measured. */
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string; json: unknown }>;
  /** Publishes the example app as each of `versions` (through the CLI, a few at a time). */
  publish(versions: string[]): Promise<void>;
  /** Remembers a process id (a slot process) to check for after the stop. */
  track(pid: number | undefined): void;
  /** Stops `up` (which stops the agent and its slots), then kills any tracked process still alive. */
  stop(): Promise<{ leaked: number[] }>;
}

export interface StartOptions {
  /** Extra flags for `cutover up`. */
  args?: string[];
  /** Longest the start may take. */
  timeoutMs?: number;
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/** Waits up to `timeoutMs` for `pids` to exit; returns those still alive then. */
async function untilDead(pids: number[], timeoutMs: number): Promise<number[]> {
  await waitFor('the processes to exit', () => pids.every((pid) => !alive(pid)), timeoutMs).catch(() => {});
  return pids.filter(alive);
}

/**
 * Starts `cutover up --json` as a user would and waits for its JSON line. Stderr is kept (last
 * lines only) so a failed start can say why without flooding the benchmark output.
 */
export async function startCutover(options: StartOptions = {}): Promise<BenchCutover> {
  const data = await tempDir('bench');
  const p = await ports();
  const args = [
    'up',
    ...portFlags(p),
    ...(options.args ?? []),
  ];
  const child = spawn(
    process.execPath,
    [CLI, '--data-dir', data.dir, '--json', ...args, '--log-level', 'warn'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '' },
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const tracked = new Set<number>();
  if (child.pid) tracked.add(child.pid);

  /**
   * Graceful first (SIGTERM lets `up` stop the agent, which drains and stops the slots), then
   * SIGKILL for anything tracked that is still alive after a bounded wait.
   */
  const shutdown = async (): Promise<number[]> => {
    for (const pid of await childrenOf(child.pid ?? 0)) tracked.add(pid);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
    const leaked = await untilDead([...tracked], 5_000);
    for (const pid of leaked) {
      try {
        process.kill(-pid, 'SIGKILL'); // slots lead their own process group
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await data.cleanup();
    return leaked;
  };

  let info: { router: string; api: string; adminToken?: string };
  try {
    info = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`cutover up did not start in ${options.timeoutMs ?? 30_000} ms\n${stderr}`)),
        options.timeoutMs ?? 30_000,
      );
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        try {
          const parsed = JSON.parse(out) as { router: string; api: string; adminToken?: string };
          clearTimeout(timer);
          resolve(parsed);
        } catch {
          // not the whole JSON document yet
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`cutover up exited with ${code} before it was ready\n${stderr}`));
      });
    });
    // The agent is `up`'s child; track it so a hard stop cannot leave it behind.
    for (const pid of await childrenOf(child.pid ?? 0)) tracked.add(pid);
  } catch (error) {
    await shutdown();
    throw error;
  }

  const token = info.adminToken ?? (await localToken(info.api)) ?? '';
  const api = new Client(info.api, { keepAliveTimeout: 60_000, pipelining: 1 });
  const cli = (cliArgs: string[]) => cutover(data.dir, cliArgs);

  let stopping: Promise<{ leaked: number[] }> | undefined;
  return {
    dataDir: data.dir,
    routerUrl: info.router,
    apiUrl: info.api,
    token,
    api,
    cli,
    async publish(versions) {
      const queue = [...versions];
      const worker = async () => {
        for (let v = queue.shift(); v !== undefined; v = queue.shift()) {
          const r = await cli(['release', 'publish', await manifest(data.dir, v)]);
          if (r.code !== 0) throw new Error(`publishing ${v} failed: ${r.stderr}${r.stdout}`);
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
    },
    track(pid) {
      if (pid) tracked.add(pid);
    },
    stop() {
      stopping ??= (async () => {
        await api.close().catch(() => undefined);
        return { leaked: await shutdown() };
      })();
      return stopping;
    },
  };
}

/** Rejects with a clear message when `work` takes longer than `ms`; the caller's finally still runs. */
export async function withDeadline<T>(what: string, ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** One JSON API call on the kept-alive client; throws with the server's error body on 4xx/5xx. */
export async function apiCall<T>(
  c: BenchCutover,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await c.api.request({
    method,
    path,
    headers: {
      authorization: `Bearer ${c.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new Error(`${method} ${path} → ${res.statusCode}: ${text}`);
  return JSON.parse(text) as T;
}

/** The deployment record fields the benchmarks read. */
export interface Deployment {
  id: string;
  kind: string;
  strategy: string;
  status: string;
  toVersion: string;
  createdAt: number;
  finishedAt?: number;
  error?: { code: string; message: string };
  steps: {
    name: string;
    status: string;
    startedAt?: number;
    finishedAt?: number;
    detail?: Record<string, number>;
  }[];
}

type Iso<T> = { [K in keyof T]: T[K] extends number | undefined ? string | Extract<T[K], undefined> : T[K] };
/** A deployment as the API sends it: its times are ISO 8601 strings. */
export type DeploymentAnswer = Omit<Iso<Deployment>, 'steps'> & {
  steps: (Omit<Iso<Deployment['steps'][number]>, 'detail'> & { detail?: Record<string, number | string> })[];
};

/**
 * A deployment with its ISO 8601 times (the API's) as ms since the epoch, so the figures stay
 * differences of numbers; `detail` values that are ISO times (`healthySince`, `flippedAt`) too.
 */
export function deploymentFromAnswer(a: DeploymentAnswer): Deployment {
  const ms = (v: string | undefined) => (v === undefined ? undefined : Date.parse(v));
  // Only the times (`healthySince`, `flippedAt`, `shiftedAt`): other strings (a test's command) stay as they are.
  const num = (k: string, v: number | string) => (typeof v === 'string' && /(At|Since)$/.test(k) ? Date.parse(v) : v);
  const { finishedAt, ...rest } = a;
  return {
    ...rest,
    createdAt: Date.parse(a.createdAt),
    ...(finishedAt === undefined ? {} : { finishedAt: Date.parse(finishedAt) }),
    steps: a.steps.map((s) => ({
      name: s.name,
      status: s.status,
      ...(s.startedAt === undefined ? {} : { startedAt: ms(s.startedAt) }),
      ...(s.finishedAt === undefined ? {} : { finishedAt: ms(s.finishedAt) }),
      // The benchmarks read only the numbers of `detail` (times, `…Ms`).
      ...(s.detail ? { detail: Object.fromEntries(Object.entries(s.detail).map(([k, v]) => [k, num(k, v)])) as Record<string, number> } : {}),
    })),
  };
}

/** POSTs a deploy or rollback and returns the deployment with its times in ms. */
export async function deployCall(c: BenchCutover, path: string, body: unknown): Promise<Deployment> {
  return deploymentFromAnswer(await apiCall<DeploymentAnswer>(c, 'POST', path, body));
}

/** A step of a deployment by name, or a throw naming what is missing. */
export function step(d: Deployment, name: string): Deployment['steps'][number] {
  const s = d.steps.find((x) => x.name === name);
  if (!s)
    throw new Error(
      `deployment ${d.id} has no "${name}" step (steps: ${d.steps.map((x) => x.name).join(', ')})`,
    );
  return s;
}

/** Waits for a deployment to finish and insists that it succeeded. */
export async function settled(c: BenchCutover, id: string): Promise<Deployment> {
  const d = deploymentFromAnswer(await apiCall<DeploymentAnswer>(c, 'GET', `/api/deployments/${id}?wait=60000`));
  if (d.status !== 'succeeded')
    throw new Error(`deployment ${id} ended ${d.status}: ${JSON.stringify(d.error ?? d.steps)}`);
  return d;
}

/**
 * Runs `body` with a started Cutover and always stops it (on success, failure, deadline or
 * Ctrl-C), reporting any process that outlived the stop.
 */
export async function withCutover<T>(
  options: StartOptions & { deadlineMs: number; name: string },
  body: (c: BenchCutover) => Promise<T>,
): Promise<T> {
  const c = await startCutover(options);
  const onSignal = () => {
    void c.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await withDeadline(options.name, options.deadlineMs, () => body(c));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const { leaked } = await c.stop();
    if (leaked.length)
      console.error(`${options.name}: processes ${leaked.join(', ')} outlived the stop and were killed`);
  }
}

/** Reads `--name value` integer flags with a default. */
export function intFlag(name: string, fallback: number, argv = process.argv.slice(2)): number {
  const i = argv.indexOf(`--${name}`);
  const raw = i >= 0 ? argv[i + 1] : undefined;
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`--${name} must be a whole number, not "${raw}"`);
  return value;
}
