// Test support (not shipped): the server's end of agent sessions on loopback, in-process, with a
// machine joined — what a real agent dials in tests (`agent/test-agent.ts`, the session tests).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiServer, listen, systemClock } from '../shared/index.ts';
import type { Logger } from '../shared/index.ts';
import { createMemoryStore } from '../store/index.ts';
import { createArtifactStore } from '../releases/index.ts';
import { createJoinToken, joinMachine } from '../control/index.ts';
import { PROTOCOL_VERSION } from '../protocol/index.ts';
import { createAgentLink } from '../link/index.ts';
import type { AgentLinkDeps } from '../link/index.ts';
import { testActor } from './records.ts';

export interface CapturedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

/** A logger that keeps every line, for assertions. */
export function captureLog(): Logger & { lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  const at = (level: CapturedLine['level']) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** What an agent keeps after joining (`agent/private/machine.json`). */
export interface JoinedLink {
  name: string;
  urls: string[];
  fingerprint: string | null;
  credential: string;
}

/** A server's agent link on loopback (plain, or TLS with `tls`) with machine `name` joined; `machineLink` is what its agent keeps. */
export async function startLinkServer(options: { name?: string; tls?: { cert: string; key: string; fingerprint: string }; heartbeatMs?: number; countersMs?: number; /** A replica bus: the link claims its machines there. */ bus?: AgentLinkDeps['bus'] } = {}) {
  const name = options.name ?? 'web-1';
  const { tls } = options;
  const store = createMemoryStore();
  const dir = await mkdtemp(join(tmpdir(), 'cutover-link-'));
  const artifacts = createArtifactStore(join(dir, 'artifacts'));
  const log = captureLog();
  const link = createAgentLink({ store, clock: systemClock, log, artifactPath: (d) => artifacts.path(d), heartbeatMs: options.heartbeatMs ?? 500, countersMs: options.countersMs ?? 200, ...(options.bus ? { bus: options.bus } : {}) });
  const api = createApiServer({ http1: (_req, res) => res.writeHead(404).end(), agent: link.handle, ...(tls ? { tls } : {}) });
  const port = await listen(api.server, 0, '127.0.0.1');
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const deps = { store, clock: systemClock, serverUrls: [url], ...(tls ? { tlsFingerprint: tls.fingerprint } : {}) };
  /** Joins machine `other` with a new token, announcing `protocolVersion`. */
  const joinAs = async (other: string, protocolVersion = PROTOCOL_VERSION): Promise<JoinedLink> => {
    const { token } = await createJoinToken(deps, { expires: '1h' }, testActor('admin'));
    const { credential } = await joinMachine(deps, { token, name: other, labels: {}, agentVersion: '0.0.0', protocolVersion }, '127.0.0.1');
    return { name: other, urls: [url], fingerprint: tls?.fingerprint ?? null, credential };
  };
  const machineLink = await joinAs(name);
  return {
    store,
    artifacts,
    link,
    log,
    url,
    machineLink,
    join: joinAs,
    async stop() {
      link.close();
      await api.close(100);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type LinkServer = Awaited<ReturnType<typeof startLinkServer>>;
