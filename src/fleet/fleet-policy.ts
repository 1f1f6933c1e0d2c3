import { z } from 'zod';
import { invalidInput } from '../shared/index.ts';
import { parseWindow } from './maintenance-window.ts';

/** A maintenance-window text, checked by `parseWindow`; its error message is the issue. */
export const windowSchema = z
  .string()
  .max(500)
  .superRefine((text, ctx) => {
    try {
      parseWindow(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

const environment = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be an environment name like "test" or "production"');

/**
 * How the fleet scheduler rolls versions out: waves, default windows, parallelism, the failure
 * budget and retries. One per installation, stored as the `fleet.policy` setting; every field has
 * a default, so `{}` is a valid policy.
 */
export const fleetPolicySchema = z
  .object({
    enabled: z.boolean().default(true).describe('Whether the scheduler upgrades anything at all.'),
    waves: z
      .array(
        z
          .object({
            environment,
            minSuccesses: z.int().min(0).max(1_000_000).default(1).describe('Instances of this wave that must run the version before the next wave starts (capped at how many target it).'),
            minShare: z.number().min(0).max(1).default(0).describe('Share (0–1) of this wave’s instances targeting the version that must run it first.'),
          })
          .strict(),
      )
      .default([
        { environment: 'test', minSuccesses: 1, minShare: 0 },
        { environment: 'staging', minSuccesses: 1, minShare: 0 },
        { environment: 'production', minSuccesses: 1, minShare: 0 },
      ])
      .describe('Environments in rollout order. Environments not listed form one last wave.'),
    windows: z.record(environment, windowSchema).default({}).describe('Default maintenance window per environment.'),
    defaultWindow: windowSchema.default('anytime').describe('Window of instances whose environment has no default and that set none.'),
    maxParallel: z.int().min(1).max(10_000).default(10).describe('Upgrades running at once, fleet-wide.'),
    maxParallelPerMachine: z
      .int()
      .min(1)
      .max(1000)
      .default(2)
      .describe('Upgrades running at once per machine: an upgrade runs on every machine of its instance, and starts only if each of them has room. Instances without machines share one budget, `(local)`. Was `maxParallelPerHost` (still accepted, with a warning).'),
    failureBudget: z
      .object({
        maxFailures: z.int().min(0).default(2).describe('Halt a version when more instances than this failed to upgrade to it.'),
        maxShare: z.number().min(0).max(1).default(0.25).describe('…or when more than this share of the attempted ones failed (once at least `minAttempts` tried).'),
        minAttempts: z.int().min(1).default(4),
      })
      .strict()
      .prefault({}),
    retry: z
      .object({
        maxAttempts: z.int().min(1).max(100).default(3).describe('Attempts per instance and version before the scheduler gives up on it.'),
        backoffMs: z.int().min(0).default(10 * 60_000).describe('Wait after the first failure; doubled after each further one.'),
        maxBackoffMs: z.int().min(0).default(6 * 3_600_000),
      })
      .strict()
      .prefault({}),
    applyAppConfig: z
      .boolean()
      .default(false)
      .describe(
        "Deploy pending app config in each instance's window: an instance on its target release whose app config changed since its live slot started is upgraded to the same release with the new config (blue-green), through the same gates as an upgrade (holds, halts, windows, parallelism, retries; a failure counts against the release it runs). Off: config waits for `cutover deploy <instance> --app-config-only`.",
      ),
    lookbackMs: z.int().min(60_000).default(30 * 86_400_000).describe('How far back deployment history counts for waves, budgets and retries.'),
  })
  .strict();

export type FleetPolicy = z.output<typeof fleetPolicySchema>;

/** The policy with every default: what the scheduler uses until an admin sets one. */
export const DEFAULT_FLEET_POLICY: FleetPolicy = fleetPolicySchema.parse({});

/** The setting key the policy is stored under. */
export const FLEET_POLICY_KEY = 'fleet.policy';

/** Keys renamed since a policy could first be stored: old name → new name. */
const RENAMED_KEYS = { maxParallelPerHost: 'maxParallelPerMachine' } as const;

/** A policy (or a patch of one) with its renamed keys under their new names, and a warning per old key met. */
export interface UpgradedPolicy {
  policy: Record<string, unknown>;
  warnings: string[];
}

/**
 * Moves deprecated keys to their new names, so a policy stored by an earlier version, or sent by
 * an older client, keeps working; the caller shows the warnings (the CLI on stderr, the API in its
 * answer, the server in its log). Pure; the input is not changed. Both names with different values
 * are refused, naming both: there is no telling which one was meant.
 */
export function upgradePolicyKeys(input: Readonly<Record<string, unknown>>, what = 'The fleet policy'): UpgradedPolicy {
  const policy: Record<string, unknown> = { ...input };
  const warnings: string[] = [];
  for (const [old, now] of Object.entries(RENAMED_KEYS)) {
    if (!Object.hasOwn(policy, old)) continue;
    const value = policy[old];
    delete policy[old];
    if (Object.hasOwn(policy, now) && policy[now] !== value) {
      const message = `\`${old}\` (${JSON.stringify(value)}) and \`${now}\` (${JSON.stringify(policy[now])}) disagree; \`${old}\` is the old name of \`${now}\`: give only \`${now}\``;
      throw invalidInput('VALIDATION_FAILED', what, [
        { path: old, message },
        { path: now, message },
      ]);
    }
    policy[now] = value;
    warnings.push(`\`${old}\` is deprecated: it is now \`${now}\` (the limit counts upgrades per machine); use \`${now}\``);
  }
  return { policy, warnings };
}
