import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
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
const onOff = (fallback: boolean) => z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' }).default(fallback);

/** Why a CIDR (`10.0.0.0/8`, `::1/128`, or a bare address) is not one, or undefined. */
export function cidrProblem(text: string): string | undefined {
  const [address = '', prefix, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return `"${text}" is not a CIDR; write e.g. 10.0.0.0/8, 192.168.1.10 or ::1/128`;
  if (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))) return `"${text}": the prefix length must be 0 to ${family === 4 ? 32 : 128}`;
  return undefined;
}
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

/** `host:port` or `[v6]:port` → its parts; undefined when it is neither (the port 0–65535). */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const m = /^\s*(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})\s*$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

/** The system directories, after the agent's own Node: `node server.js` in a slot runs on it (Node 24). */
export function defaultSlotPath(execPath: string = process.execPath): string {
  return [dirname(execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
    .filter((d, i, all) => all.indexOf(d) === i)
    .join(':');
}

/**
 * Every setting of the server, agent and `up`, with its default and description. Layers, each
 * overriding the one before: defaults < config file (`--config`) < environment (`CUTOVER_*`) < flags.
 * Each key's default and `.describe()` text (Markdown, links relative to docs/) are its row in
 * docs/configuration.md, written by `npm run docs`; a new key also needs an entry in `settingDocs`.
 */
export const configSchema = z
  .object({
    dataDir: z.string().default('.cutover').describe("Directory for the database, artifacts, slot logs and the agent's credentials. Made 0711 at every start; its files' modes too ([operations](operations.md#data-directory))."),
    apiHost: z.string().default('127.0.0.1').describe('Address the control-plane API listens on.'),
    apiPort: port(7070).describe('Port of the control-plane API (0 = any free port).'),
    tlsCert: z.string().min(1).optional().describe('PEM certificate (chain) the API serves HTTPS with; needs `tlsKey`. Its SHA-256 fingerprint is logged at start, shown by `cutover server --print-fingerprint`, and embedded in join tokens so agents pin it ([machines](machines.md#tls)). Unset: plain HTTP.'),
    tlsCa: z
      .string()
      .min(1)
      .optional()
      .describe("PEM certificate of the CA that signed `tlsCert` (needs it). Join tokens then pin this CA's SHA-256 instead of the certificate's, so a certificate renewed by the same CA keeps every joined agent working; the server checks at start that the CA signed `tlsCert`, presents the CA with its chain, and records the file for the local CLI (no `--ca-file` needed) ([machines](machines.md#tls))."),
    tlsKey: z.string().min(1).optional().describe("PEM private key of `tlsCert`. Must be mode 0600 or 0400 and owned by the server's user, else the server refuses to start and says which `chmod`/`chown` fixes it."),
    httpHost: z.string().default('127.0.0.1').describe('Address the router (the public HTTP entry) listens on.'),
    httpPort: port(8080).describe('Port of the router: where users reach the instances (0 = any free port).'),
    httpsPort: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe('Agent: port of the router\'s TLS listener (HTTPS, same `httpHost`; 0 = any free port). It serves the certificates set with `cutover tls set` for the hosts of this machine\'s instances, and the watched pair `tlsCertFile`/`tlsKeyFile` as the default ([tls](tls.md)). Unset: no HTTPS.'),
    redirectHttp: onOff(false).describe('Agent, with `httpsPort`: the plain listener answers `308` to `https://<host><path>` for routed hosts (except the readiness path and ACME HTTP-01 challenges) ([tls](tls.md)).'),
    hsts: onOff(false).describe('Agent, with `httpsPort`: `Strict-Transport-Security` on every HTTPS response (never over plain HTTP, RFC 6797 §7.2), with `hstsMaxAge` and `hstsIncludeSubDomains`.'),
    hstsMaxAge: duration('365d').describe('Agent, with `hsts`: how long a browser that saw the header refuses plain HTTP to the host (`max-age`, whole seconds). Start short (e.g. `5m`) while trying HTTPS out; browsers keep what they saw for the whole time.'),
    hstsIncludeSubDomains: onOff(false).describe('Agent, with `hsts`: `includeSubDomains`: the same for every subdomain of the host. Only when every one of them serves HTTPS.'),
    trustedProxies: z
      .union([z.string(), z.array(z.string())])
      .default('')
      .transform((v, ctx) => {
        const list = (Array.isArray(v) ? v : v.split(',')).map((p) => p.trim()).filter(Boolean);
        for (const cidr of list) {
          const problem = cidrProblem(cidr);
          if (problem) {
            ctx.addIssue({ code: 'custom', message: problem });
            return z.NEVER;
          }
        }
        return list;
      })
      .describe('Agent: CIDRs (comma-separated, IPv4 and IPv6; a bare address is one host) of the load balancers in front of the router. Only requests from them keep their `X-Forwarded-For`/`-Proto`/`-Host` (this hop appended); everyone else\'s are replaced ([tls](tls.md#how-the-router-serves-tls)). Default: none.'),
    proxyProtocol: z
      .union([z.string(), z.array(z.string())])
      .default('')
      .transform((v, ctx) => {
        const list = (Array.isArray(v) ? v : v.split(',')).map((p) => p.trim()).filter(Boolean);
        const bad = list.find((l) => l !== 'http' && l !== 'https');
        if (bad !== undefined) {
          ctx.addIssue({ code: 'custom', message: `names the listeners that expect a PROXY protocol header: http, https or both (comma-separated), not ${JSON.stringify(bad)}` });
          return z.NEVER;
        }
        return [...new Set(list)] as ('http' | 'https')[];
      })
      .describe("Agent: the router's listeners (`http`, `https`, comma-separated) behind a TCP load balancer that puts a PROXY protocol header (v1 or v2) before each connection; the client it names is the request's client. Accepted only from `trustedProxies`; a connection without the header is closed ([tls](tls.md#how-the-router-serves-tls)). Default: none."),
    tlsCertFile: z
      .string()
      .min(1)
      .optional()
      .describe('Agent, with `httpsPort`: a PEM certificate chain the router serves as its default certificate, beside those of `cutover tls set`; watched: a change to it or `tlsKeyFile` is loaded (after 0.5 s of quiet, only when both parse and match, else the old pair keeps serving and the agent logs why). For one-machine installs with certbot or acme.sh ([tls](tls.md#a-watched-pair-of-files)).'),
    tlsKeyFile: z.string().min(1).optional().describe("Agent: the PEM private key of `tlsCertFile` (watched with it). Never logged; the agent refuses a key other users may read."),
    appConfigKeyDir: z
      .string()
      .min(1)
      .optional()
      .describe("Directory of the key ring that seals app-config secrets (`<id>.key`, 32 random bytes in base64, mode 0600; the directory 0700), kept out of the database so a copy of it holds no usable secret. The server writes a first key there at start when it holds none. Replicas on PostgreSQL need the same key files: copy them before a secret is set, and add a new key on every replica before `cutover secret rotate-key` ([app config](app-config.md#secrets-and-keys))."),
    database: z.string().optional().describe("Where the control plane keeps its data: a PostgreSQL URL (`postgres://user:password@host:5432/db` or `postgresql://…`), or else a SQLite file path. The default sits in `<dataDir>/private/` (0700); a path you configure stays as given, and its directory's mode is yours (the server warns at start if other users may enter it)."),
    rollbackWindow: duration('30m').describe('How long the previous slot stays warm after a flip, for instant rollback.'),
    lockTtl: duration('30s').describe("Lease of an instance's deployment lock; renewed at every step and every third of it while a deployment runs. A deployment whose server died is resumed by another replica from its last persisted step: at once when the store tells that replica is dead (PostgreSQL), when a restarted replica finds its previous incarnation's, else once the lease expires (replicas look every `min(lockTtl / 2, 30 s)`). Short, so a dead server's deployment waits little; long enough that a replica cut off from the store for less than it keeps its deployments ([leases](architecture.md#leases-replicas-and-recovery))."),
    flipTimeout: duration('2s').describe("How long the flip of an instance on several machines waits for each machine's acknowledgement. A machine that does not answer in time is `unconfirmed`, the deployment ends `partial`, and the machine is brought to the desired state when it is back ([machines](machines.md#instances-on-several-machines))."),
    warmCheckInterval: duration('5s').describe('How often the server stops warm slots whose rollback window ended.'),
    bakeWindow: duration('5m').describe('How long after a flip the new colour is watched (error rate, p95/p99 latency, against the old colour); a breach rolls back to the warm slot. `0` turns the bake off.'),
    bakeCheckInterval: duration('5s').describe("How often agents push their routers' counters over their session, and the bake judges their sum."),
    bakeMinRequests: z.coerce.number().int().min(1).default(100).describe('Requests the new colour must have served before the bake judges it; fewer is inconclusive, never a pass.'),
    bakeMaxErrorRate: z.coerce.number().min(0).max(1).default(0.05).describe('Highest share of 5xx (and router-made 502/504) answers allowed during the bake.'),
    rollbackOnUnhealthy: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' })
      .default(true)
      .describe("When the supervisor reports an instance's active slot unhealthy on two checks in a row (or `failed`/`exited` once) and the warm slot healthy, flip back to the warm slot (actor `health`). `false`: only report it (`slot.unhealthy` in the audit log). Checked every `bakeCheckInterval`, by the replica holding the `~health-watcher` lease."),
    fleetInterval: duration('30s').describe('How often the [fleet scheduler](fleet.md) makes a pass looking for instances to upgrade; only the server replica holding the scheduler lease acts.'),
    drainTimeout: duration('30s').describe('How long in-flight requests on a slot being stopped (and on the router when the agent stops) may take to finish. The app is told to stop (SIGTERM) after at most 1 s of it, so streams it ends then end the drain early; a response still streaming at the end is ended with its chunked terminator, not a reset.'),
    pauseTimeout: duration('10s').describe("How long the router holds a request of an instance that no slot can serve yet (no active colour: while a restarted agent brings its slots up, or while the serving slot's crashed process restarts) before answering 503 with `Retry-After`. `0` answers 503 at once."),
    wsDrainTimeout: duration('60s').describe("Window over which WebSockets of a colour that stops serving are closed with 1001 (going away), each at a random moment, so clients reconnect gradually. After a forward flip the window starts when `skewGrace` ends (the old colour keeps its WebSockets while it serves old clients); after a rollback (manual or automatic) it starts at once; a slot being stopped or the agent stopping starts it at once too, so they are never closed later than the old slot's stop."),
    takeoverStreamGrace: duration('5s').describe('When the agent hands over (`--takeover`) or stops, responses still streaming this long after (SSE, long downloads) are ended cleanly, a chunked one with its terminator, so EventSource clients reconnect to the new agent instead of holding the old one until `drainTimeout`.'),
    skewGrace: duration('5m').describe('Skew protection: for how long after a forward flip a client still running the previous version (it sends the version or deployment id of that release: header `x-deployment-id`, `?dpl=` or the `cutover_dpl` cookie, which carries the version, so it holds on every machine) keeps being served by the previous colour, while that slot is warm; its WebSockets stay open as long (see `wsDrainTimeout`). A rollback, manual or automatic, ends it at once: the release rolled back from is never served by its id. `0` turns it off.'),
    maxRequestBody: bytes('100MiB').describe('Largest request body the router accepts; a larger one gets 413 (a chunked one as soon as it runs over, if the app has not begun its answer; if it has, the answer is left unterminated and the connection closed once the upload is read, never a 200 that looks complete). A size (see above).'),
    maxApiBody: bytes('1MiB').describe('Largest JSON request body the API accepts; a larger one gets `413 BODY_TOO_LARGE`, counted while it streams in (a `Content-Length` above it is refused before reading). Artifact uploads have `maxArtifactSize` instead. A size (see above).'),
    maxArtifactSize: bytes('1GiB').describe("Largest artifact upload (`POST /api/artifacts`); a larger one gets `413 BODY_TOO_LARGE` while it streams and nothing is kept. 1 GiB because gzip shrinks app trees three to four times, so a 1 GiB archive already unpacks to about the agent's 4 GiB unpack budget. The CLI refuses to pack an artifact over 1 GiB (the default) before uploading. A size."),
    unreferencedArtifactTtl: duration('1d').describe('How long an uploaded artifact that no release references (a publish that never came, or was refused) is kept; then the server deletes it, looking every hour (or every `unreferencedArtifactTtl` if shorter). Re-uploading the same bytes restarts the age. Artifacts of published releases are never deleted by this.'),
    unpackMaxEntries: z.coerce.number().int().min(1).default(250_000).describe('Most entries (files, directories, links) an artifact may hold; the agent refuses to unpack a larger one (`ARTIFACT_INVALID`, naming this setting) before writing anything. The check comes when a slot of it starts: each instance unpacks its own copy then. Sized for a large `node_modules` tree: 200,000 files and their directories.'),
    unpackMaxSize: bytes('4GiB').describe('Most bytes an artifact may unpack to (the sum of its file sizes); a larger one is refused the same way. A size.'),
    unpackMaxHeap: bytes('1536MiB').describe('Heap limit (`--max-old-space-size`) of the child process the agent unpacks each artifact in, so a hostile archive cannot grow the agent itself. node-tar needs about 4 KiB of heap per entry while it extracts: keep it above `unpackMaxEntries` × 4 KiB + 256 MiB. A child that runs out fails the unpack with `ARTIFACT_INVALID` naming this setting. A size.'),
    pruneKeepReleases: z.coerce
      .number()
      .int()
      .min(0)
      .default(3)
      .describe("`cutover prune` keeps each instance's last N releases' artifacts on the agent, besides those its live and warm slots run; older ones go and are fetched again by digest when deployed. The server keeps every published release's artifact."),
    pruneInterval: duration('1h').describe("How often the server prunes the agent's artifacts as `cutover prune` does (see `pruneKeepReleases`); `0` turns it off (`cutover prune` still works). The agent also keeps any artifact a deploy checked for or sent in the last 15 minutes until a slot holds it."),
    slotLogMaxBytes: bytes('10MiB').describe("A slot's log file is rotated when it grows past this size: copied to `<file>.1` (older ones shift to `.2`…), then truncated; the app keeps writing to its open file. A size (see above)."),
    slotLogFiles: z.coerce.number().int().min(0).max(100).default(5).describe('Rotated slot log files kept beside the current one; `0` keeps none (the file is only truncated).'),
    slotPath: z
      .string()
      .min(1)
      .default(defaultSlotPath())
      .describe("`PATH` of every slot's process, so the runtime an app's `start` finds (`node server.js`) does not depend on who started the agent. Default: the directory of the Node binary the agent runs on, then `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`."),
    resetState: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' })
      .default(false)
      .describe("When the agent's state files exist and none is valid, it refuses to start (`AGENT_STATE_INVALID`); `true` moves them aside (`<file>.corrupt-<time>`, never deleted) and starts empty. Does nothing while a file is valid. See [architecture](architecture.md#invalid-agent-state-and-orphaned-slots)."),
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
      .describe("When the agent runs as root: the uids (with gids of the same number) it hands out, one per instance, recorded in its state for the instance's life; no `/etc/passwd` entry is needed. A uid of a passwd user or of a running process is skipped. Give each agent on a machine its own range. See [slot isolation](architecture.md#slot-isolation)."),
    slotUser: z
      .string()
      .min(1)
      .optional()
      .describe("When the agent runs as root: run every slot as this user (a name looked up with `getent passwd`, a uid, or `uid:gid`; never root) instead of a uid per instance. The instances of this agent then share a uid and can reach each other's files and processes."),
    allowSharedUid: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' })
      .default(false)
      .describe('An agent that is not root runs its slots as its own uid (`isolation: none`): it then refuses to bind the router to a non-loopback `httpHost` unless this is `true`, because any release could read its credentials and join its ports.'),
    server: z
      .string()
      .url()
      .optional()
      .describe("Agent: the server's URL (e.g. `https://cp.internal:7070`). Set, the agent joins it as a machine at its first start (with a join token from `CUTOVER_JOIN_TOKEN` or `joinTokenFile`, pinning the certificate hash the token carries), stores its credential in `<dataDir>/agent/private/machine.json` (0600), and at later starts opens its session with that credential ([machines](machines.md)). Unset: the agent joins the server of its own data directory with the single-use token that server leaves in `private/local-join.json` (`cutover up`, or both under systemd)."),
    joinTokenFile: z
      .string()
      .min(1)
      .optional()
      .describe('Agent: a file holding the join token for its first start with `server` (else `CUTOVER_JOIN_TOKEN`). Never on the command line: it would sit in `ps` and the shell history.'),
    machineName: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter, e.g. web-1')
      .optional()
      .describe("Agent: the machine's name when it joins the `server`, unique among live machines. Default: the host name, lowercased."),
    machineLabels: z
      .string()
      .default('')
      .transform((v, ctx) => {
        const labels: Record<string, string> = {};
        for (const pair of v.split(',').map((p) => p.trim()).filter(Boolean)) {
          const m = /^([a-z][a-z0-9._/-]{0,62})=(.{0,200})$/.exec(pair);
          if (!m) {
            ctx.addIssue({ code: 'custom', message: `"${pair}" is not a label; write key=value, keys lowercase, e.g. role=web,zone=a` });
            return z.NEVER;
          }
          labels[m[1]!] = m[2]!;
        }
        return labels;
      })
      .describe('Agent: labels of the machine when it joins the `server`, `key=value` pairs separated by commas (`--label role=web --label zone=a`).'),
    metricsListen: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v === '') return undefined;
        const listen = parseListenAddress(v);
        if (!listen) {
          ctx.addIssue({ code: 'custom', message: `"${v}" is not an address to listen on; write host:port, e.g. 127.0.0.1:9100 or [::1]:9100` });
          return z.NEVER;
        }
        return listen;
      })
      .describe("Agent: where it serves `GET /metrics` (Prometheus text: the router's per-colour counters), as `host:port`, e.g. `127.0.0.1:9100`. Unset: no metrics listener. It is the agent's only metrics endpoint (its control port, which served `/v1/metrics`, went away when agents began to dial the server). A non-loopback address needs a token (`metricsTokenFile` or `CUTOVER_METRICS_TOKEN`), else the agent refuses to start ([operations](operations.md#metrics))."),
    metricsTokenFile: z
      .string()
      .min(1)
      .optional()
      .describe('Agent: a file holding the bearer token a scraper must send to `metricsListen` (`Authorization: Bearer …`; Prometheus: `authorization.credentials_file`); else `CUTOVER_METRICS_TOKEN`. At least 16 characters. Never on the command line: it would sit in `ps`.'),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info').describe('`debug`, `info`, `warn`, `error` or `silent`. Logs are JSON lines on stderr.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    // One without the other would serve plain HTTP while the operator believes it is HTTPS.
    if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) {
      const missing = c.tlsCert === undefined ? 'tlsCert' : 'tlsKey';
      // Reported at the key that was given, so the message says where it came from.
      ctx.addIssue({ code: 'custom', path: [missing === 'tlsCert' ? 'tlsKey' : 'tlsCert'], message: `tlsCert and tlsKey go together; set ${missing} (--${missing === 'tlsCert' ? 'tls-cert' : 'tls-key'}) too, or neither` });
    }
    // A watched pair goes together, and like redirect and HSTS it means nothing without the TLS listener.
    if ((c.tlsCertFile === undefined) !== (c.tlsKeyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: [c.tlsCertFile === undefined ? 'tlsKeyFile' : 'tlsCertFile'], message: 'tlsCertFile and tlsKeyFile go together (--tls-cert-file, --tls-key-file); set both, or neither' });
    }
    for (const key of ['tlsCertFile', 'redirectHttp', 'hsts'] as const) {
      if (c[key] !== undefined && c[key] !== false && c.httpsPort === undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} needs the router's TLS listener: set httpsPort (--https-port) too` });
      }
    }
    // A PROXY header is believed only from a trusted proxy: with none listed, every connection would be refused.
    if (c.proxyProtocol.length > 0 && c.trustedProxies.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['proxyProtocol'], message: 'proxyProtocol accepts the header only from trustedProxies: list the load balancers there (--trusted-proxies) too' });
    }
    if (c.proxyProtocol.includes('https') && c.httpsPort === undefined) {
      ctx.addIssue({ code: 'custom', path: ['proxyProtocol'], message: "proxyProtocol names https, which needs the router's TLS listener: set httpsPort (--https-port) too" });
    }
    // A CA without a certificate would pin nothing the server presents.
    if (c.tlsCa !== undefined && c.tlsCert === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tlsCa'], message: 'tlsCa is the CA that signed tlsCert: set tlsCert and tlsKey (--tls-cert, --tls-key) too, or leave tlsCa out' });
    }
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** The environment variable of a setting: `rollbackWindow` → `CUTOVER_ROLLBACK_WINDOW`. */
export function settingEnvName(key: string): string {
  return `CUTOVER_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** Maps `CUTOVER_API_PORT` → `apiPort` for every key in the schema. */
export function configFromEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[settingEnvName(key)];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

/**
 * Settings an earlier version had, and what replaced them: agents dial the server now (ADR 0019),
 * so nothing listens for the server on the agent, and the server dials nobody.
 */
export const RETIRED_SETTINGS: Readonly<Record<string, string>> = {
  agentPort: 'the agent no longer has a control port: it dials the server (`cutover agent --server URL`, or the server of its data directory joins it by itself); remove agentPort (--agent-port, CUTOVER_AGENT_PORT); for its metrics use metricsListen',
  agentHost: 'the agent no longer has a control port: it dials the server (`cutover agent --server URL`, or the server of its data directory joins it by itself); remove agentHost (CUTOVER_AGENT_HOST); for its metrics use metricsListen',
  agentUrl: 'the server no longer dials agents: each agent dials the server (`cutover agent --server URL` with a join token, docs/machines.md); remove agentUrl (CUTOVER_AGENT_URL)',
};
const RETIRED_ENV: Readonly<Record<string, string>> = { CUTOVER_AGENT_PORT: 'agentPort', CUTOVER_AGENT_HOST: 'agentHost', CUTOVER_AGENT_URL: 'agentUrl' };

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
  // A retired setting is refused by name, with what replaced it, wherever it came from.
  for (const [key, source] of [...Object.keys(fromFile).map((k) => [k, 'config file'] as const), ...Object.keys(flags).map((k) => [k, 'flag'] as const)]) {
    const why = RETIRED_SETTINGS[key];
    if (why) issues.push({ path: key, message: `${why} (from ${source})` });
  }
  for (const [name, key] of Object.entries(RETIRED_ENV)) {
    if (layers.env?.[name] !== undefined) issues.push({ path: key, message: `${RETIRED_SETTINGS[key]} (from environment ${name})` });
  }
  const retired = (key: string) => key in RETIRED_SETTINGS;
  const merged = Object.fromEntries(Object.entries({ ...layers.defaults, ...fromFile, ...fromEnv, ...flags }).filter(([k]) => !retired(k)));
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
  config.appConfigKeyDir = resolve(config.appConfigKeyDir ?? join(config.dataDir, 'private', 'app-config-keys'));
  return Object.freeze(config);
}
