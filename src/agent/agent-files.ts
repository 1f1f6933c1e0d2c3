import { chmod, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { moveIntoPlace } from '../shared/index.ts';
import type { Logger } from '../shared/index.ts';
import { liveAgent } from './agent-pid-file.ts';
import type { AgentPidRecord } from './agent-pid-file.ts';

/**
 * The agent's own records under `<dataDir>/agent`: its state files (`state.a`, `state.b`, and
 * the `.corrupt-<time>` copies `--reset-state` leaves) and `agent.pid`, in `agent/private/`
 * (0700). `agent/` itself is 0711, for slot uids to pass through to their release and state
 * directories: a file there, 0600 or not, would be one chmod away from them.
 */
export const agentPrivateDir = (agentDir: string): string => join(agentDir, 'private');
export const agentPidFile = (agentDir: string): string => join(agentPrivateDir(agentDir), 'agent.pid');
/** The base of the two state files (`<base>.a`, `<base>.b`). */
export const agentStateBase = (agentDir: string): string => join(agentPrivateDir(agentDir), 'state');
/**
 * Where an agent before `agent/private/` kept its pid file. A predecessor of that version, still
 * running when a new agent takes over from it, is found there (if the move below has not been made).
 */
export const legacyAgentPidFile = (agentDir: string): string => join(agentDir, 'agent.pid');

/** The names an earlier version kept directly in `agent/`. */
const LEGACY_NAME = /^(agent\.pid|slot-env\.key|state\.[ab](\.corrupt-.+)?)$/;

/**
 * Creates `agent/private/` (0700, whatever it was) and moves an earlier version's state and pid
 * files into it, 0600 (each logged; a file whose new place is taken is left where it is, with a
 * warning). A running agent of that version keeps its open state files: a rename keeps the inode.
 * Run at every agent start, before anything reads these files.
 */
export async function migrateAgentFiles(agentDir: string, log: Logger): Promise<void> {
  const dir = agentPrivateDir(agentDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  for (const name of await readdir(agentDir)) {
    if (!LEGACY_NAME.test(name)) continue;
    const outcome = await moveIntoPlace(join(agentDir, name), join(dir, name), log);
    // Records, whatever mode the earlier version or an operator left (data-dir-modes.ts ran before).
    if (outcome === 'moved') await chmod(join(dir, name), 0o600);
    if (outcome === 'kept') {
      log.warn({ file: join(agentDir, name), kept: join(dir, name) }, 'an agent file of an earlier layout is left in place: its new place is taken; remove it');
    }
  }
}

/**
 * The live agent serving this data directory, named by `agent/private/agent.pid` or, for an agent
 * of an earlier version that still runs, by `agent/agent.pid`.
 */
export async function findLiveAgent(agentDir: string): Promise<AgentPidRecord | undefined> {
  return (await liveAgent(agentPidFile(agentDir))) ?? (await liveAgent(legacyAgentPidFile(agentDir)));
}
