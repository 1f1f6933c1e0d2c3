// Setting what instances should run: one instance, or every instance a selector matches.
// The instances themselves (fields, create, list, update) are `instances.ts`.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CutoverError, canonicalJson } from '../shared/index.ts';
import type { Actor, Clock } from '../shared/index.ts';
import type { InstanceRecord, InstanceSpecChange, InstanceTarget, NewAuditEntry, Store } from '../store/index.ts';
import { auditEntry, mustGetInstance } from '../store/index.ts';
import { formatSelector, matchesSelector, parseSelector } from './selector.ts';
import { assertTargetExists, loadPointerIndex, targetSchema, viewOf } from './instances.ts';
import type { InstanceView } from './instances.ts';

type Deps = { store: Store; clock: Clock };

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
  await assertTargetExists(deps.store, instance.app, target);
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
    await assertTargetExists(deps.store, i.app, target);
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
