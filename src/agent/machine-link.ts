import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { CutoverError, isCutoverError, parseJoinToken } from '../shared/index.ts';
import type { ErrorCode, Logger, PinKind } from '../shared/index.ts';
import type { Config } from '../config/index.ts';
import { PROTOCOL_VERSION } from '../protocol/index.ts';
import { agentPrivateDir } from './agent-files.ts';
import { pinnedDispatcher } from './pinned-tls.ts';

/** What a joined agent keeps in `agent/private/machine.json` (0600): who it is, where the server is, the pin, its credential. */
export interface MachineLink {
  name: string;
  urls: string[];
  /** SHA-256 of what `pin` names, from the join token; null for a plain-HTTP loopback server. */
  fingerprint: string | null;
  /** What `fingerprint` pins: the server's certificate, or its CA (`tlsCa`). Absent in files written before CA pins: `cert`. */
  pin?: PinKind;
  credential: string;
}

export const machineLinkFile = (dataDir: string): string => join(agentPrivateDir(join(dataDir, 'agent')), 'machine.json');

/** The saved link, or undefined before the first join. */
export async function readMachineLink(dataDir: string): Promise<MachineLink | undefined> {
  let text: string;
  try {
    text = await readFile(machineLinkFile(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let link: Partial<MachineLink> | null = null;
  try {
    link = JSON.parse(text) as Partial<MachineLink>;
  } catch {
    // reported below
  }
  if (typeof link?.credential !== 'string' || typeof link.name !== 'string' || !Array.isArray(link.urls) || link.urls.length === 0) {
    throw new CutoverError('CONFIG_INVALID', `${machineLinkFile(dataDir)} is damaged; remove it, \`cutover machine remove <name>\` on the server, and join again with a new join token`);
  }
  return link as MachineLink;
}

/** Writes `value` as JSON, 0600, atomically (temp file + rename): a crash never leaves half a secret. */
async function writePrivateJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await rename(tmp, file);
}

/** Writes the link (the machine's credential). */
const writeMachineLink = (dataDir: string, link: MachineLink): Promise<void> => writePrivateJson(machineLinkFile(dataDir), link);

const LOOPBACK = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/;

/** What a link or a join token trusts in the server. */
type Trust = Pick<MachineLink, 'fingerprint' | 'pin'>;

/** The dispatcher for a link: pinned (to the certificate or its CA) for HTTPS; plain HTTP only to a loopback server. */
function dispatcherFor(url: string, trust: Trust): Dispatcher | undefined {
  if (url.startsWith('https://')) {
    if (!trust.fingerprint) throw new CutoverError('CONFIG_INVALID', `the join token pins no certificate (its server had no TLS), so the agent will not send it to ${url}; create the token on a server started with --tls-cert and --tls-key`);
    return pinnedDispatcher({ kind: trust.pin ?? 'cert', sha256: trust.fingerprint });
  }
  if (LOOPBACK.test(url)) return undefined;
  throw new CutoverError('CONFIG_INVALID', `${url} is plain HTTP on another machine: the join token and the credential would cross the network in clear; give the server --tls-cert and --tls-key and use its https:// URL`);
}

/** One JSON POST to the server; an error answer is thrown as the server's CutoverError, a network failure as SERVER_UNREACHABLE. */
async function post<T>(url: string, path: string, body: object, trust: Trust, credential?: string): Promise<T> {
  const dispatcher = dispatcherFor(url, trust);
  try {
    const res = await request(`${url.replace(/\/+$/, '')}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(credential ? { authorization: `Bearer ${credential}` } : {}) },
      body: JSON.stringify(body),
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
      ...(dispatcher ? { dispatcher } : {}),
    });
    const text = await res.body.text();
    const answer = (text ? JSON.parse(text) : {}) as { code?: ErrorCode; message?: string };
    if (res.statusCode >= 400) throw new CutoverError(answer.code ?? 'INTERNAL', `the server at ${url} refused: ${answer.message ?? `HTTP ${res.statusCode}`}`);
    return answer as T;
  } catch (error) {
    if (isCutoverError(error)) throw error;
    throw new CutoverError('SERVER_UNREACHABLE', `cannot reach the Cutover server at ${url} (${(error as Error).message}); check --server and that the server runs`, { cause: error });
  } finally {
    await dispatcher?.close();
  }
}

/**
 * Joins the server with a join token: tries the token's URLs (or `--server` first), pinning the
 * certificate hash the token carries, and saves the credential it gets. A refusal (wrong, expired,
 * used or revoked token; the name taken; a wrong certificate) ends the start with that error.
 */
async function joinServer(config: Readonly<Config>, token: string, agentVersion: string, log: Logger): Promise<MachineLink> {
  const content = parseJoinToken(token);
  const urls = [...new Set([...(config.server ? [config.server] : []), ...content.urls])];
  const name = config.machineName ?? hostMachineName();
  const body = { token: token.trim(), name, labels: config.machineLabels, agentVersion, protocolVersion: PROTOCOL_VERSION };
  let last: unknown;
  for (const url of urls) {
    try {
      const { credential } = await post<{ credential: string }>(url, '/v1/machines/join', body, content);
      const link: MachineLink = { name, urls: [url, ...urls.filter((u) => u !== url)], fingerprint: content.fingerprint, pin: content.pin, credential };
      await writeMachineLink(config.dataDir, link);
      log.info({ server: url, machine: name, fingerprint: content.fingerprint, pin: content.pin }, 'joined the server as a machine');
      return link;
    } catch (error) {
      // Only an unreachable server is worth trying the next URL for; a refusal is final.
      if (!isCutoverError(error) || error.code !== 'SERVER_UNREACHABLE') throw error;
      last = error;
    }
  }
  throw last;
}

/**
 * `cutover agent --repin`: takes the pin (and kind) of a new join token for a joined agent whose
 * server's certificate changed (renewed without `tlsCa`, or moved to a CA). The token only vouches
 * for the server (an admin made it); it is not used up. The new pin is kept only once the server
 * presenting it accepted this machine's credential (a heartbeat), so a wrong token changes nothing.
 */
async function repin(config: Readonly<Config>, link: MachineLink, token: string, agentVersion: string, log: Logger): Promise<MachineLink> {
  const content = parseJoinToken(token);
  const next: MachineLink = { ...link, fingerprint: content.fingerprint, pin: content.pin };
  await post(next.urls[0]!, '/v1/machines/heartbeat', { agentVersion, protocolVersion: PROTOCOL_VERSION }, next, next.credential);
  await writeMachineLink(config.dataDir, next);
  log.info({ server: next.urls[0], machine: link.name, was: link.fingerprint, fingerprint: next.fingerprint, pin: next.pin }, 're-pinned the server: its certificate (or CA) from the new join token answered with this machine\'s credential');
  return next;
}

/** A saved link, with the server URL given now first (`cutover up` on another API port; the others stay as fallbacks). */
async function withServerFirst(config: Readonly<Config>, link: MachineLink, log: Logger): Promise<MachineLink> {
  if (config.machineName !== undefined && config.machineName !== link.name) {
    throw new CutoverError('CONFIG_INVALID', `this agent joined as machine ${link.name}; it keeps that name (drop --name, or \`cutover machine remove ${link.name}\` and join again with a new join token)`);
  }
  if (!config.server || link.urls[0] === config.server) return link;
  const moved = { ...link, urls: [config.server, ...link.urls.filter((u) => u !== config.server)] };
  await writeMachineLink(config.dataDir, moved);
  log.info({ machine: link.name, server: config.server }, 'the server URL changed; dialling the new one first');
  return moved;
}

/**
 * The agent's side of the machine registry, at start: joins (first start: `token` from
 * `CUTOVER_JOIN_TOKEN` or `joinTokenFile`) or reads the saved link (later starts; with `repin`,
 * first takes the new join token's pin, see {@link repin}). The agent then opens its session with
 * the link (`session-client.ts`), which carries heartbeats, calls and counters.
 */
export async function linkMachine(
  config: Readonly<Config>,
  envToken: string | undefined,
  agentVersion: string,
  log: Logger,
  options: { repin?: boolean } = {},
): Promise<MachineLink> {
  const link = await readMachineLink(config.dataDir);
  // Read only when needed: the file may be gone once the agent has joined.
  const joinToken = async () => envToken ?? (config.joinTokenFile ? (await readFile(config.joinTokenFile, 'utf8')).trim() : undefined);
  if (options.repin) {
    const token = await joinToken();
    if (!link) throw new CutoverError('VALIDATION_FAILED', `--repin is for an agent that has joined, and ${machineLinkFile(config.dataDir)} does not exist: start it without --repin to join`);
    if (!token) throw new CutoverError('VALIDATION_FAILED', '--repin takes the pin of a new join token: give one in CUTOVER_JOIN_TOKEN or a file named by --join-token-file (an admin creates one with `cutover join-token create`)');
    return withServerFirst(config, await repin(config, link, token, agentVersion, log), log);
  }
  if (link) return withServerFirst(config, link, log);
  const token = await joinToken();
  if (!token) {
    throw new CutoverError('CONFIG_INVALID', `this agent has not joined ${config.server} yet: give it a join token in CUTOVER_JOIN_TOKEN or a file named by --join-token-file (an admin creates one with \`cutover join-token create\`)`);
  }
  return joinServer(config, token, agentVersion, log);
}

/** The API URLs of the server replicas running on this data directory, which its agent dials besides its first. */
export const serversFile = (dataDir: string): string => join(dataDir, 'private', 'servers.json');

export async function readServers(dataDir: string): Promise<string[]> {
  try {
    const parsed = JSON.parse(await readFile(serversFile(dataDir), 'utf8')) as unknown;
    return Array.isArray(parsed) ? parsed.filter((u): u is string => typeof u === 'string') : [];
  } catch {
    return [];
  }
}

/** Adds (or, with `present` false, removes) a server's URL in `servers.json` (0600, replaced atomically). */
export async function advertiseServer(dataDir: string, url: string, present = true): Promise<void> {
  const urls = (await readServers(dataDir)).filter((u) => u !== url);
  if (present) urls.push(url);
  await writePrivateJson(serversFile(dataDir), urls);
}

/** Where a server leaves the single-use join token for the agent of its own data directory. */
export const localJoinFile = (dataDir: string): string => join(dataDir, 'private', 'local-join.json');

/** What the server of this data directory leaves for its agent: its loopback URL and a single-use join token. */
export interface LocalJoin {
  url: string;
  token: string;
}

/** Writes the local join file 0600 in the private directory (replacing an earlier one atomically). */
export const writeLocalJoin = (dataDir: string, join: LocalJoin): Promise<void> => writePrivateJson(localJoinFile(dataDir), join);

async function readLocalJoin(dataDir: string): Promise<LocalJoin | undefined> {
  try {
    const parsed = JSON.parse(await readFile(localJoinFile(dataDir), 'utf8')) as Partial<LocalJoin>;
    return typeof parsed.url === 'string' && typeof parsed.token === 'string' ? (parsed as LocalJoin) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Joins the server of this data directory with the token it left (`cutover up`, or a server and an
 * agent sharing a data directory): undefined while there is none. The file goes once used.
 */
export async function joinLocalServer(config: Readonly<Config>, agentVersion: string, log: Logger): Promise<MachineLink | undefined> {
  const local = await readLocalJoin(config.dataDir);
  if (!local) return undefined;
  const link = await joinServer({ ...config, server: local.url }, local.token, agentVersion, log);
  await rm(localJoinFile(config.dataDir), { force: true });
  return link;
}

/**
 * The name this machine goes by: its machine link's (`agent/private/machine.json`) once it has
 * joined, else the host name made a machine name (the name `cutover up` joins it as).
 * A link file that cannot be read gives the host name too: the name labels reports, it grants nothing.
 */
export async function localMachineName(dataDir: string): Promise<string> {
  const link = await readMachineLink(dataDir).catch(() => undefined);
  return link?.name ?? hostMachineName();
}

/** The host name made a valid machine name (lowercase letters, digits and dashes, starting with a letter). */
export function hostMachineName(host = hostname()): string {
  const name = host.toLowerCase().split('.')[0]!.replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return /^[a-z]/.test(name) ? name : `m-${name}`.slice(0, 63);
}
