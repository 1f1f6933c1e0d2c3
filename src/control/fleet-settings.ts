import { z } from 'zod';
import { CutoverError, isCutoverError, validate } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { HaltRecord, Store } from '../store/index.ts';
import { DEFAULT_FLEET_POLICY, FLEET_POLICY_KEY, fleetPolicySchema, upgradePolicyKeys } from '../fleet/index.ts';
import type { FleetPolicy } from '../fleet/index.ts';
import { resolveApp } from './resolve-app.ts';
import type { Actor } from '../shared/index.ts';
import { auditEntry } from '../store/index.ts';

type Deps = { store: Store; clock: Clock };

/** A policy and the deprecated keys it was read or written with (one sentence each). */
export interface FleetPolicyRead {
  policy: FleetPolicy;
  warnings: string[];
}

/**
 * The fleet policy in force: the stored one, or the defaults. One stored by an earlier version
 * with a key renamed since (`maxParallelPerHost`) is read under the new name, with a warning.
 */
export async function readFleetPolicy(store: Store): Promise<FleetPolicyRead> {
  const stored = await store.getSetting(FLEET_POLICY_KEY);
  if (stored === undefined) return { policy: DEFAULT_FLEET_POLICY, warnings: [] };
  const invalid = (why: string) => new CutoverError('CONFIG_INVALID', `the stored fleet policy is no longer valid: ${why}; set it again with \`cutover fleet policy\``);
  let upgraded = { policy: stored as Record<string, unknown>, warnings: [] as string[] };
  if (isRecord(stored)) {
    try {
      upgraded = upgradePolicyKeys(stored, 'The stored fleet policy');
    } catch (error) {
      if (isCutoverError(error)) throw invalid(error.message);
      throw error;
    }
  }
  const parsed = fleetPolicySchema.safeParse(upgraded.policy);
  // A stored policy is validated when written; if a newer version made it invalid, say so loudly.
  if (!parsed.success) throw invalid(parsed.error.message);
  return { policy: parsed.data, warnings: upgraded.warnings };
}

/** The fleet policy in force (see `readFleetPolicy`), for readers that show no warnings. */
export async function getFleetPolicy(store: Store): Promise<FleetPolicy> {
  return (await readFleetPolicy(store)).policy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const fleetPolicyPatchSchema = z
  .object({
    policy: z.record(z.string(), z.unknown()).describe('Fields of the fleet policy to change; the rest keep their value. `failureBudget` and `retry` merge field by field.'),
    reason: z.string().max(500).optional(),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type FleetPolicyPatchInput = z.output<typeof fleetPolicyPatchSchema>;

/**
 * Changes the fleet policy: merges the given fields into the current one, validates the whole,
 * audits before → after. A deprecated key in the patch is taken under its new name and named in
 * `warnings`; the policy is always stored with the new names.
 */
export async function updateFleetPolicy(deps: Deps, input: FleetPolicyPatchInput, who: Actor): Promise<FleetPolicyRead> {
  const { policy: patch, warnings } = upgradePolicyKeys(input.policy, 'The fleet policy');
  const { reason } = input;
  const before = await getFleetPolicy(deps.store);
  const merged: Record<string, unknown> = { ...before, ...patch };
  for (const nested of ['failureBudget', 'retry'] as const) {
    if (patch[nested] && typeof patch[nested] === 'object') merged[nested] = { ...before[nested], ...(patch[nested] as object) };
  }
  const after = validate(fleetPolicySchema, merged, 'The fleet policy');
  await deps.store.putSetting(FLEET_POLICY_KEY, after, auditEntry(who, 'fleet.policy', 'fleet', {
    at: deps.clock.now(),
    reason: reason ?? null,
    before,
    after,
  }));
  return { policy: after, warnings };
}

export const resumeSchema = z
  .object({
    version: z.string().min(1),
    app: z.string().min(1).optional(),
    reason: z.string().trim().min(1, 'is required: say why the rollout may go on').max(500),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type ResumeInput = z.output<typeof resumeSchema>;

/** Lifts the halt of a version's rollout; its failure count starts again from zero. */
export async function resumeRollout(deps: Deps, input: ResumeInput, who: Actor): Promise<HaltRecord> {
  const { version, app: appArg, reason } = input;
  const app = await resolveApp(deps.store, appArg, version);
  const at = deps.clock.now();
  const lifted = await deps.store.liftHalt(app, version, { by: who.actor, at, reason }, auditEntry(who, 'fleet.resume', `${app}@${version}`, {
    at,
    app,
    version,
    reason,
    before: { halted: true },
    after: { halted: false },
  }));
  if (!lifted) throw new CutoverError('HALT_NOT_FOUND', `the rollout of ${app} ${version} is not halted`, { details: { app, version } });
  return lifted;
}
