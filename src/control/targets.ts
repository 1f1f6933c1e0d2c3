import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CutoverError, canonicalJson } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { InstanceRecord, InstanceSpecChange, InstanceTarget, NewAuditEntry, Store } from '../store/index.ts';

import { pointerIndex, resolveTarget, windowSchema } from '../fleet/index.ts';
import type { ResolvedTarget } from '../fleet/index.ts';
import { formatSelector, matchesSelector, parseSelector } from './selector.ts';

import type { Actor } from '../shared/index.ts';
import { auditEntry, mustGetChannel, mustGetInstance, mustGetRelease } from '../store/index.ts';

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

export const setTargetSchema = z.object({ target: targetSchema, reason: z.string().max(500).optional() }).strict();
/** The validated body (the route parses it once, at the API edge). */
export type SetTargetInput = z.output<typeof setTargetSchema>;

export const bulkTargetSchema = z
  .object({
    selector: z.string().max(1000).describe('e.g. "environment=test,tenant=acme"; "*" selects every instance.'),
    target: targetSchema,
    reason: z.string().max(500).optional(),
    dryRun: z.boolean().default(false).describe('Only say what would change.'),
    confirm: z
      .string()
      .optional()
      .describe('The `selection` a dry run returned: refuses (SELECTION_CHANGED) if the instances or their targets changed since.'),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type BulkTargetInput = z.output<typeof bulkTargetSchema>;

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

/** Checks a target can be met: the version is a release of the app, or the channel exists. */
export async function checkTarget(store: Store, app: string, target: InstanceTarget | null): Promise<void> {
  if (target === null) return;
  if ('version' in target) await mustGetRelease(store, app, target.version);
  else await mustGetChannel(store, target.channel);
}

const sameTarget = (a: InstanceTarget | null, b: InstanceTarget | null) => canonicalJson(a) === canonicalJson(b);

function targetEntry(who: Actor, at: number, instance: InstanceRecord, target: InstanceTarget | null, reason: string | undefined, selector?: string): NewAuditEntry {
  return auditEntry(who, 'instance.target', instance.name, {
    at,
    instance: instance.name,
    app: instance.app,
    version: target && 'version' in target ? target.version : null,
    reason: reason ?? null,
    before: { target: instance.target },
    after: { target },
    details: selector === undefined ? {} : { selector },
  });
}

/** Sets what one instance should run. */
export async function setInstanceTarget(deps: Deps, name: string, input: SetTargetInput, who: Actor): Promise<InstanceView> {
  const { target, reason } = input;
  const instance = await mustGetInstance(deps.store, name);
  await checkTarget(deps.store, instance.app, target);
  if (!sameTarget(instance.target, target)) {
    const at = deps.clock.now();
    const { missing } = await deps.store.updateInstanceSpecs([{ name, target }], at, [targetEntry(who, at, instance, target, reason)]);
    if (missing.length) throw new CutoverError('INSTANCE_NOT_FOUND', `instance "${name}" was deleted meanwhile`);
  }
  return viewOf(await mustGetInstance(deps.store, name), await loadPointerIndex(deps.store));
}

export interface TargetChange {
  name: string;
  app: string;
  environment: string;
  tenant: string | null;
  before: InstanceTarget | null;
  after: InstanceTarget | null;
}

export interface BulkTargetResult {
  selector: string;
  /** Instances the selector matched. */
  matched: number;
  /** Those whose target changes (or would). */
  changes: TargetChange[];
  /** Fingerprint of the matched instances and their targets: pass it back as `confirm`. */
  selection: string;
  applied: boolean;
}

/**
 * Retargets every instance a selector matches, in one transaction with one audit entry per
 * instance. A dry run returns the changes and a `selection` fingerprint; applying with that
 * fingerprint as `confirm` refuses if anything matched has changed since (what was shown is what
 * is applied).
 */
export async function bulkSetTarget(deps: Deps, input: BulkTargetInput, who: Actor): Promise<BulkTargetResult> {
  const { selector: text, target, reason, dryRun, confirm } = input;
  const selector = parseSelector(text);
  const matched = (await deps.store.listInstances()).filter((i) => matchesSelector(selector, i));
  const checked = new Set<string>();
  for (const i of matched) {
    if (checked.has(i.app)) continue;
    await checkTarget(deps.store, i.app, target);
    checked.add(i.app);
  }
  const selection = createHash('sha256')
    .update(canonicalJson(matched.map((i) => [i.name, i.target])))
    .digest('hex')
    .slice(0, 16);
  const toChange = matched.filter((i) => !sameTarget(i.target, target));
  const changes = toChange.map((i) => ({ name: i.name, app: i.app, environment: i.environment, tenant: i.tenant, before: i.target, after: target }));
  const result = { selector: formatSelector(selector), matched: matched.length, changes, selection, applied: false };
  if (dryRun) return result;
  if (confirm !== undefined && confirm !== selection) {
    throw new CutoverError('SELECTION_CHANGED', 'the selected instances or their targets changed since the preview; look again and confirm the new list', {
      details: { expected: confirm, now: selection },
    });
  }
  if (changes.length === 0) return { ...result, applied: true };
  const at = deps.clock.now();
  const specChanges: InstanceSpecChange[] = toChange.map((i) => ({ name: i.name, target }));
  const { missing } = await deps.store.updateInstanceSpecs(
    specChanges,
    at,
    toChange.map((i) => targetEntry(who, at, i, target, reason, result.selector)),
  );
  if (missing.length) {
    throw new CutoverError('SELECTION_CHANGED', `instances were deleted meanwhile (${missing.join(', ')}); nothing was changed, try again`);
  }
  return { ...result, applied: true };
}

export const listInstancesQuery = z
  .object({
    selector: z.string().max(1000).optional().describe('e.g. "environment=production,tenant=acme".'),
    after: z.string().optional().describe('Paging: the `next` of the previous page.'),
    limit: z.coerce.number().int().min(1).max(5000).default(500).describe('Page size (default 500, at most 5000).'),
  })
  .strict();

export interface InstancePageView {
  instances: InstanceView[];
  /** Pass as `after` for the next page; null on the last page. */
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
        return { instances: out, next: more ? i.name : null };
      }
    }
    if (batch.length <= query.limit) return { instances: out, next: null };
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
    reason: z.string().max(500).optional(),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type UpdateInstanceInput = z.output<typeof updateInstanceSchema>;

/** Changes an instance's declared fields other than its target (window, environment, tenant, labels). */
export async function updateInstance(deps: Deps, name: string, input: UpdateInstanceInput, who: Actor): Promise<InstanceView> {
  const { reason, labels: labelPatch, ...fields } = input;
  const before = await mustGetInstance(deps.store, name);
  const change: InstanceSpecChange = { name, ...fields };
  if (labelPatch) {
    const labels = { ...before.labels };
    for (const [k, v] of Object.entries(labelPatch)) {
      if (v === null) delete labels[k];
      else labels[k] = v;
    }
    change.labels = labels;
  }
  const pick = (i: InstanceRecord) => ({ window: i.window, environment: i.environment, tenant: i.tenant, labels: i.labels });
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
