// The server's side of a machine's desired state: number the document, record the agent's answer
// and its reports (issue 17). The pure parts are `desired-state.ts`; the transport (the lead's
// session, ADR 0019) calls these: `nextDesiredState` before it sends, `recordDesiredAnswer` with
// the agent's answer, `recordMachineReport` after each heartbeat.
import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { DesiredAnswer, DesiredStateRecord, InstanceRecord, Store } from '../store/index.ts';
import { releaseSpecOf } from '../releases/index.ts';
import type { DesiredState } from '../protocol/index.ts';
import { desiredDigest, desiredStateOf, nextDesiredNumber } from './desired-state.ts';
import type { DesiredInput, ReportedInstance } from './desired-state.ts';
import { placedOn } from './placement.ts';
import { desiredCertificatesOf } from './edge-certs.ts';

type Deps = { store: Store; clock: Clock };

/** Whether maintenance is on for an instance: its latest `instance.maintenance.on`/`.off` entry says so. */
async function maintenanceOn(store: Store, instance: string): Promise<boolean> {
  const [on, off] = await Promise.all(
    ['instance.maintenance.on', 'instance.maintenance.off'].map(async (action) => (await store.listAudit({ instance, action, limit: 1 }))[0]?.id ?? 0),
  );
  return on! > off!;
}

/** The artifact digests of the versions an instance's slots hold. */
async function digestsOf(store: Store, i: InstanceRecord): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const slot of [i.slots.blue, i.slots.green]) {
    if (!slot || out[slot.version]) continue;
    const release = await store.getRelease(i.app, slot.version);
    // Releases recorded without an artifact (none in practice; some test records) leave the slot out.
    const digest = release && (releaseSpecOf(release) as { artifact?: { digest?: string } }).artifact?.digest;
    if (digest) out[slot.version] = digest;
  }
  return out;
}

/**
 * The instances placed on `machine` (named, or matched by their machine selector), by name. Reads
 * every instance: placements by selector are decided against the machines' labels, not indexed.
 */
export async function instancesOnMachine(store: Store, machine: string): Promise<InstanceRecord[]> {
  const [instances, machines] = await Promise.all([store.listInstances(), store.listMachines()]);
  return instances.filter((i) => placedOn(i, machine, machines));
}

/** What the records say `machine` should run, as its document (not numbered, not stored). */
export async function desiredStateFor(store: Store, machine: string): Promise<DesiredState> {
  const placed = await instancesOnMachine(store, machine);
  const inputs: DesiredInput[] = await Promise.all(
    placed.map(async (instance) => ({ instance, digests: await digestsOf(store, instance), maintenance: await maintenanceOn(store, instance.name) })),
  );
  const draining = (await store.getMachine(machine))?.status === 'draining';
  const document = desiredStateOf(machine, inputs, draining);
  // Absent without certificates: an install without TLS keeps its documents' digests (ADR 0029).
  const certificates = await desiredCertificatesOf(store, machine);
  return certificates.length ? { ...document, certificates } : document;
}

/**
 * The document to send `machine` and its number. The number goes up by one only when the
 * document's canonical JSON changed since the one stored; otherwise the stored number is sent
 * again (the agent accepts a repeat). Two replicas racing store one number: the loser reads it back.
 */
export async function nextDesiredState(deps: Deps, machine: string): Promise<{ number: number; document: DesiredState }> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const document = await desiredStateFor(deps.store, machine);
    const digest = desiredDigest(document);
    const { number, changed } = nextDesiredNumber(await deps.store.getDesiredState(machine), digest);
    if (!changed) return { number, document };
    const stored = await deps.store.putDesiredDocument(machine, { number, document: document as unknown as Record<string, unknown>, digest, at: deps.clock.now() });
    if (stored) return { number, document };
  }
  throw new CutoverError('INTERNAL', `the desired state of machine "${machine}" kept changing under five attempts to number it; try again`);
}

/** Records the agent's answer to document `number` (accepted, or refused with its reason). */
export async function recordDesiredAnswer(deps: Deps, machine: string, number: number, answer: DesiredAnswer): Promise<DesiredStateRecord | undefined> {
  return deps.store.recordDesiredAnswer(machine, number, answer, deps.clock.now());
}

/** A certificate an agent's router serves, as the report keeps it (for `tls list`'s holding machines). */
export interface ReportedCertificate {
  hosts: string[];
  fingerprint: string;
  notAfter: string;
  isDefault: boolean;
  source: 'server' | 'file';
}

const keptCertificates = (certs: readonly ReportedCertificate[]) =>
  certs.map((c) => ({ hosts: c.hosts, fingerprint: c.fingerprint, notAfter: c.notAfter, isDefault: c.isDefault, source: c.source }));

/**
 * Keeps what the agent reported it serves (its `agent.state` instances), for drift: only the names,
 * active colours and slot versions; and the certificates its router serves (fingerprints, no keys).
 */
export async function recordMachineReport(deps: Deps, machine: string, report: { instances: readonly ReportedInstance[]; certificates?: readonly ReportedCertificate[] }): Promise<void> {
  const instances = report.instances.map((i) => ({ name: i.name, active: i.active, slots: i.slots.map((s) => ({ color: s.color, version: s.version })) }));
  const certificates = keptCertificates(report.certificates ?? []);
  await deps.store.saveMachineReport(machine, { instances, ...(certificates.length ? { certificates } : {}) }, deps.clock.now());
}

/** After `tls.put`: the certificates the agent now serves replace those of its last report. */
export async function recordHeldCertificates(deps: Deps, machine: string, certificates: readonly ReportedCertificate[]): Promise<void> {
  const reported = ((await deps.store.getDesiredState(machine))?.reported ?? {}) as Record<string, unknown>;
  await deps.store.saveMachineReport(machine, { ...reported, certificates: keptCertificates(certificates) }, deps.clock.now());
}

/** The certificates of the agent's last report (none before it reported any). */
export function reportedCertificates(reported: Record<string, unknown> | null | undefined): ReportedCertificate[] {
  return ((reported as { certificates?: ReportedCertificate[] } | null | undefined)?.certificates ?? []);
}
