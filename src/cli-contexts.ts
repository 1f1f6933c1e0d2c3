import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * The local CLI's credentials, kept in the user's config directory (`$XDG_CONFIG_HOME/cutover/`,
 * default `~/.config/cutover/`, 0700) in `contexts.json` (0600), never in a data directory: slots
 * run with their working directory under the agent's data directory, so nothing there may let a
 * deployer's code become admin (security review H1).
 *
 * ```json
 * { "version": 1,
 *   "current": "http://127.0.0.1:7070",
 *   "contexts": { "http://127.0.0.1:7070": { "token": "cut_…", "dataDir": "/srv/app/.cutover" } },
 *   "dataDirs": { "/srv/app/.cutover": "http://127.0.0.1:7070" } }
 * ```
 * - `contexts`: one per server URL, with the token to use there, for a server this machine
 *   started the data directory it runs on, and for an HTTPS server the CA file (`caFile`) its
 *   certificate chains to: the server's `tlsCa`, or what `--ca-file` named when it first worked there;
 * - `dataDirs`: the server URL of each local data directory, so `cutover --data-dir X …` talks to X's
 *   server (its token is not stored in X);
 * - `current`: the server the CLI talks to when no data directory says otherwise.
 */
export interface CliContexts {
  version: 1;
  current?: string;
  contexts: Record<string, CliContext>;
  dataDirs: Record<string, string>;
}

/** What the CLI keeps for one server URL. */
export interface CliContext {
  token?: string;
  dataDir?: string;
  /** Absolute path of the PEM CA (or self-signed certificate) to trust there: `--ca-file` need not be repeated. */
  caFile?: string;
}

export const CONTEXTS_FILE_NAME = 'contexts.json';

export function emptyContexts(): CliContexts {
  return { version: 1, contexts: {}, dataDirs: {} };
}

/** The contexts file's path in a config directory (`<configHome>/cutover`). */
export function contextsFileIn(cutoverConfigDir: string): string {
  return join(cutoverConfigDir, CONTEXTS_FILE_NAME);
}

/** Reads the contexts file; a missing one is empty. One that is not JSON is an error naming it. */
export async function readContexts(file: string): Promise<CliContexts> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyContexts();
    throw error;
  }
  let parsed: Partial<CliContexts>;
  try {
    parsed = JSON.parse(text) as Partial<CliContexts>;
  } catch {
    throw new Error(`${file} is not valid JSON; fix or remove it (the next server start writes it again)`);
  }
  return {
    version: 1,
    ...(typeof parsed.current === 'string' ? { current: parsed.current } : {}),
    contexts: isRecord(parsed.contexts) ? (parsed.contexts as CliContexts['contexts']) : {},
    dataDirs: isRecord(parsed.dataDirs) ? (parsed.dataDirs as CliContexts['dataDirs']) : {},
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Writes the contexts file atomically (a 0600 temp file renamed over it), in a 0700 directory:
 * a reader never sees half a file, and the token is never readable by others, even for a moment.
 */
export async function writeContexts(file: string, contexts: CliContexts): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, JSON.stringify(contexts, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** What a server start knows when it records itself for the local CLI. */
export interface ServerStart {
  /** Absolute path of the server's data directory. */
  dataDir: string;
  /** The URL it listens on. */
  url: string;
  /** The admin token, on the very first start of a database only. */
  adminToken?: string;
  /** The token and URL of a `cli.json` left in the data directory by an earlier version. */
  legacy?: { url?: string; token?: string };
  /** The CA that signed its TLS certificate (`tlsCa`), absolute. */
  caFile?: string;
}

export interface ContextsUpdate {
  next: CliContexts;
  /** The data directory's recorded URL was left alone because another live server answers there. */
  keptLive?: string;
  /** `current` was left alone because another live server answers there. */
  keptCurrent?: string;
}

/**
 * Decides how a server start updates the contexts (pure; `live` says which other URLs answered
 * `/api/health`). The server's URL gets a context with the admin token of its database: the one
 * just created, else the one an earlier version left in `cli.json`, else the one recorded for this
 * data directory's previous URL (only if that context still belongs to this data directory). The
 * data directory's entry and `current` move to this server unless they name another live server of
 * the same data directory: a second replica does not redirect the CLI (review M1). A live server
 * there that belongs to another data directory (it took the port since) does not hold them.
 */
export function planContextsUpdate(
  contexts: CliContexts,
  start: ServerStart,
  live: ReadonlySet<string>,
): ContextsUpdate {
  const { dataDir, url } = start;
  const recorded = contexts.dataDirs[dataDir];
  const previous = recorded ? contexts.contexts[recorded] : undefined;
  const ownPrevious = previous?.dataDir === dataDir ? previous.token : undefined;
  const existing = contexts.contexts[url];
  const ownExisting = existing?.dataDir === dataDir ? existing.token : undefined;
  const token = start.adminToken ?? start.legacy?.token ?? ownPrevious ?? ownExisting;
  const next: CliContexts = {
    version: 1,
    ...(contexts.current ? { current: contexts.current } : {}),
    contexts: { ...contexts.contexts },
    dataDirs: { ...contexts.dataDirs },
  };
  // A token the old cli.json held for another URL stays usable there too.
  const legacyUrl = start.legacy?.url;
  if (legacyUrl && start.legacy?.token && legacyUrl !== url && !next.contexts[legacyUrl]) {
    next.contexts[legacyUrl] = { token: start.legacy.token, dataDir };
  }
  // A CA recorded earlier for this URL (by --ca-file) stays unless the server names its own.
  const caFile = start.caFile ?? existing?.caFile;
  next.contexts[url] = { ...(token ? { token } : {}), dataDir, ...(caFile ? { caFile } : {}) };
  const otherLive = (u: string | undefined): u is string =>
    u !== undefined && u !== url && live.has(u) && contexts.contexts[u]?.dataDir === dataDir;
  const update: ContextsUpdate = { next };
  if (otherLive(recorded)) update.keptLive = recorded;
  else next.dataDirs[dataDir] = url;
  if (otherLive(contexts.current)) update.keptCurrent = contexts.current;
  else next.current = url;
  return update;
}

/** The URLs a server start must probe before {@link planContextsUpdate}: the recorded ones that are not its own. */
export function urlsToProbe(contexts: CliContexts, start: Pick<ServerStart, 'dataDir' | 'url'>): string[] {
  const urls = new Set<string>();
  const recorded = contexts.dataDirs[start.dataDir];
  if (recorded && recorded !== start.url) urls.add(recorded);
  if (contexts.current && contexts.current !== start.url) urls.add(contexts.current);
  return [...urls];
}

/**
 * The contexts with `caFile` (absolute) recorded for `url` (pure), when `--ca-file` named a CA that
 * worked there and the context has another or none; undefined when nothing changes (no context for
 * that URL: only servers the CLI already knows get one).
 */
export function withCaFile(contexts: CliContexts, url: string, caFile: string): CliContexts | undefined {
  const key = url.replace(/\/+$/, '');
  const context = contexts.contexts[key];
  if (!context || context.caFile === caFile) return undefined;
  return { ...contexts, contexts: { ...contexts.contexts, [key]: { ...context, caFile } } };
}

/** Where the CLI finds its server (pure): `CUTOVER_URL`/`CUTOVER_TOKEN` win, then the contexts. */
export function findServer(
  contexts: CliContexts,
  query: { dataDir: string; explicitDataDir: boolean; envUrl?: string; envToken?: string },
): { url?: string; token?: string; caFile?: string } {
  // A data directory named on purpose never falls back to another server: that would send the
  // command to the wrong Cutover. The default one (./.cutover) falls back to the current server.
  const url =
    query.envUrl ??
    contexts.dataDirs[query.dataDir] ??
    (query.explicitDataDir ? undefined : contexts.current);
  // `http://h:7070/` and `http://h:7070` are the same server.
  const context = url ? contexts.contexts[url.replace(/\/+$/, '')] : undefined;
  const token = query.envToken ?? context?.token;
  return { ...(url ? { url } : {}), ...(token ? { token } : {}), ...(context?.caFile ? { caFile: context.caFile } : {}) };
}
