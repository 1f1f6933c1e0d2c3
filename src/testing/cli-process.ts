// Running Cutover as a user would, for the end-to-end tests in test/ and the benchmarks in bench/:
// the CLI as a new process, a long-running `up`/`server`/`agent`, temp dirs, free ports, the
// example app's manifest. Kept here so bench/ needs nothing from test/.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocateLoopbackPort } from '../supervisor/index.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'src/cli/main.ts');
export const EXAMPLE = join(ROOT, 'examples/hello');

let configHome: string | undefined;

/**
 * The CLI's contexts file lives in `$XDG_CONFIG_HOME/cutover/`: this gives the calling process its
 * own (made once, removed at exit), so a test file or a benchmark never writes the user's real one
 * and never sees another's servers. Set on `process.env`, so servers started in-process and every
 * spawned CLI use it. Returns the directory.
 */
export function isolateCliConfig(): string {
  if (configHome === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-xdg-'));
    configHome = dir;
    process.env.XDG_CONFIG_HOME = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return configHome;
}

/** The token a local server start recorded for the CLI at `url` (the admin token), from the contexts file. */
export async function localToken(url: string): Promise<string | undefined> {
  const file = join(isolateCliConfig(), 'cutover', 'contexts.json');
  const contexts = JSON.parse(await readFile(file, 'utf8')) as {
    contexts: Record<string, { token?: string }>;
  };
  return contexts.contexts[url]?.token;
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

/** The environment of a CLI process: this one's, without a server named by variables, plus `env`. */
const cliEnv = (env: Record<string, string>) => ({
  ...process.env,
  CUTOVER_URL: '',
  CUTOVER_TOKEN: '',
  ...env,
});

/** Runs the CLI as a user would (a new process), with `--json`. */
export function cutover(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
  options: { netns?: string } = {},
): Promise<CliResult> {
  const [file, argv] = inNetns(options.netns, [CLI, '--data-dir', dataDir, '--json', ...args]);
  return new Promise((resolve) => {
    execFile(
      file,
      argv,
      { env: cliEnv(env), timeout: 120_000 },
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

/** Runs the CLI as a user at a terminal would read it: without `--json` (stdin is still not a TTY). */
export function cutoverText(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Omit<CliResult, 'json'>> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, '--data-dir', dataDir, ...args],
      { env: cliEnv(env), timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * Node with `argv`, inside the network namespace `netns` when given: `ip netns exec` enters it and
 * then execs Node, so the pid is Node's own (a signal reaches the CLI, not a wrapper).
 */
function inNetns(netns: string | undefined, argv: string[]): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, process.execPath, ...argv]] : [process.execPath, argv];
}

export interface Ports {
  http: number;
  api: number;
  agent: number;
}

/** The port flags of `cutover up` for `p`. */
export function portFlags(p: Ports): string[] {
  return ['--http-port', String(p.http), '--api-port', String(p.api)];
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
  /** `logs`: keep the process's log lines (stderr) at `debug` instead of passing `warn` and above through; read them with `logs()`. */
  options: { netns?: string; logs?: boolean } = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read the JSON line freely
): Promise<{ child: ChildProcess; info: any; stop(): Promise<void>; logs?(): string }> {
  const [file, argv] = inNetns(options.netns, [CLI, '--data-dir', dataDir, '--json', ...args, '--log-level', options.logs ? 'debug' : 'warn']);
  const child = spawn(
    file,
    argv,
    {
      stdio: ['ignore', 'pipe', options.logs ? 'pipe' : 'inherit'],
      env: cliEnv(env),
    },
  );
  let logs = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    logs += chunk.toString();
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
    logs: () => logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Writes a release manifest of the example app (or of `artifact`, a directory) with overrides, in `dir`. */
export async function manifest(dir: string, version: string, extra = '', artifact = join(EXAMPLE, 'app')): Promise<string> {
  const file = join(dir, `${version}.yml`);
  await writeFile(file, `extends: ${join(EXAMPLE, 'cutover.yml')}\nversion: ${version}\nartifact: ${artifact}\n${extra}`);
  return file;
}

/** Manifest lines: the example app answers its health check 503 while `file` exists. */
export const unhealthyWhile = (file: string): string => `env:\n  UNHEALTHY_FILE: ${file}\n`;

/** Manifest lines: a release test (`smoke` or `verify`) that passes once `file` exists. */
export const testWaitingFor = (kind: 'smoke' | 'verify', file: string): string =>
  `tests:\n  ${kind}:\n    command: "while [ ! -e ${file} ]; do sleep 0.05; done"\n    timeout: 1m\n`;

/**
 * A copy of the example app in `dir/bulky-app` with `files` more small files: a start step long
 * enough to be seen running (each machine unpacks its own copy).
 */
export async function bulkyExampleApp(dir: string, files = 400): Promise<string> {
  const bulky = join(dir, 'bulky-app');
  await cp(join(EXAMPLE, 'app'), bulky, { recursive: true });
  await mkdir(join(bulky, 'pad'));
  await Promise.all(Array.from({ length: files }, (_, i) => writeFile(join(bulky, 'pad', `f${i}`), `${i}\n`)));
  return bulky;
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
