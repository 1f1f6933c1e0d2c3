import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CutoverError, parseJoinToken } from '../shared/index.ts';
import type { Actor, Clock } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';
import type { AuditFields, MachineRecord, MachineStatus, Store } from '../store/index.ts';
import { PROTOCOL_VERSION, protocolAccepted } from '../protocol/index.ts';
import { MACHINE_NAME, labelKeyField, labelValueField } from './instances.ts';
import { checkJoinToken, joinTokenError } from './join-tokens.ts';
import { hashToken } from './tokens.ts';
import { driftOf, driftText } from './desired-state.ts';
import type { Drift } from './desired-state.ts';
import { instancesOnMachine } from './machine-desired.ts';
import { strandedBy } from './placement.ts';

/** A machine as the API shows it: never its credential's hash; `needsUpgrade` when its agent speaks the protocol version before this server's. */
export type MachineInfo = Omit<MachineRecord, 'credentialHash'> & { needsUpgrade: boolean };

function info({ credentialHash: _hash, ...rest }: MachineRecord): MachineInfo {
  const accepted = protocolAccepted(PROTOCOL_VERSION, rest.protocolVersion);
  return { ...rest, needsUpgrade: !accepted.ok || accepted.outdated };
}

const versionField = z.string().regex(/^[0-9A-Za-z.+-]{1,40}$/, 'must be a version like 1.2 or 0.1.0');
const protocolField = z.number().int().min(0).max(1_000_000);

export const joinMachineSchema = z
  .object({
    token: z.string().min(1).max(4096).describe('The join token (`cutj_…`) an admin created with `cutover join-token create`.'),
    name: z.string().regex(MACHINE_NAME, 'must be lowercase letters, digits and dashes, starting with a letter, e.g. web-1').describe('The machine\'s name, unique among live machines.'),
    labels: z.record(labelKeyField, labelValueField).default({}).describe('Labels for selectors, e.g. {"role": "web"}.'),
    agentVersion: versionField.describe("The agent's product version."),
    protocolVersion: protocolField.describe('The agent protocol version the agent speaks (ADR 0019); this server accepts its own and the one before.'),
  })
  .strict();

/** The validated join body (the route parses it once, at the API edge). */
export type JoinMachineInput = z.output<typeof joinMachineSchema>;

export const machineHeartbeatSchema = z
  .object({
    agentVersion: versionField.optional(),
    protocolVersion: protocolField.optional(),
  })
  .strict();
export type MachineHeartbeatInput = z.output<typeof machineHeartbeatSchema>;

/** A new machine credential: random, recognisable to secret scanners (`cutm_`). */
function newCredential(): string {
  return `cutm_${randomBytes(32).toString('base64url')}`;
}

/**
 * An agent joins with a join token: refused when the token is unknown, revoked, expired or used up
 * (each with its own code), or when a live machine has the name (`MACHINE_EXISTS`). Answers the
 * machine and its credential, which is never shown again; the store keeps its SHA-256.
 */
export async function joinMachine(deps: { store: Store; clock: Clock }, body: JoinMachineInput, address: string | null): Promise<{ machine: MachineInfo; credential: string }> {
  const tokenHash = hashToken(parseJoinToken(body.token).secret);
  // Before the token is looked at: a refused version uses nothing up.
  const accepted = protocolAccepted(PROTOCOL_VERSION, body.protocolVersion);
  if (!accepted.ok) throw new CutoverError('PROTOCOL_UNSUPPORTED', accepted.reason, { details: { server: PROTOCOL_VERSION, agent: body.protocolVersion } });
  const now = deps.clock.now();
  const token = await deps.store.findJoinTokenByHash(tokenHash);
  const verdict = checkJoinToken(token, now);
  if (!verdict.ok) throw joinTokenError(verdict);
  const tokenId = token!.id; // checkJoinToken passes only a token it was given
  const credential = newCredential();
  const record: MachineRecord = {
    name: body.name,
    labels: body.labels,
    address,
    agentVersion: body.agentVersion,
    protocolVersion: body.protocolVersion,
    joinedAt: now,
    lastHeartbeat: now,
    status: 'active',
    credentialHash: hashToken(credential),
    credentialRotatedAt: now,
    joinToken: tokenId,
  };
  // The agent joins as itself: no API token asked for this, so the actor is the machine.
  const by: Actor = { actor: `machine:${body.name}`, requestId: null };
  const outcome = await deps.store.joinMachine(
    { tokenHash, now },
    record,
    auditEntry(by, 'machine.join', `machine:${body.name}`, {
      at: now,
      after: { labels: body.labels, address, agentVersion: body.agentVersion, protocolVersion: body.protocolVersion, joinToken: tokenId },
    }),
  );
  if (outcome.ok) return { machine: info(outcome.machine), credential };
  if (outcome.reason === 'token') {
    // Another join took its last use (or it was revoked) in between: say which, as above.
    const again = checkJoinToken(await deps.store.findJoinTokenByHash(tokenHash), now);
    throw again.ok ? new CutoverError('JOIN_TOKEN_USED', `join token ${tokenId} was used up meanwhile; ask an admin for a new one`) : joinTokenError(again);
  }
  throw new CutoverError(
    'MACHINE_EXISTS',
    `a machine named "${body.name}" has already joined and is not removed; give this one another --name, or, if that machine is gone for good, \`cutover machine remove ${body.name}\` first`,
    { details: { name: body.name } },
  );
}

/**
 * The machine an agent's credential belongs to; `MACHINE_CREDENTIAL_INVALID` for an unknown or
 * rotated-away credential, or one of a removed machine.
 */
export async function authenticateMachine(store: Store, credential: string): Promise<MachineRecord> {
  const machine = credential ? await store.findMachineByCredentialHash(hashToken(credential)) : undefined;
  if (!machine || machine.status === 'removed') {
    throw new CutoverError(
      'MACHINE_CREDENTIAL_INVALID',
      'missing, unknown, rotated or removed machine credential; the agent sends the one it got when it joined (`Authorization: Bearer cutm_…`); a removed machine joins again with a new join token',
    );
  }
  return machine;
}

/** An agent's heartbeat: its last contact, address and versions (no audit entry: it is not a change anyone asked for). */
export async function machineHeartbeat(deps: { store: Store; clock: Clock }, name: string, body: MachineHeartbeatInput, address: string | null): Promise<MachineInfo> {
  const updated = await deps.store.updateMachine(name, { lastHeartbeat: deps.clock.now(), address, ...body }, null);
  if (!updated) throw new CutoverError('MACHINE_CREDENTIAL_INVALID', 'the machine was removed meanwhile; join again with a new join token');
  return info(updated);
}

/** A machine as `machine list` and `show` see it: the instances placed on it and its drift from its desired state. */
export type MachineView = MachineInfo & { instances: string[]; drift: Drift & { summary: string } };

/** The names of the instances placed on a machine. */
async function placedOn(store: Store, machine: string): Promise<string[]> {
  return (await instancesOnMachine(store, machine)).map((i) => i.name);
}

async function view(store: Store, machine: MachineRecord): Promise<MachineView> {
  const [instances, desired] = await Promise.all([placedOn(store, machine.name), store.getDesiredState(machine.name)]);
  const drift = driftOf(desired);
  return { ...info(machine), instances, drift: { ...drift, summary: driftText(drift) } };
}

export async function listMachines(store: Store): Promise<MachineView[]> {
  return Promise.all((await store.listMachines()).map((m) => view(store, m)));
}

export async function getMachine(store: Store, name: string): Promise<MachineView> {
  return view(store, await machineNamed(store, name));
}

async function machineNamed(store: Store, name: string): Promise<MachineRecord> {
  const machine = await store.getMachine(name);
  if (!machine) {
    const names = (await store.listMachines()).map((m) => m.name);
    throw new CutoverError('MACHINE_NOT_FOUND', `no machine named "${name}"; machines: ${names.join(', ') || 'none yet (agents join with a join token)'}`, { details: { name } });
  }
  return machine;
}

const entryFor = (who: Actor, now: number, action: string, name: string, rest: Omit<AuditFields, 'at'> = {}) => auditEntry(who, action, `machine:${name}`, { at: now, ...rest });

/**
 * Moves a machine to `draining` (it keeps what it runs, gets nothing new) or `removed` (its
 * credential stops working, its name is free). Doing it again changes nothing; a removed machine
 * cannot be drained.
 */
export async function setMachineStatus(deps: { store: Store; clock: Clock }, name: string, status: Exclude<MachineStatus, 'active'>, who: Actor): Promise<MachineInfo> {
  const machine = await machineNamed(deps.store, name);
  if (machine.status === status) return info(machine);
  if (machine.status === 'removed') {
    throw new CutoverError('MACHINE_NOT_FOUND', `machine "${name}" was removed; it joins again with a new join token`, { details: { name } });
  }
  // The last active machine of a deployed instance stays: nothing else would serve it.
  const [instances, machines] = await Promise.all([deps.store.listInstances(), deps.store.listMachines()]);
  const stranded = machine.status === 'active' ? strandedBy(name, instances, machines) : [];
  if (stranded.length > 0) {
    const them = stranded.length === 1 ? 'it' : 'them';
    throw new CutoverError(
      'MACHINE_IN_USE',
      `machine "${name}" is the last active machine of ${stranded.length === 1 ? 'instance' : 'instances'} ${stranded.join(', ')}; place ${them} on another machine first (\`cutover instance update NAME --machine OTHER\` or \`--machine-selector\`), or delete ${them}`,
      { details: { machine: name, instances: stranded } },
    );
  }
  // An instance named on this machine alone (not deployed yet) would be left naming a removed one.
  const alone = status === 'removed' ? instances.filter((i) => i.placement !== null && 'machines' in i.placement && i.placement.machines.length === 1 && i.placement.machines[0] === name) : [];
  if (alone.length > 0) {
    const list = alone.map((i) => i.name);
    throw new CutoverError(
      'MACHINE_IN_USE',
      `machine "${name}" is the only machine of ${list.join(', ')}; place ${list.length === 1 ? 'it' : 'them'} elsewhere (\`cutover instance update NAME --machine OTHER\`) or delete ${list.length === 1 ? 'it' : 'them'} first`,
      { details: { machine: name, instances: list } },
    );
  }
  const now = deps.clock.now();
  const action = status === 'draining' ? 'machine.drain' : 'machine.remove';
  const updated = await deps.store.updateMachine(name, { status }, entryFor(who, now, action, name, { before: { status: machine.status }, after: { status } }));
  if (!updated) throw new CutoverError('MACHINE_NOT_FOUND', `machine "${name}" disappeared meanwhile`);
  return info(updated);
}

/** A new credential for a machine, shown once; the old one stops working at once. */
export async function rotateMachineCredential(deps: { store: Store; clock: Clock }, name: string, who: Actor): Promise<{ machine: MachineInfo; credential: string }> {
  const machine = await machineNamed(deps.store, name);
  if (machine.status === 'removed') {
    throw new CutoverError('MACHINE_NOT_FOUND', `machine "${name}" was removed; it joins again with a new join token`, { details: { name } });
  }
  const now = deps.clock.now();
  const credential = newCredential();
  const updated = await deps.store.updateMachine(
    name,
    { credentialHash: hashToken(credential), credentialRotatedAt: now },
    entryFor(who, now, 'machine.rotate-credential', name, { before: { credentialRotatedAt: machine.credentialRotatedAt }, after: { credentialRotatedAt: now } }),
  );
  if (!updated) throw new CutoverError('MACHINE_NOT_FOUND', `machine "${name}" disappeared meanwhile`);
  return { machine: info(updated), credential };
}
