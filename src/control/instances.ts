// Instances: their declared fields and schemas, creating, listing, viewing and changing them.
// Setting what they should run is `targets.ts`.
import { z } from 'zod';
import { CutoverError, canonicalJson } from '../shared/index.ts';
import type { Actor, Clock } from '../shared/index.ts';
import type { InstancePlacement, InstanceRecord, InstanceSpecChange, InstanceTarget, Store } from '../store/index.ts';
import { auditEntry, mustGetChannel, mustGetInstance, mustGetRelease } from '../store/index.ts';
import { pointerIndex, resolveTarget, windowSchema } from '../fleet/index.ts';
import type { ResolvedTarget } from '../fleet/index.ts';
import { matchesSelector, parseSelector } from './selector.ts';
import { changePlacement, choosePlacement } from './placement.ts';
import type { PlaceOutcome, PlacementRequest } from './placement.ts';

type Deps = { store: Store; clock: Clock };

export const targetSchema = z
  .union([
    z.object({ version: z.string().min(1) }).strict(),
    z.object({ channel: z.string().min(1) }).strict(),
    z.null(),
  ])
  .describe('`{"version": "1.4.3"}`, `{"channel": "beta"}`, or null for no target.');

/** A maintenance window (`daily 01:00-04:00 Europe/London`, `anytime`…), checked by the fleet's parser. */
export const windowField = windowSchema.describe(
  'Maintenance window, e.g. "daily 01:00-04:00 Europe/London", "weekdays 22:00-02:00 America/New_York", "anytime".',
);

/** The declared fields of an instance, as `instance create` and `instance update` take them. */
export const environmentField = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a lowercase word like production or test');
export const tenantField = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a lowercase name like "acme" (letters, digits, ".", "_", "-")');
export const labelKeyField = z.string().regex(/^[a-z][a-z0-9._/-]{0,62}$/, 'label keys are lowercase words like "region" or "tier"');
export const labelValueField = z.string().max(200, 'label values are at most 200 characters');

/** An instance with its resolved target: the version it should run now. */
export interface InstanceView extends InstanceRecord {
  resolvedTarget: ResolvedTarget;
}

export async function loadPointerIndex(store: Store) {
  return pointerIndex(await store.listChannelPointers());
}

export function viewOf(instance: InstanceRecord, index: ReturnType<typeof pointerIndex>): InstanceView {
  return { ...instance, resolvedTarget: resolveTarget(instance, index) };
}

/**
 * Refuses a target that cannot be met (RELEASE_NOT_FOUND, CHANNEL_NOT_FOUND): a version must be a
 * release of the app, a channel must exist. (Not the router's `checkTarget`, which checks an upstream URL.)
 */
export async function assertTargetExists(store: Store, app: string, target: InstanceTarget | null): Promise<void> {
  if (target === null) return;
  if ('version' in target) await mustGetRelease(store, app, target.version);
  else await mustGetChannel(store, target.channel);
}

/** A machine's name: what an agent joins with (`--name`) and an instance names (`--machine`). */
export const MACHINE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** A machine an instance runs on (`--machine NAME`). */
export const machineField = z.string().regex(MACHINE_NAME, 'must be a machine name like web-1 (see `cutover machine list`)');

/** The machines it runs on (`--machine`, repeatable). */
const machinesField = z
  .array(machineField)
  .min(1, 'needs at least one machine')
  .max(1000)
  .describe('The machines it runs on (each runs both slots and routes its hosts); without it or machineSelector, the only active machine.');

/** Machines by label (`--machine-selector role=web,zone=a`, the `--selector` grammar over machine names and labels). */
const machineSelectorField = z.string().min(1).max(1000).describe('Every machine whose labels match runs it (e.g. "role=web,zone=a"); a machine entering the selection gets its releases, one leaving has it removed.');

/** The placement chosen, or its refusal thrown. */
function placed(outcome: PlaceOutcome): InstancePlacement | null {
  if (!outcome.ok) throw new CutoverError(outcome.code, outcome.message, { details: outcome.details });
  return outcome.placement;
}

/** The placement request of a body (`machines`, `machineSelector`), without undefined fields. */
const placementRequest = (input: { machines?: string[] | undefined; machineSelector?: string | undefined }): PlacementRequest => ({
  ...(input.machines ? { machines: input.machines } : {}),
  ...(input.machineSelector !== undefined ? { selector: input.machineSelector } : {}),
});

/** A host name an instance is served on (`shop.example.com`). */
export const hostnameField = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'must be a host name like shop.example.com');

/** The body of `POST /api/instances` and the arguments of `cutover instance create`. */
export const createInstanceSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter'),
    app: z.string().min(1, 'is required'),
    hosts: z.array(hostnameField).min(1, 'needs at least one host name'),
    environment: environmentField.default('production'),
    tenant: tenantField.nullable().default(null).describe('The customer this instance belongs to.'),
    labels: z.record(labelKeyField, labelValueField).default({}).describe('Free-form labels for selectors, e.g. {"region": "eu"}.'),
    target: targetSchema.default(null),
    window: windowField.nullable().default(null).describe('Maintenance window; null: the environment default of the fleet policy.'),
    machines: machinesField.optional(),
    machineSelector: machineSelectorField.optional(),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type CreateInstanceInput = z.output<typeof createInstanceSchema>;

/** Creates an instance of a published app. Refuses unknown apps, taken names and taken host names. */
export async function createInstance(
  deps: { store: Store; clock: Clock },
  input: CreateInstanceInput,
  who: Actor,
): Promise<InstanceRecord> {
  const { name, app, environment, tenant, labels, target, window } = input;
  const hosts = [...new Set(input.hosts.map((h) => h.toLowerCase()))];
  const apps = await deps.store.listApps();
  if (!apps.includes(app)) {
    throw new CutoverError(
      'APP_NOT_FOUND',
      `no app named "${app}" has a release yet` + (apps.length ? `; known apps: ${apps.join(', ')}` : '; publish a release first'),
      { details: { app } },
    );
  }
  await assertTargetExists(deps.store, app, target);
  const placement = placed(choosePlacement(placementRequest(input), await deps.store.listMachines()));
  for (const other of await deps.store.listInstances()) {
    const taken = other.hosts.find((h) => hosts.includes(h));
    if (taken && other.name !== name) {
      throw new CutoverError('HOST_IN_USE', `host "${taken}" already routes to instance "${other.name}"`, {
        details: { host: taken, instance: other.name },
      });
    }
  }
  const now = deps.clock.now();
  const instance: InstanceRecord = {
    name,
    app,
    hosts,
    environment,
    tenant,
    labels,
    target,
    window,
    placement,
    currentVersion: null,
    activeColor: null,
    slots: { blue: null, green: null },
    createdAt: now,
    updatedAt: now,
  };
  if (!(await deps.store.insertInstance(instance))) {
    throw new CutoverError('INSTANCE_EXISTS', `an instance named "${name}" already exists`, { details: { instance: name } });
  }
  await deps.store.appendAudit(auditEntry(who, 'instance.create', name, {
    at: now,
    instance: name,
    app,
    // A target version makes the entry one of that release's (`audit --release V`), as `instance.target` does.
    version: target && 'version' in target ? target.version : null,
    after: { app, hosts, environment, tenant, labels, target, window, placement },
  }));
  return instance;
}

export const listInstancesQuery = z
  .object({
    selector: z.string().max(1000).optional().describe('e.g. "environment=production,tenant=acme".'),
    cursor: z.string().min(1).max(500).optional().describe('Paging: the `next` of the previous page (opaque).'),
    after: z.string().optional().describe('The older name of `cursor`.'),
    limit: z.coerce.number().int().min(1).max(5000).default(500).describe('Page size (default 500, at most 5000).'),
  })
  .strict();

export interface InstancePageView {
  items: InstanceView[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next: string | null;
}

/** A page of instances by name, with resolved targets; filtered by a selector when given. */
export async function listInstanceViews(deps: Deps, query: { selector?: string | undefined; after?: string | undefined; limit: number }): Promise<InstancePageView> {
  const selector = query.selector ? parseSelector(query.selector) : undefined;
  const index = await loadPointerIndex(deps.store);
  const out: InstanceView[] = [];
  let after = query.after;
  // Without a selector one store page is the answer; with one, keep reading until the page is full.
  for (;;) {
    const batch = await deps.store.listInstances({ ...(after === undefined ? {} : { after }), limit: query.limit + 1 });
    for (const i of batch.slice(0, query.limit)) {
      if (!selector || matchesSelector(selector, i)) out.push(viewOf(i, index));
      if (out.length === query.limit) {
        const more = batch.length > query.limit || i !== batch[batch.length - 1];
        return { items: out, next: more ? i.name : null };
      }
    }
    if (batch.length <= query.limit) return { items: out, next: null };
    after = batch[query.limit - 1]!.name;
  }
}

export const updateInstanceSchema = z
  .object({
    window: windowField.nullable().optional().describe('Maintenance window; null: the environment default.'),
    environment: environmentField.optional(),
    tenant: tenantField.nullable().optional(),
    labels: z
      .record(labelKeyField, labelValueField.nullable())
      .optional()
      .describe('Labels to set; a null value removes the label.'),
    machines: machinesField.optional(),
    machineSelector: machineSelectorField.optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type UpdateInstanceInput = z.output<typeof updateInstanceSchema>;

/** Changes an instance's declared fields other than its target (window, environment, tenant, labels, placement: see `changePlacement`). */
export async function updateInstance(deps: Deps, name: string, input: UpdateInstanceInput, who: Actor): Promise<InstanceView> {
  const { reason, labels: labelPatch, machines, machineSelector, ...fields } = input;
  const before = await mustGetInstance(deps.store, name);
  const change: InstanceSpecChange = { name, ...fields };
  if (machines !== undefined || machineSelector !== undefined) {
    change.placement = placed(changePlacement(before, placementRequest({ machines, machineSelector }), await deps.store.listMachines()));
  }
  if (labelPatch) {
    const labels = { ...before.labels };
    for (const [k, v] of Object.entries(labelPatch)) {
      if (v === null) delete labels[k];
      else labels[k] = v;
    }
    change.labels = labels;
  }
  const pick = (i: InstanceRecord) => ({ window: i.window, environment: i.environment, tenant: i.tenant, labels: i.labels, placement: i.placement });
  const after = { ...pick(before), ...Object.fromEntries(Object.entries(change).filter(([k]) => k !== 'name')) };
  if (canonicalJson(after) !== canonicalJson(pick(before))) {
    const at = deps.clock.now();
    await deps.store.updateInstanceSpecs([change], at, [
      auditEntry(who, 'instance.update', name, {
        at,
        instance: name,
        app: before.app,
        reason: reason ?? null,
        before: pick(before),
        after,
      }),
    ]);
  }
  return viewOf(await mustGetInstance(deps.store, name), await loadPointerIndex(deps.store));
}

/**
 * Places on `machine` every instance no machine holds yet, when it is the only active machine: an
 * install of an earlier version (one agent, no machines) upgraded in place, whose agent has just
 * joined. The instances already run there, so nothing moves; each placement is audited.
 */
export async function placeUnplacedInstances(deps: Deps, machine: string, who: Actor): Promise<string[]> {
  const active = (await deps.store.listMachines()).filter((m) => m.status === 'active');
  if (active.length !== 1 || active[0]!.name !== machine) return [];
  const unplaced = (await deps.store.listInstances()).filter((i) => i.placement === null);
  if (unplaced.length === 0) return [];
  const at = deps.clock.now();
  const placement = { machines: [machine] };
  await deps.store.updateInstanceSpecs(
    unplaced.map((i) => ({ name: i.name, placement })),
    at,
    unplaced.map((i) => auditEntry(who, 'instance.update', i.name, { at, instance: i.name, app: i.app, reason: `placed on machine ${machine}, the only machine, when its agent joined`, before: { placement: null }, after: { placement } })),
  );
  return unplaced.map((i) => i.name);
}
