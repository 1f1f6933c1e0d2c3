import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { allocateLoopbackPort } from '../src/supervisor/index.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = join(ROOT, 'src/cli/main.ts');
export const EXAMPLE = join(ROOT, 'examples/hello');

/**
 * The CLI's contexts file lives in `$XDG_CONFIG_HOME/cutover/`: each test file gets its own, so
 * tests never write the user's real one and never see another file's servers. Set on
 * `process.env`, so servers started in-process and every spawned CLI use it.
 */
export const CONFIG_HOME = mkdtempSync(join(tmpdir(), 'cutover-xdg-'));
process.env.XDG_CONFIG_HOME = CONFIG_HOME;
process.on('exit', () => rmSync(CONFIG_HOME, { recursive: true, force: true }));

/** The token a local server start recorded for the CLI at `url` (the admin token), from the contexts file. */
export async function localToken(url: string): Promise<string | undefined> {
  const file = join(CONFIG_HOME, 'cutover', 'contexts.json');
  const contexts = JSON.parse(await readFile(file, 'utf8')) as { contexts: Record<string, { token?: string }> };
  return contexts.contexts[url]?.token;
}

/**
 * Asserts that every directory above `file` lets other users through (a checkout under a 0700
 * /root does not), so a test that runs `file` as another uid fails naming the directory to fix
 * rather than with a puzzling start failure. `runs` says who runs it, for the message.
 */
export async function assertReachableByOthers(file: string, runs: string): Promise<void> {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const mode = (await stat(dir)).mode;
    assert.ok(
      (mode & 0o001) !== 0,
      `${dir} (mode ${(mode & 0o777).toString(8)}) must let other users through: ${runs} ${file}`,
    );
    if (dirname(dir) === dir) break;
  }
}

/** A free loopback port: the supervisor's own allocator. */
export const freePort = allocateLoopbackPort;

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `cutover-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Runs the CLI as a user would (a new process), with `--json`. */
export function cutover(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, '--data-dir', dataDir, '--json', ...args],
      { env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '', ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr, json });
      },
    );
  });
}

export interface Ports {
  http: number;
  api: number;
  agent: number;
}

export async function ports(): Promise<Ports> {
  return { http: await freePort(), api: await freePort(), agent: await freePort() };
}

/**
 * Starts a long-running CLI command (`up`, `server`, `agent`) and waits for its JSON line. `env`
 * is added to this process's environment.
 */
export async function startProcess(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; info: any; stop(): Promise<void> }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const child = spawn(process.execPath, [CLI, '--data-dir', dataDir, '--json', ...args, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '', ...env },
  });
  let buffer = '';
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not ready in time: stop it (SIGTERM lets `up` stop the agent it started) so nothing leaks.
      child.kill('SIGTERM');
      reject(new Error(`\`cutover ${args.join(' ')}\` did not start in 30 s`));
    }, 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      try {
        const parsed: unknown = JSON.parse(buffer);
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        // not complete yet
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`\`cutover ${args.join(' ')}\` exited with ${code} before it was ready`));
    });
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    child,
    info,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Writes a release manifest of the example app with overrides, in `dir`. */
export async function manifest(dir: string, version: string, extra = ''): Promise<string> {
  const file = join(dir, `${version}.yml`);
  await writeFile(
    file,
    `extends: ${join(EXAMPLE, 'cutover.yml')}\nversion: ${version}\nartifact: ${join(EXAMPLE, 'app')}\n${extra}`,
  );
  return file;
}

export interface LoadResult {
  ok: number;
  failed: { status?: number; error?: string; at: number }[];
  /** Per response: when its request was sent, when the answer arrived, and which version answered. */
  samples: { sentAt: number; receivedAt: number; version: string }[];
}

/**
 * Keeps `connections` keep-alive clients sending requests through the router until stopped.
 * Each client sends its next request as soon as the previous one completes.
 */
export function load(routerPort: number, host: string, connections = 16, path = '/api/version') {
  const pool = new Pool(`http://127.0.0.1:${routerPort}`, { connections, pipelining: 1 });
  const result: LoadResult = { ok: 0, failed: [], samples: [] };
  let running = true;
  const worker = async () => {
    while (running) {
      const sentAt = Date.now();
      try {
        const res = await pool.request({ method: 'GET', path, headers: { host } });
        const text = await res.body.text();
        if (res.statusCode !== 200) result.failed.push({ status: res.statusCode, error: text.slice(0, 200), at: sentAt });
        else {
          result.ok++;
          result.samples.push({ sentAt, receivedAt: Date.now(), version: String(res.headers['x-app-version']) });
        }
      } catch (error) {
        result.failed.push({ error: (error as Error).message, at: sentAt });
      }
    }
  };
  const workers = Array.from({ length: connections }, worker);
  return {
    result,
    async stop(): Promise<LoadResult> {
      running = false;
      await Promise.all(workers);
      await pool.close();
      return result;
    },
  };
}

/**
 * Whether a process is running: it exists and is not a zombie (a child that exited but was not
 * reaped yet, which PID 1 in a container may never do, still answers `kill(pid, 0)`).
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '');
}

/** Runs the CLI as a user at a terminal would read it: without `--json` (stdin is still not a TTY). */
export function cutoverText(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<Omit<CliResult, 'json'>> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, '--data-dir', dataDir, ...args],
      { env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '', ...env }, timeout: 120_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
