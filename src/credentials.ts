import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from './shared/index.ts';
import { planContextsUpdate, readContexts, urlsToProbe, writeContexts } from './cli-contexts.ts';
import type { CliContexts } from './cli-contexts.ts';

/**
 * The data directory's private files that are not the database: `<dataDir>/private/` (0700; the
 * data directory itself is 0711 for slot uids to pass through). `local-join.json` (0600, set again
 * at every start by `data-dir-modes.ts`) is the single-use join token the server leaves for the
 * agent of its own data directory (ADR 0019).
 * An earlier version kept `agent-token` (the shared secret of the agent's control API) and
 * `agent.json` (where that API listened) here or directly in the data directory: agents dial the
 * server now, so both are removed at start ({@link migrateCredentials}), each logged.
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
/** The private files kept 0600 at every start. */
export const CREDENTIAL_FILES = ['local-join.json', 'servers.json'] as const;
/** An earlier version's files of the agent's control API, which agents no longer have. */
const RETIRED_FILES = ['agent-token', 'agent.json'] as const;

/**
 * Removes an earlier version's `agent-token` and `agent.json` (in `private/` or the data
 * directory), each logged: the agent has no control API any more; it dials the server. Both the
 * server and the agent run it at start (systemd starts both at boot).
 */
export async function migrateCredentials(dataDir: string, log: Logger): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  // Modes whatever they were are set by data-dir-modes.ts; here only: never created open.
  await mkdir(privateDir(dataDir), { recursive: true, mode: 0o700 });
  for (const name of RETIRED_FILES) {
    for (const file of [join(privateDir(dataDir), name), join(dataDir, name)]) {
      if (!(await exists(file))) continue;
      await rm(file, { force: true });
      log.info({ file }, 'removed a file of the agent control API of an earlier version: agents dial the server now (ADR 0019)');
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
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
