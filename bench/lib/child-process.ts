/**
 * Child processes for the router benchmarks: each one prints a JSON line on stdout when it is
 * ready, may answer later stdin lines with stdout lines, and is stopped by its own id (SIGTERM,
 * then SIGKILL after a bound) — never by name.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** A started child: its pid, its ready line (parsed), a line request channel and a stop. */
export interface BenchChild<Ready = Record<string, unknown>> {
  what: string;
  pid: number;
  proc: ChildProcess;
  ready: Ready;
  /** Writes `line` to the child's stdin and resolves with its next stdout line. */
  ask(line: string, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (null: killed by a signal). */
  exited: Promise<number | null>;
  /** The last few KB the child wrote on stderr (for error messages). */
  stderr(): string;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<void>;
}

/** How to start one child. */
export interface ChildSpec {
  what: string;
  command: string;
  args: string[];
  readyTimeoutMs?: number;
  /** Raise the soft open-files limit to the hard one first (a shell `exec`s the command, same pid). */
  raiseFileLimit?: boolean;
  env?: NodeJS.ProcessEnv;
}

const STDERR_KEEP = 4096;

/** Starts a child and waits for its first stdout line (JSON). Kills it if it is not ready in time. */
export async function startChild<Ready = Record<string, unknown>>(
  spec: ChildSpec,
): Promise<BenchChild<Ready>> {
  const [command, args] = spec.raiseFileLimit
    ? ['bash', ['-c', 'ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', spec.command, ...spec.args]]
    : [spec.command, spec.args];
  const proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: spec.env ?? process.env });
  let errText = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    errText = (errText + d).slice(-STDERR_KEEP);
  });
  proc.stdin!.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const waiting: ((line: string) => void)[] = [];
  const buffered: string[] = [];
  let partial = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      const w = waiting.shift();
      if (w) w(line);
      else buffered.push(line);
    }
  });
  const nextLine = (timeoutMs: number, what: string) =>
    new Promise<string>((resolve, reject) => {
      const early = buffered.shift();
      if (early !== undefined) return resolve(early);
      const timer = setTimeout(() => {
        const i = waiting.indexOf(take);
        if (i >= 0) waiting.splice(i, 1);
        reject(
          new Error(`${spec.what}: no answer to ${what} within ${timeoutMs} ms. stderr: ${errText.trim()}`),
        );
      }, timeoutMs);
      timer.unref();
      const take = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      waiting.push(take);
      void exited.then((code) => {
        const i = waiting.indexOf(take);
        if (i < 0) return;
        waiting.splice(i, 1);
        clearTimeout(timer);
        reject(
          new Error(`${spec.what} exited (${code}) before answering ${what}. stderr: ${errText.trim()}`),
        );
      });
    });

  let stopping: Promise<void> | null = null;
  const child: BenchChild<Ready> = {
    what: spec.what,
    pid: proc.pid ?? -1,
    proc,
    ready: undefined as Ready,
    exited,
    stderr: () => errText,
    ask(line, timeoutMs = 10_000) {
      const answer = nextLine(timeoutMs, JSON.stringify(line));
      proc.stdin!.write(line + '\n');
      return answer;
    },
    stop(graceMs = 5_000, signal: NodeJS.Signals = 'SIGTERM') {
      stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill(signal);
        let timer: NodeJS.Timeout | undefined;
        const killed = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), graceMs);
            timer.unref();
          }),
        ]);
        clearTimeout(timer);
        if (killed) {
          proc.kill('SIGKILL');
          await exited;
        }
      })();
      return stopping;
    },
  };
  if (child.pid < 0) throw new Error(`${spec.what}: could not start ${command}`);
  try {
    const line = await nextLine(spec.readyTimeoutMs ?? 15_000, 'start-up');
    child.ready = JSON.parse(line) as Ready;
  } catch (error) {
    await child.stop(1_000);
    throw error;
  }
  return child;
}

/** Anything the benchmark started and must stop: a child, nginx, a wrk run. */
export interface Stoppable {
  stop(): Promise<unknown>;
}

/** Stops everything in reverse start order; never throws. */
export async function stopAll(items: Stoppable[]): Promise<void> {
  for (const c of [...items].reverse()) await c.stop().catch(() => undefined);
}

/**
 * What a benchmark has running, so a signal or a deadline can stop all of it. Once closed, anything
 * added is stopped at once and `add` throws: the benchmark cannot start new processes while it is
 * being stopped.
 */
export class Tracker {
  readonly #items: Stoppable[] = [];
  #closed: Promise<void> | null = null;

  /** Tracks `item` and returns it. */
  add<T extends Stoppable>(item: T): T {
    if (this.#closed !== null) {
      void item.stop().catch(() => undefined);
      throw new Error('the benchmark is stopping');
    }
    this.#items.push(item);
    return item;
  }

  /** Stops `item` (if tracked or not) and forgets it. */
  async stop(item: Stoppable): Promise<void> {
    const i = this.#items.indexOf(item);
    if (i >= 0) this.#items.splice(i, 1);
    await item.stop().catch(() => undefined);
  }

  /** Stops everything tracked, newest first. */
  async stopAll(): Promise<void> {
    await stopAll(this.#items.splice(0));
  }

  /** Stops everything and refuses anything new; every call resolves once all of it stopped. */
  close(): Promise<void> {
    this.#closed ??= this.stopAll();
    return this.#closed;
  }
}

/** Milliseconds since the epoch with sub-millisecond resolution, comparable across processes of one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
