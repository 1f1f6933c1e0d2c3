// A machine's desired state and its drift (issue 17), as pure functions over plain data. The
// service (`machine-desired.ts`) loads the records, numbers the document and stores the answers.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../shared/index.ts';
import type { Color } from '../shared/index.ts';
import type { DesiredStateRecord, InstanceRecord } from '../store/index.ts';
import type { DesiredRelease, DesiredState } from '../protocol/index.ts';

/** What the records say about one instance of the machine, plus what `desiredStateOf` cannot look up itself. */
export interface DesiredInput {
  instance: Pick<InstanceRecord, 'name' | 'hosts' | 'activeColor' | 'slots'>;
  /** The artifact digest of each release version the instance's slots hold (a missing one leaves that slot out). */
  digests: Readonly<Record<string, string>>;
  /** Whether maintenance is on (the last `instance.maintenance.on`/`.off` entry). */
  maintenance: boolean;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function releaseIn(input: DesiredInput, color: Color | null, status: 'live' | 'warm'): DesiredRelease | null {
  if (color === null) return null;
  const slot = input.instance.slots[color];
  const digest = slot && input.digests[slot.version];
  if (!slot || slot.status !== status || !digest) return null;
  return { version: slot.version, digest, color };
}

const otherColor = (c: Color | null): Color | null => (c === null ? null : c === 'blue' ? 'green' : 'blue');

/**
 * One machine's desired state: each instance placed on it, with its host names, the release its
 * records say is live (the active colour's slot) and the one kept warm (the other colour's), and
 * whether maintenance is on; and `draining` when the machine's status is `draining` (`machine
 * drain`: its router then answers not ready to outside load balancers). Sorted by instance and
 * host name, so the same records always give the same canonical JSON, whatever order they were
 * loaded in.
 */
export function desiredStateOf(machine: string, inputs: readonly DesiredInput[], draining = false): DesiredState {
  const instances = inputs.map((input) => {
    const { instance } = input;
    return {
      name: instance.name,
      hosts: [...instance.hosts].sort(),
      live: releaseIn(input, instance.activeColor, 'live'),
      warm: releaseIn(input, otherColor(instance.activeColor), 'warm'),
      maintenance: input.maintenance,
    };
  });
  return { machine, instances: instances.sort(byName), draining };
}

/** SHA-256 of a document's canonical JSON: two documents are the same state iff their digests are equal. */
export const desiredDigest = (document: DesiredState): string => createHash('sha256').update(canonicalJson(document)).digest('hex');

/**
 * The number to send `document` as: the stored number when it is the same document (a repeat),
 * the next one when it changed (or nothing was stored yet). `changed` says whether to store it.
 */
export function nextDesiredNumber(stored: Pick<DesiredStateRecord, 'number' | 'digest'> | undefined, digest: string): { number: number; changed: boolean } {
  if (stored && stored.number > 0 && stored.digest === digest) return { number: stored.number, changed: false };
  return { number: (stored?.number ?? 0) + 1, changed: true };
}

/** What an agent reported it serves, per instance (kept from its last report). */
export interface ReportedInstance {
  name: string;
  active: Color | null;
  slots: { color: Color; version: string }[];
}

/** How a machine stands against its desired state (`machine list`'s DRIFT). */
export type Drift =
  | { state: 'none' }
  | { state: 'pending'; number: number; ackedNumber: number | null }
  | { state: 'rejected'; number: number; reason: string }
  | { state: 'differs'; number: number; differences: string[] };

const served = (r: ReportedInstance | undefined) => {
  const slot = r?.active ? r.slots.find((s) => s.color === r.active) : undefined;
  return slot ? `${slot.version} (${slot.color})` : 'nothing';
};

/** Where the report differs from the document's live releases, one sentence per instance. */
export function differences(document: DesiredState, reported: readonly ReportedInstance[]): string[] {
  const byInstance = new Map(reported.map((r) => [r.name, r]));
  const out: string[] = [];
  for (const i of document.instances) {
    if (!i.live) continue;
    const r = byInstance.get(i.name);
    const slot = r?.active === i.live.color ? r.slots.find((s) => s.color === i.live!.color) : undefined;
    if (slot?.version !== i.live.version) out.push(`${i.name}: live ${i.live.version} (${i.live.color}), the agent serves ${served(r)}`);
  }
  return out;
}

/**
 * A machine's drift from its stored desired state:
 * - `none`: nothing sent yet, or the document is acknowledged and the agent's last report (made
 *   after the acknowledgement) serves what it says;
 * - `rejected`: the agent refused the current number, with its reason;
 * - `pending`: the current number is not acknowledged yet;
 * - `differs`: acknowledged, but the last report serves another version or colour somewhere.
 */
export function driftOf(record: DesiredStateRecord | undefined): Drift {
  if (!record || record.number === 0 || !record.document) return { state: 'none' };
  const { number } = record;
  if (record.rejectedNumber === number) return { state: 'rejected', number, reason: record.rejectedReason ?? 'no reason given' };
  if (record.ackedNumber === null || record.ackedNumber < number) return { state: 'pending', number, ackedNumber: record.ackedNumber };
  // A report from before the acknowledgement may show the state the agent was leaving.
  if (record.reported && record.reportedAt !== null && record.ackedAt !== null && record.reportedAt >= record.ackedAt) {
    const reported = (record.reported as { instances?: ReportedInstance[] }).instances ?? [];
    const found = differences(record.document as unknown as DesiredState, reported);
    if (found.length > 0) return { state: 'differs', number, differences: found };
  }
  return { state: 'none' };
}

/** The DRIFT column: `none`, `pending (3, acked 2)`, `rejected: <reason>`, `differs: <first difference>`. */
export function driftText(drift: Drift): string {
  switch (drift.state) {
    case 'none':
      return 'none';
    case 'pending':
      return `pending (${drift.number}, acked ${drift.ackedNumber ?? 'none'})`;
    case 'rejected':
      return `rejected: ${drift.reason}`;
    case 'differs':
      return `differs: ${drift.differences[0]}${drift.differences.length > 1 ? ` (+${drift.differences.length - 1} more)` : ''}`;
  }
}
