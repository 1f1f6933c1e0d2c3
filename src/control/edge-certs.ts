// Edge certificates (issue 21): `tls set|list|remove` as use cases. A pair is checked before
// anything changes (a refused pair leaves the old one serving); its key is sealed with the
// app-config key ring (ADR 0027) and opened only on its way to the machines serving the host, over
// their sessions (ADR 0029). Answers and audit entries name fingerprints, never keys.
import { z } from 'zod';
import { EMPTY_VERSION, checkRing, keyFor, open, seal, sealingKeyId } from '../appconfig/index.ts';
import type { KeyRing } from '../appconfig/index.ts';
import { certificatesFor, daysLeft, expiresSoon, hostProblem, inspectPair, machinesServing } from '../edge-tls/index.ts';
import type { ServedInstance } from '../edge-tls/index.ts';
import { CutoverError } from '../shared/index.ts';
import type { Actor, Clock } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';
import type { EdgeCertificateRecord, Store } from '../store/index.ts';
import { machinesOf } from './placement.ts';

/** What the use cases need: the store, a clock, and this replica's key ring, read at each use (as app config's). */
export interface EdgeCertDeps {
  store: Store;
  clock: Clock;
  keyRing(): KeyRing;
}

export const setEdgeCertificateSchema = z
  .object({
    host: z.string().min(1).max(253).describe('The host name it serves: exact (`shop.example.com`) or a one-label wildcard (`*.example.com`).'),
    cert: z.string().min(1).max(256 * 1024).describe('PEM: the chain, leaf first.'),
    key: z.string().min(1).max(64 * 1024).describe('PEM: its private key (unencrypted). Stored sealed; never answered.'),
    default: z.boolean().optional().describe('Also serve handshakes with an unknown or absent SNI.'),
  })
  .strict();
export type SetEdgeCertificateInput = z.output<typeof setEdgeCertificateSchema>;

/** A certificate as anyone may see it: names, dates, fingerprint, where it should be and where it is (never its key). */
export interface EdgeCertificateView {
  host: string;
  isDefault: boolean;
  hosts: string[];
  fingerprint: string;
  notAfter: string;
  daysLeft: number;
  /** Expires within 14 days (or has expired). */
  expiresSoon: boolean;
  createdAt: number;
  createdBy: string;
  /** The machines serving the host: those it is sent to. */
  machines: string[];
  /** The machines whose agent acknowledged holding this very certificate (its fingerprint). */
  holding: string[];
}

/** A pair as a machine receives it over its session: the key opened. */
export interface DeliveredCertificate {
  hosts: string[];
  cert: string;
  key: string;
  isDefault: boolean;
  fingerprint: string;
  notAfter: string;
}

async function servedInstances(store: Store): Promise<ServedInstance[]> {
  const [instances, machines] = await Promise.all([store.listInstances(), store.listMachines()]);
  return instances.map((i) => ({ hosts: i.hosts, machines: machinesOf(i.placement, machines) }));
}

/** The fingerprints of the server's certificates each of `machines` last said it holds (from its agent's report). */
async function heldByMachine(store: Store, machines: readonly string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const m of new Set(machines)) {
    const reported = (await store.getDesiredState(m))?.reported as { certificates?: { fingerprint: string; source?: string }[] } | null | undefined;
    // The server's certificates only: a watched file pair with the same certificate is not this record's delivery.
    out.set(m, new Set((reported?.certificates ?? []).filter((c) => c.source !== 'file').map((c) => c.fingerprint)));
  }
  return out;
}

function viewOf(c: EdgeCertificateRecord, now: number, instances: readonly ServedInstance[], held: ReadonlyMap<string, ReadonlySet<string>>): EdgeCertificateView {
  const machines = machinesServing(c, instances);
  const holding = machines.filter((m) => held.get(m)?.has(c.fingerprint) === true);
  return {
    host: c.host,
    isDefault: c.isDefault,
    hosts: c.hosts,
    fingerprint: c.fingerprint,
    notAfter: c.notAfter,
    daysLeft: daysLeft(c.notAfter, now),
    expiresSoon: expiresSoon(c.notAfter, now),
    createdAt: c.createdAt,
    createdBy: c.createdBy,
    machines,
    holding,
  };
}

/** Every certificate set, by host, with its machines (viewers too: no key in it). */
export async function listEdgeCertificateViews(deps: Pick<EdgeCertDeps, 'store' | 'clock'>): Promise<EdgeCertificateView[]> {
  const [certs, instances] = await Promise.all([deps.store.listEdgeCertificates(), servedInstances(deps.store)]);
  const held = await heldByMachine(deps.store, instances.flatMap((i) => i.machines));
  return certs.map((c) => viewOf(c, deps.clock.now(), instances, held));
}

/** The ring, refused when one of its key files is not the one the app config's check values say. */
async function checkedRing(deps: EdgeCertDeps): Promise<{ ring: KeyRing; keyId: string }> {
  const current = (await deps.store.getAppConfigVersion()) ?? EMPTY_VERSION;
  const ring = deps.keyRing();
  const { wrong } = checkRing(ring, current.keyChecks);
  if (wrong.length > 0) {
    throw new CutoverError('SECRET_KEY_INVALID', `the key file for app-config key ${wrong.join(', ')} on this server is not the one the secrets were sealed with; restore the right file`, { details: { keyIds: wrong } });
  }
  return { ring, keyId: sealingKeyId(current, ring) };
}

/**
 * `tls set HOST`: the pair checked (`TLS_INVALID` naming what to fix: mismatched key, expired or
 * not yet valid, host not covered), then stored with its key sealed and the audit entry, replacing
 * the host's previous pair. Nothing changes when it is refused.
 */
export async function setEdgeCertificate(deps: EdgeCertDeps, input: SetEdgeCertificateInput, who: Actor): Promise<{ certificate: EdgeCertificateView; replaced: string | null }> {
  const host = input.host.trim();
  const problem = hostProblem(host);
  if (problem) throw new CutoverError('VALIDATION_FAILED', `host "${host}" ${problem}`, { details: { host } });
  const now = deps.clock.now();
  const facts = inspectPair({ cert: input.cert, key: input.key }, now, host);
  const { ring, keyId } = await checkedRing(deps);
  const before = await deps.store.getEdgeCertificate(host);
  const isDefault = input.default ?? before?.isDefault ?? false;
  const record: EdgeCertificateRecord = {
    host,
    isDefault,
    cert: input.cert,
    key: seal(keyId, keyFor(ring, keyId), input.key),
    hosts: facts.hosts,
    fingerprint: facts.fingerprint,
    notAfter: facts.notAfter,
    createdAt: now,
    createdBy: who.actor,
  };
  const entry = auditEntry(who, 'tls.set', `tls:${host}`, {
    at: now,
    before: before ? `certificate ${before.fingerprint}` : null,
    after: `certificate ${facts.fingerprint}`,
    details: { host, fingerprint: facts.fingerprint, hosts: facts.hosts, notAfter: facts.notAfter, default: isDefault, replaced: before?.fingerprint ?? null },
  });
  await deps.store.putEdgeCertificate(record, entry);
  const instances = await servedInstances(deps.store);
  const view = viewOf(record, now, instances, await heldByMachine(deps.store, instances.flatMap((i) => i.machines)));
  return { certificate: view, replaced: before?.fingerprint ?? null };
}

/** `tls remove HOST`: its certificate goes from the store, then from the machines serving it (admin). */
export async function removeEdgeCertificate(deps: Pick<EdgeCertDeps, 'store' | 'clock'>, host: string, who: Actor): Promise<{ host: string; fingerprint: string }> {
  const before = await deps.store.getEdgeCertificate(host);
  const notSet = () => new CutoverError('NOT_FOUND', `no certificate is set for ${host}; \`cutover tls list\` shows the hosts that have one`, { details: { host } });
  if (!before) throw notSet();
  const entry = auditEntry(who, 'tls.remove', `tls:${host}`, {
    at: deps.clock.now(),
    before: `certificate ${before.fingerprint}`,
    after: null,
    details: { host, fingerprint: before.fingerprint },
  });
  if (!(await deps.store.deleteEdgeCertificate(host, entry))) throw notSet();
  return { host, fingerprint: before.fingerprint };
}

/** What a machine's desired state says of its certificates: host, fingerprint, default (no key), by host. */
export async function desiredCertificatesOf(store: Store, machine: string): Promise<Array<{ host: string; fingerprint: string; isDefault: boolean }>> {
  const mine = certificatesFor(machine, await store.listEdgeCertificates(), await servedInstances(store));
  return mine.map((c) => ({ host: c.host, fingerprint: c.fingerprint, isDefault: c.isDefault }));
}

/** The pairs a machine should hold, keys opened with this replica's ring: only for its session. */
export async function edgeCertificatesFor(store: Store, ring: KeyRing, machine: string): Promise<DeliveredCertificate[]> {
  const mine = certificatesFor(machine, await store.listEdgeCertificates(), await servedInstances(store));
  // Under the host it was set for, not the leaf's every name: one record per host, so no name reaches the router twice.
  return mine.map((c) => ({ hosts: [c.host], cert: c.cert, key: open(ring, c.key), isDefault: c.isDefault, fingerprint: c.fingerprint, notAfter: c.notAfter }));
}

/** Key rotation: every certificate's key sealed again with `to` (needs every key they use); how many. */
export async function resealEdgeCertificates(store: Store, ring: KeyRing, to: string): Promise<number> {
  const key = keyFor(ring, to);
  const certs = await store.listEdgeCertificates();
  await store.resealEdgeCertificateKeys(certs.map((c) => ({ host: c.host, key: seal(to, key, open(ring, c.key)) })));
  return certs.length;
}
