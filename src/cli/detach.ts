// `cutover agent --detach [--pid-file F]`: the agent for a service manager (systemd Type=forking,
// ADR 0016). This process starts the real agent as a detached child (its own session), waits
// until it serves — or, with --takeover, until it has taken over from the previous agent — then
// writes the child's pid to F and exits 0. The agent lives on as the unit's main process; systemd
// reads F after ExecStart, and reads it again after a successful ExecReload (the takeover): that
// is how a *new* process becomes the unit's main process on `systemctl reload`.
import { spawn } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { CutoverError } from '../shared/index.ts';
import { AGENT_NODE_FLAGS } from '../shared/index.ts';
import { cliEntry } from './version.ts';

/** What the detached agent sends its parent once it serves (see {@link reportToParent}). */
export interface DetachedReady {
  pid: number;
  router: number;
  takeover?: unknown;
}

/** The agent's own argv without the detach-only flags (`--detach`, `--pid-file F`): what the child runs. */
export function childArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--detach') continue;
    if (a === '--pid-file') {
      i++;
      continue;
    }
    if (a.startsWith('--pid-file=')) continue;
    out.push(a);
  }
  return out;
}

/** In the detached agent: tells the waiting parent it serves, then lets go of the channel. No-op without one. */
export function reportToParent(ready: DetachedReady): void {
  if (!process.send || !process.connected) return;
  process.send(ready, () => process.disconnect());
}

/** Writes `pid\n` atomically: systemd (or anyone) reads the old file or the new one, never half of one. */
async function writePlainPid(file: string, pid: number): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${pid}\n`, { mode: 0o644 });
  await rename(temp, file);
}

/**
 * Runs the agent detached and waits for it to serve (or to take over, which waits for the previous
 * agent's handover). Its stderr (logs) stays this process's stderr — the journal under systemd —
 * and outlives this process; its stdout is not used: this process prints the result.
 */
export async function runDetached(
  argv: readonly string[],
  pidFile: string | undefined,
): Promise<DetachedReady> {
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, cliEntry(), ...childArgv(argv)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    detached: true,
  });
  const ready = await new Promise<DetachedReady>((resolve, reject) => {
    child.once('message', (message) => resolve(message as DetachedReady));
    child.once('error', (error) =>
      reject(
        new CutoverError('AGENT_UNREACHABLE', `cannot start the agent: ${error.message}`, { cause: error }),
      ),
    );
    child.once('exit', (code, signal) =>
      reject(
        new CutoverError(
          'AGENT_UNREACHABLE',
          `the agent exited before it served (${signal ?? `code ${code}`}); see its lines above`,
        ),
      ),
    );
  });
  child.removeAllListeners('exit');
  if (pidFile) await writePlainPid(pidFile, ready.pid);
  if (child.connected) child.disconnect();
  child.unref();
  return ready;
}
