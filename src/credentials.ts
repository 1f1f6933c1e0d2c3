import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { moveIntoPlace } from './shared/index.ts';
import type { Logger } from './shared/index.ts';
import { planContextsUpdate, readContexts, urlsToProbe, writeContexts } from './cli-contexts.ts';
import type { CliContexts } from './cli-contexts.ts';

/**
 * Files in the data directory that let the agent and the server find each other, in
 * `<dataDir>/private/` (0700; the data directory itself is 0711 for slot uids to pass through).
 * Both are 0600 (set again at every start by `data-dir-modes.ts`):
 * - `agent-token`: the shared secret of the agent's control API;
 * - `agent.json`: where the agent's control API listens (written by the agent).
 * An earlier version kept them directly in the data directory: the server's and the agent's start
 * move them ({@link migrateCredentials}); until then the readers here fall back to them, so a
 * process that reads them first (`up` looking for a surviving agent) finds them.
 * The CLI's credentials (the admin token) live outside the data directory, in the contexts file
 * (`cli-contexts.ts`); an earlier version kept them in `<dataDir>/cli.json`, which the server's
 * start moves there ({@link recordServerForCli}).
 */
async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** `<dataDir>/private/`: credentials and the default SQLite database (0700). */
export const privateDir = (dataDir: string): string => join(dataDir, 'private');
export const agentTokenFile = (dataDir: string): string => join(privateDir(dataDir), 'agent-token');
export const agentEndpointFile = (dataDir: string): string => join(privateDir(dataDir), 'agent.json');
/** The credentials in `private/`; an earlier version kept them, by the same names, directly in the data directory. */
export const CREDENTIAL_FILES = ['agent-token', 'agent.json'] as const;

/**
 * Moves an earlier version's `agent-token` and `agent.json` into `private/` (logged). Both the
 * server and the agent run it at start: either may start first (systemd starts both at boot),
 * and both read the token. A leftover whose new place is taken is removed (the one in
 * `private/` is in use), logged.
 */
export async function migrateCredentials(dataDir: string, log: Logger): Promise<void> {
  await ensurePrivateDir(dataDir);
  for (const name of CREDENTIAL_FILES) {
    const from = join(dataDir, name);
    if ((await moveIntoPlace(from, join(privateDir(dataDir), name), log)) === 'kept') {
      await rm(from, { force: true });
      log.warn({ file: from }, 'removed a credentials file of an earlier layout: private/ holds the one in use');
    }
  }
}

async function ensurePrivateDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  // Modes whatever they were are set by data-dir-modes.ts; here only: never created open.
  await mkdir(privateDir(dataDir), { recursive: true, mode: 0o700 });
}

async function readToken(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return undefined;
  }
}

export async function ensureAgentToken(dataDir: string): Promise<string> {
  await ensurePrivateDir(dataDir);
  const file = agentTokenFile(dataDir);
  // An earlier version's token, not moved yet (see migrateCredentials), is still the token: a
  // new one here would lock the server out of a running agent that holds the old one.
  const found = (await readToken(file)) ?? (await readToken(join(dataDir, 'agent-token')));
  if (found !== undefined) return found;
  const token = randomBytes(24).toString('base64url');
  try {
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
    return token;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim();
    throw error;
  }
}

export async function writeAgentEndpoint(dataDir: string, url: string): Promise<void> {
  // Temp file + rename: `up` polls for this file and must never read half of it.
  await ensurePrivateDir(dataDir);
  const file = agentEndpointFile(dataDir);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify({ url }) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

export async function readAgentEndpoint(dataDir: string): Promise<string | undefined> {
  // An earlier version's agent, still running, wrote it in the data directory itself.
  const found = (await readJson<{ url?: string }>(agentEndpointFile(dataDir))) ?? (await readJson<{ url?: string }>(join(dataDir, 'agent.json')));
  return found?.url;
}

/** The `<dataDir>/cli.json` an earlier version wrote: the API URL and the admin token. */
export const LEGACY_CLI_FILE = 'cli.json';

export async function readLegacyCliFile(
  dataDir: string,
): Promise<{ url?: string; token?: string } | undefined> {
  const found = await readJson<{ url?: unknown; token?: unknown }>(join(dataDir, LEGACY_CLI_FILE)).catch(
    () => undefined,
  );
  if (!found) return undefined;
  return {
    ...(typeof found.url === 'string' ? { url: found.url } : {}),
    ...(typeof found.token === 'string' ? { token: found.token } : {}),
  };
}

/** Whether a Cutover server answers at `url` (its public `/api/health`), within a second. */
export async function serverAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Records this server for the local CLI in the contexts file (see `cli-contexts.ts` for what
 * moves and what stays), and migrates an earlier version's `<dataDir>/cli.json` there: its admin
 * token moves to the contexts file and the file is removed once that is written. A failure is
 * logged, not fatal: the server serves without it; only the local CLI needs it.
 */
export async function recordServerForCli(options: {
  contextsFile: string;
  dataDir: string;
  url: string;
  adminToken?: string;
  /** The CA of the server's certificate (`tlsCa`, absolute), recorded so the local CLI trusts it. */
  caFile?: string;
  log: Logger;
  probe?: (url: string) => Promise<boolean>;
}): Promise<void> {
  const { contextsFile, dataDir, url, log } = options;
  const probe = options.probe ?? serverAnswers;
  try {
    const legacy = await readLegacyCliFile(dataDir);
    let contexts: CliContexts;
    try {
      contexts = await readContexts(contextsFile);
    } catch (error) {
      const aside = `${contextsFile}.bad-${Date.now()}`;
      await rename(contextsFile, aside);
      log.warn(
        { err: (error as Error).message, movedTo: aside },
        'the CLI contexts file was unreadable; moved it aside and started a new one',
      );
      contexts = await readContexts(contextsFile);
    }
    const probed = urlsToProbe(contexts, { dataDir, url });
    const answers = await Promise.all(probed.map(probe));
    const live = new Set(probed.filter((_, i) => answers[i]));
    const update = planContextsUpdate(
      contexts,
      {
        dataDir,
        url,
        ...(options.adminToken ? { adminToken: options.adminToken } : {}),
        ...(options.caFile ? { caFile: options.caFile } : {}),
        ...(legacy ? { legacy } : {}),
      },
      live,
    );
    await writeContexts(contextsFile, update.next);
    if (update.keptLive) {
      log.warn(
        { dataDir, live: update.keptLive, url },
        'the local CLI keeps talking to the live server recorded for this data directory',
      );
    }
    if (legacy) {
      await rm(join(dataDir, LEGACY_CLI_FILE), { force: true });
      log.warn(
        {
          from: join(dataDir, LEGACY_CLI_FILE),
          to: contextsFile,
          adminTokenMoved: legacy.token !== undefined,
        },
        "migrated the CLI's credentials out of the data directory and removed cli.json",
      );
    }
  } catch (error) {
    log.warn(
      { err: (error as Error).message, file: contextsFile },
      'could not record this server for the local CLI; set CUTOVER_URL and CUTOVER_TOKEN to use it',
    );
  }
}
