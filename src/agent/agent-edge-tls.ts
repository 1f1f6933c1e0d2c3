// The certificates of the agent's TLS listener (issue 21): those the server sends over the session
// (`tls.put`), kept sealed with the machine's key beside the state files so a restart while the
// server is away still serves HTTPS, and the watched pair of files (`tlsCertFile`/`tlsKeyFile`),
// the default. A pair that does not load changes nothing: the router keeps serving the old set.
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { CutoverError, keyFileProblem } from '../shared/index.ts';
import { inspectPair, mergeEdgeSet } from '../edge-tls/index.ts';
import type { PairFacts } from '../edge-tls/index.ts';
import type { EdgePair, HeldCertificate } from '../protocol/index.ts';
import type { Router } from '../router/index.ts';
import { machineEnvKey, openEnv, sealEnv } from './sealed-env.ts';
import type { SealedEnv } from './sealed-env.ts';

const AAD = Buffer.from('cutover edge certificates v1');
/** How long the watched files must stay unchanged before they are read: a renewal writes two files. */
const DEFAULT_SETTLE_MS = 500;
const DEFAULT_POLL_MS = 500;

export interface AgentEdgeTlsOptions {
  router: Pick<Router, 'setCertificates' | 'certificates'>;
  /** The state files' base path (`agent/private/state`): the sealed file and the machine key sit beside it. */
  stateBase: string;
  /** The watched pair (`tlsCertFile`, `tlsKeyFile`), if any. */
  files?: { cert: string; key: string };
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  now?: () => number;
  /** Tests: how often the files are looked at, and how long they must be quiet. */
  pollMs?: number;
  settleMs?: number;
}

type FilePair = { cert: string; key: string; facts: PairFacts };

/** The sealed file of the server's pairs, beside the state files. */
export const edgeCertsFile = (stateBase: string): string => join(dirname(stateBase), 'edge-certs.json');

export function createAgentEdgeTls(options: AgentEdgeTlsOptions) {
  const { router, log } = options;
  const now = options.now ?? Date.now;
  const file = edgeCertsFile(options.stateBase);
  let server: EdgePair[] = [];
  let filePair: FilePair | undefined;
  let settle: NodeJS.Timeout | undefined;
  let watching = false;

  const apply = (nextServer: readonly EdgePair[], nextFile: FilePair | undefined): void => {
    const fileServed = nextFile && { hosts: nextFile.facts.hosts, cert: nextFile.cert, key: nextFile.key };
    router.setCertificates(mergeEdgeSet(fileServed, nextServer)); // throws TLS_INVALID, changing nothing
  };

  /** The watched pair read and checked: both parse, the key matches (an expired one is served, and logged). */
  async function readFilePair(files: { cert: string; key: string }): Promise<FilePair> {
    const info = await stat(files.key);
    const problem = keyFileProblem(files.key, info, process.getuid?.() ?? 0);
    if (problem) throw new CutoverError('TLS_INVALID', problem.replace("the server's user", "the agent's user").replace('TLS key file', 'tlsKeyFile'), { details: { file: files.key } });
    const [cert, key] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
    const facts = inspectPair({ cert, key }, now(), undefined, { anyDates: true });
    if (Date.parse(facts.notAfter) <= now()) log.warn({ file: files.cert, notAfter: facts.notAfter }, 'the watched certificate has expired; serving it until it is renewed');
    return { cert, key, facts };
  }

  async function saveServer(pairs: readonly EdgePair[]): Promise<void> {
    const sealed = sealEnv(machineEnvKey(options.stateBase), { pairs: JSON.stringify(pairs) }, AAD);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ version: 1, sealed })}\n`, { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  }

  async function loadServer(): Promise<EdgePair[]> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const sealed = (JSON.parse(text) as { sealed?: SealedEnv }).sealed;
    const opened = sealed && openEnv(machineEnvKey(options.stateBase), sealed, AAD);
    if (!opened?.pairs) {
      log.error({ file }, "the server's certificates kept here do not open with this machine's key; serving without them until the server sends them again");
      return [];
    }
    return JSON.parse(opened.pairs) as EdgePair[];
  }

  /** A change on disk: once quiet, read both files; a half-written or mismatched pair leaves the old one serving. */
  async function reloadFiles(files: { cert: string; key: string }): Promise<void> {
    let next: FilePair;
    try {
      next = await readFilePair(files);
    } catch (error) {
      log.warn({ cert: files.cert, key: files.key, err: (error as Error).message }, 'the watched certificate files do not load; the previous pair keeps serving');
      return;
    }
    if (next.cert === filePair?.cert && next.key === filePair.key) return;
    try {
      apply(server, next);
    } catch (error) {
      log.warn({ cert: files.cert, err: (error as Error).message }, 'the router refused the watched certificate; the previous pair keeps serving');
      return;
    }
    log.info({ cert: files.cert, fingerprint: next.facts.fingerprint, notAfter: next.facts.notAfter, previous: filePair?.facts.fingerprint ?? null }, 'loaded the renewed certificate files');
    filePair = next;
  }

  function watch(files: { cert: string; key: string }): void {
    const changed = () => {
      clearTimeout(settle);
      settle = setTimeout(() => void reloadFiles(files), options.settleMs ?? DEFAULT_SETTLE_MS);
      settle.unref();
    };
    // Polled stats, not inotify: certbot and acme.sh replace the files (a rename, or a symlink in
    // live/ moved to a new archive file), which an inotify watch on the old inode would miss.
    for (const f of [files.cert, files.key]) watchFile(f, { interval: options.pollMs ?? DEFAULT_POLL_MS, persistent: false }, changed);
    watching = true;
  }

  /** What the router serves now, and where each came from (never a key). */
  const held = (): HeldCertificate[] =>
    router.certificates().map((c) => ({ hosts: c.hosts, fingerprint: c.fingerprint, notAfter: c.notAfter, isDefault: c.isDefault, source: filePair?.facts.fingerprint === c.fingerprint && c.isDefault ? 'file' : 'server' }));

  return {
    /** At start: the server's pairs kept here and the watched files (which must load, else the agent does not start). */
    async load(): Promise<void> {
      server = await loadServer();
      if (options.files) {
        try {
          filePair = await readFilePair(options.files);
        } catch (error) {
          if (error instanceof CutoverError) throw error;
          throw new CutoverError('TLS_INVALID', `cannot load tlsCertFile ${options.files.cert} with tlsKeyFile ${options.files.key}: ${(error as Error).message}; fix the files or the settings`, { details: { cert: options.files.cert } });
        }
      }
      // Nothing to serve (an agent without TLS): the router builds no TLS state at all.
      if (server.length === 0 && !filePair) return;
      try {
        apply(server, filePair);
      } catch (error) {
        // The kept set no longer loads: the agent still starts (traffic first), with the watched pair
        // if any, and the server sends its set again when the session opens.
        log.error({ err: (error as Error).message }, "the server's certificates kept here do not load; serving without them until the server sends them again");
        server = [];
        if (filePair) apply(server, filePair);
      }
      if (options.files) watch(options.files);
    },

    /** `tls.put`: the server's whole set, loaded first (a set that does not load changes nothing), then kept sealed. */
    async put(pairs: readonly EdgePair[]): Promise<HeldCertificate[]> {
      const previous = server;
      apply(pairs, filePair);
      try {
        await saveServer(pairs);
      } catch (error) {
        apply(previous, filePair);
        throw error;
      }
      server = [...pairs];
      return held();
    },

    held,

    /**
     * Prometheus lines: seconds until each served certificate expires, per host it serves (the
     * default one also as `default="true"`), so an alert can fire 14 days ahead (issue 21).
     */
    metricsText(): string {
      const lines = ['# HELP cutover_tls_certificate_expiry_seconds Seconds until the certificate the router serves for a host expires (negative once expired).', '# TYPE cutover_tls_certificate_expiry_seconds gauge'];
      for (const c of router.certificates()) {
        const left = Math.round((Date.parse(c.notAfter) - now()) / 1000);
        for (const host of c.hosts) lines.push(`cutover_tls_certificate_expiry_seconds{host="${host}",default="${c.isDefault}"} ${left}`);
        if (c.hosts.length === 0) lines.push(`cutover_tls_certificate_expiry_seconds{host="",default="true"} ${left}`);
      }
      return lines.length > 2 ? `${lines.join('\n')}\n` : '';
    },

    close(): void {
      clearTimeout(settle);
      if (watching && options.files) for (const f of [options.files.cert, options.files.key]) unwatchFile(f);
    },
  };
}

export type AgentEdgeTls = ReturnType<typeof createAgentEdgeTls>;
