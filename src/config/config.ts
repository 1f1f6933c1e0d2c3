import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { bareDurationHint, invalidInput, isBareDuration, parseDurationWithUnit } from '../shared/index.ts';
import type { FieldIssue } from '../shared/index.ts';

const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((v, ctx) => {
      // A unit is required in settings: a bare 5 used to mean 5 ms (newcomer review §1.10.4).
      const ms = parseDurationWithUnit(v);
      if (ms === undefined) {
        const why = isBareDuration(v) ? bareDurationHint(v) : `"${v}" is not a duration; write e.g. 500ms, 30s, 5m, 2h`;
        ctx.addIssue({ code: 'custom', message: why });
        return z.NEVER;
      }
      return ms;
    });
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
// k, m and g are powers of 1024, as in nginx's client_max_body_size.
const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };
const bytes = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((v, ctx) => {
      const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(v));
      const unit = match ? BYTE_UNITS[(match[2] ?? '').toLowerCase()] : undefined;
      const n = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : Number.NaN;
      if (!Number.isSafeInteger(n)) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a size; write e.g. 1048576, 512k, 10MiB, 1g` });
        return z.NEVER;
      }
      return n;
    });

/** The system directories, after the agent's own Node: `node server.js` in a slot runs on it (Node 24). */
export function defaultSlotPath(execPath: string = process.execPath): string {
  return [dirname(execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
    .filter((d, i, all) => all.indexOf(d) === i)
    .join(':');
}

/**
 * Every setting of the server, agent and `up`, with its default and description. Layers, each
 * overriding the one before: defaults < config file (`--config`) < environment (`CUTOVER_*`) < flags.
 */
export const configSchema = z
  .object({
    dataDir: z.string().default('.cutover').describe('Directory for the database, artifacts, slot logs and credentials.'),
    apiHost: z.string().default('127.0.0.1').describe('Address the control-plane API listens on.'),
    apiPort: port(7070).describe('Port of the control-plane API (0 = any free port).'),
    httpHost: z.string().default('127.0.0.1').describe('Address the router (the public HTTP entry) listens on.'),
    httpPort: port(8080).describe('Port of the router: where users reach the instances (0 = any free port).'),
    agentHost: z.string().default('127.0.0.1').describe("Address of the agent's control API; keep it private."),
    agentPort: port(7071).describe("Port of the agent's control API (0 = any free port)."),
    agentUrl: z.string().url().optional().describe('How the server reaches the agent; default: from the data directory, else http://agentHost:agentPort.'),
    database: z.string().optional().describe('Database: a PostgreSQL URL (postgres://user:pass@host/db) or a SQLite file path; default <dataDir>/private/cutover.db (a 0700 directory).'),
    rollbackWindow: duration('30m').describe('How long the previous slot stays warm after a flip, for instant rollback.'),
    lockTtl: duration('10m').describe("Lease of an instance's deployment lock; renewed at every step and every third of it while a deployment runs; a dead server's deployment is settled once it expires."),
    warmCheckInterval: duration('5s').describe('How often the server stops warm slots whose rollback window ended.'),
    bakeWindow: duration('5m').describe('How long after a flip the new colour is watched (error rate, p95/p99 latency, against the old colour); a breach rolls back to the warm slot. 0 turns it off.'),
    bakeCheckInterval: duration('5s').describe('How often the bake reads the router counters.'),
    bakeMinRequests: z.coerce.number().int().min(1).default(100).describe('Requests the new colour must have served before the bake judges it (fewer: inconclusive, never a pass).'),
    bakeMaxErrorRate: z.coerce.number().min(0).max(1).default(0.05).describe('Highest share of 5xx (and router 502/504) answers the new colour may give during the bake.'),
    rollbackOnUnhealthy: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' })
      .default(true)
      .describe("Flip back to the warm slot when the supervisor reports the active slot unhealthy (two checks in a row) or gone (failed, exited) and the warm one healthy; false: only report it. Checked every bakeCheckInterval."),
    fleetInterval: duration('30s').describe('How often the fleet scheduler looks for instances to upgrade (only the replica holding the scheduler lease acts).'),
    drainTimeout: duration('30s').describe('How long in-flight requests on a slot being stopped may take to finish.'),
    pauseTimeout: duration('10s').describe('How long the router holds a request of an instance that no slot can serve yet (no active colour, e.g. while a restarted agent brings its slots up) before answering 503 with Retry-After. 0 answers 503 at once.'),
    wsDrainTimeout: duration('60s').describe('When a colour stops serving, its WebSockets are closed (1001 "going away") each at a random moment within this time, so clients reconnect gradually.'),
    takeoverStreamGrace: duration('5s').describe('When an agent hands over to a successor (or stops), responses still streaming this long after (SSE, long downloads) are ended cleanly, a chunked one with its terminator, so EventSource clients reconnect to the new agent.'),
    skewGrace: duration('5m').describe('Skew protection: for how long after a flip a client still running the previous version (it sends that deployment id) keeps being served by the previous colour, while that slot is warm. 0 turns it off.'),
    maxRequestBody: bytes('100MiB').describe('Largest request body the router accepts; larger ones get 413. Bytes, or with a unit: 512k, 10MiB, 1g (powers of 1024).'),
    maxApiBody: bytes('1MiB').describe('Largest JSON request body the API accepts; larger ones get 413 BODY_TOO_LARGE, counted while the body streams in (artifact uploads have their own limit, maxArtifactSize). Bytes, or with a unit: 512k, 1MiB.'),
    maxArtifactSize: bytes('1GiB').describe("Largest artifact upload (POST /api/artifacts) the server accepts; larger ones get 413 BODY_TOO_LARGE, counted while the upload streams, and nothing is kept. 1 GiB of .tgz already unpacks to about the agent's 4 GiB unpack budget."),
    unreferencedArtifactTtl: duration('1d').describe('How long an uploaded artifact that no release references is kept before the server deletes it (checked every hour, or every unreferencedArtifactTtl if shorter). The time CI may take between upload and publish.'),
    unpackMaxEntries: z.coerce.number().int().min(1).default(250_000).describe('Most entries (files, directories, links) an artifact may hold; the agent refuses to unpack a larger one (ARTIFACT_INVALID). Sized for a large node_modules tree: 200,000 files and their directories.'),
    unpackMaxSize: bytes('4GiB').describe('Most bytes an artifact may unpack to (the sum of its files); the agent refuses a larger one before writing anything.'),
    unpackMaxHeap: bytes('1536MiB').describe("Heap limit of the child process the agent unpacks an artifact in, so a hostile archive cannot grow the agent itself. node-tar needs about 4 KiB per entry: keep it near unpackMaxEntries × 4 KiB plus 256 MiB."),
    pruneKeepReleases: z.coerce
      .number()
      .int()
      .min(0)
      .default(3)
      .describe("`cutover prune` keeps each instance's last N releases' artifacts on the agent, besides its live and warm slots'; older ones go and are fetched again by digest when deployed."),
    pruneInterval: duration('1h').describe("How often the server prunes the agent's artifacts as `cutover prune` does (pruneKeepReleases). 0 turns it off; `cutover prune` still works."),
    slotLogMaxBytes: bytes('10MiB').describe("A slot's log file is rotated when it grows past this size (copy, then truncate: the app keeps its file descriptor)."),
    slotLogFiles: z.coerce.number().int().min(0).max(100).default(5).describe('Rotated slot log files kept beside the current one (`<file>.1` newest … `<file>.N`); 0 keeps none.'),
    slotPath: z
      .string()
      .min(1)
      .default(defaultSlotPath())
      .describe("PATH of every slot's process, so the runtime an app's start command finds does not depend on who started the agent. Default: the directory of the Node binary the agent runs with, then /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin."),
    resetState: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' })
      .default(false)
      .describe("Agent only (`cutover agent --reset-state`, also accepted by `up`): when the agent's state files exist and none is valid, move them aside (renamed `<file>.corrupt-<timestamp>`) and start empty instead of refusing to start. Does nothing while a state file is valid."),
    slotUidRange: z
      .string()
      .default('61000-61999')
      .transform((v, ctx) => {
        const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(v);
        const first = Number(m?.[1]);
        const last = Number(m?.[2]);
        if (!m || first < 1000 || last < first || last > 4_294_967_294) {
          ctx.addIssue({ code: 'custom', message: `"${v}" is not a uid range; write first-last, both at least 1000, e.g. 61000-61999` });
          return z.NEVER;
        }
        return { first, last };
      })
      .describe("When the agent runs as root: the uids (and same-numbered gids) handed out to instances, one each, recorded in the agent's state; no /etc/passwd entry is needed. Give each agent on a machine its own range."),
    slotUser: z
      .string()
      .min(1)
      .optional()
      .describe('When the agent runs as root: run every slot as this user (a name, a uid, or uid:gid) instead of one allocated uid per instance. Instances then share a uid and can reach each other.'),
    allowSharedUid: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' })
      .default(false)
      .describe("Let an agent that is not root (so its slots share its uid, and could read its credentials and join its ports) bind the router to a non-loopback address."),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info').describe('Log level of server and agent logs (stderr).'),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** Maps `CUTOVER_API_PORT` → `apiPort` for every key in the schema. */
export function configFromEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const name = `CUTOVER_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    const value = env[name];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

/**
 * Resolves the configuration from its layers, validates all of it, reports every error at once
 * (by key and by where it came from), and returns a frozen object with absolute paths.
 */
export async function loadConfig(layers: {
  /** Per-command defaults (e.g. quieter logs for `up`), below everything else. */
  defaults?: Record<string, unknown>;
  file?: string;
  env?: Record<string, string | undefined>;
  flags?: Record<string, unknown>;
}): Promise<Readonly<Config>> {
  let fromFile: Record<string, unknown> = {};
  const issues: FieldIssue[] = [];
  if (layers.file) {
    try {
      const parsed: unknown = parseYaml(await readFile(layers.file, 'utf8'));
      if (parsed && typeof parsed === 'object') fromFile = parsed as Record<string, unknown>;
      else if (parsed != null) issues.push({ path: layers.file, message: 'must be a YAML mapping of settings' });
    } catch (error) {
      issues.push({ path: layers.file, message: (error as Error).message });
    }
  }
  const fromEnv = configFromEnv(layers.env ?? {});
  const flags = Object.fromEntries(Object.entries(layers.flags ?? {}).filter(([, v]) => v !== undefined));
  const merged = { ...layers.defaults, ...fromFile, ...fromEnv, ...flags };
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.join('.');
      const source = key in flags ? 'flag' : key in fromEnv ? 'environment' : key in fromFile ? 'config file' : 'default';
      issues.push({ path: key, message: key === '' ? issue.message : `${issue.message} (from ${source})` });
    }
  }
  if (issues.length || !result.success) throw invalidInput('CONFIG_INVALID', 'The configuration', issues);
  const config = result.data;
  config.dataDir = resolve(config.dataDir);
  if (config.database && !isAbsolute(config.database) && !config.database.includes('://')) {
    config.database = resolve(config.database);
  }
  config.database ??= join(config.dataDir, 'private', 'cutover.db');
  return Object.freeze(config);
}
