import { request } from 'node:http';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CutoverError } from '../../shared/index.ts';
import type { ErrorCode } from '../../shared/index.ts';
import { output } from '../output.ts';
import { globals } from './globals.ts';

/** A local rollback as the agent reports it (the protocol's `LocalRollback`). */
interface LocalRollbackAnswer {
  rollback: { id: string; instance: string; from: { color: string; version: string }; to: { color: string; version: string }; at: number };
  machine: string;
}

/**
 * The agent's local socket in a data directory: the agent's `localSocketPath` (agent/local-socket.ts),
 * written out here so the CLI loads none of the agent's code.
 */
const socketIn = (dataDir: string): string => join(dataDir, 'agent', 'private', 'local.sock');

/** The data directory, as the agent finds it: `--data-dir`, else the settings (`--config`, `CUTOVER_DATA_DIR`, the default). */
async function dataDirOf(cmd: Command, file: string | undefined): Promise<string> {
  const g = globals(cmd);
  if (g.dataDir) return resolve(g.dataDir);
  // Loaded only here: zod and yaml are not needed by everyday commands.
  const { loadConfig, readEnv } = await import('../../config/index.ts');
  return resolve((await loadConfig({ ...(file ? { file } : {}), env: readEnv(), flags: {} })).dataDir);
}

/** Why the socket could not be reached, as an error that names the fix. */
function unreachable(error: NodeJS.ErrnoException, path: string, dataDir: string): CutoverError {
  if (error.code === 'EACCES' || error.code === 'EPERM') {
    return new CutoverError(
      'FORBIDDEN',
      `permission denied on the agent's local socket ${path}: only root and the user the agent runs as may use it; run this command as that user (or with sudo)`,
      { details: { socket: path } },
    );
  }
  return new CutoverError(
    'AGENT_UNREACHABLE',
    `no agent answers on ${path} (${error.code ?? error.message}): is \`cutover agent\` (or \`cutover up\`) running with the data directory ${dataDir}? Name another one with --data-dir or CUTOVER_DATA_DIR`,
    { details: { socket: path, dataDir } },
  );
}

/** One JSON request to the agent's local socket; the agent's refusal is thrown as its own `CutoverError`. */
function ask<T>(dataDir: string, method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
  const socketPath = socketIn(dataDir);
  return new Promise((done, fail) => {
    const req = request({ socketPath, method, path, headers: { 'content-type': 'application/json' }, timeout: 60_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let answer: { code?: ErrorCode; message?: string; details?: Record<string, unknown> };
        try {
          answer = JSON.parse(text) as typeof answer;
        } catch {
          return fail(new CutoverError('INTERNAL', `the agent answered ${res.statusCode} with a body that is not JSON: ${JSON.stringify(text.slice(0, 200))}`));
        }
        if ((res.statusCode ?? 500) >= 400) return fail(new CutoverError(answer.code ?? 'INTERNAL', answer.message ?? `the agent answered ${res.statusCode}`, { details: answer.details ?? {} }));
        done(answer as T);
      });
    });
    req.on('timeout', () => req.destroy(new CutoverError('TIMEOUT', `the agent did not answer on ${socketPath} within 60 s`)));
    req.on('error', (error: NodeJS.ErrnoException) => fail(error instanceof CutoverError ? error : unreachable(error, socketPath, dataDir)));
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

/** `cutover local …`: what an operator on the machine can do through the agent's local socket while the server is away. */
export function registerLocalCommands(program: Command): void {
  const local = program
    .command('local')
    .description("act on this machine's agent directly, without the server, through its local socket (root or the agent's user)");
  local
    .command('rollback')
    .description('flip an instance to its warm slot on this machine without the server; the server records it as a rollback deployment (actor machine:<name>) when it is back')
    .argument('<instance>', 'the instance to roll back')
    .option('--config <file>', 'the settings file the agent was started with (where its data directory is set)')
    .action(async (instance: string, opts: { config?: string }, cmd: Command) => {
      const out = output(globals(cmd).format);
      const dataDir = await dataDirOf(cmd, opts.config);
      const { rollback: r, machine } = await ask<LocalRollbackAnswer>(dataDir, 'POST', '/v1/local/rollback', { instance });
      const at = new Date(r.at).toISOString();
      out.result({ ...r, at, machine, recorded: false }, () =>
        [
          `rolled back ${r.instance} on machine ${machine}: ${r.from.version} (${r.from.color}) → ${r.to.version} (${r.to.color}) at ${at}`,
          `the server records it as a rollback deployment by machine:${machine} when it is back (\`cutover history ${r.instance}\`)`,
        ].join('\n'),
      );
    });
}
