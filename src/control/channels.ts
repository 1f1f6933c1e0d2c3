import { z } from 'zod';
import semver from 'semver';
import { CutoverError } from '../shared/index.ts';
import type { Clock } from '../shared/index.ts';
import type { ChannelMove, ChannelPointer, ChannelPolicy, ChannelRecord, Store } from '../store/index.ts';
import { defaultChannels, evaluatePromotion } from './promotion-policy.ts';
import type { PromotionVerdict } from './promotion-policy.ts';
import { resolveApp } from './resolve-app.ts';
import type { Actor } from '../shared/index.ts';
import { auditEntry, mustGetChannel, mustGetRelease } from '../store/index.ts';

type Deps = { store: Store; clock: Clock };

export const CHANNEL_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const channelName = z.string().regex(CHANNEL_NAME, 'must be a lowercase word like "beta" or "early-access" (letters, digits, "-")');

const policyPatchSchema = z
  .object({
    soak: z
      .object({ channel: channelName, days: z.number().min(0, 'must not be negative').max(3650, 'must be at most 3650') })
      .strict()
      .nullable()
      .optional()
      .describe('The release must have spent `days` on `channel` first; null removes the rule.'),
    blockOnOpenProblems: z.boolean().optional().describe('Refuse releases with an open problem.'),
    allowPrerelease: z.boolean().optional().describe('Accept pre-release versions like 1.2.0-beta.1.'),
    autoPromote: z.boolean().optional().describe('The fleet scheduler promotes the version on the soak channel as soon as the policy passes (needs soak).'),
  })
  .strict();

export const createChannelSchema = z
  .object({
    name: channelName,
    description: z.string().max(500).default(''),
    policy: policyPatchSchema.default({}),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type CreateChannelInput = z.output<typeof createChannelSchema>;

export const updateChannelSchema = z
  .object({
    description: z.string().max(500).optional(),
    policy: policyPatchSchema.optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type UpdateChannelInput = z.output<typeof updateChannelSchema>;

export const promoteSchema = z
  .object({
    version: z.string().min(1, 'is required'),
    app: z.string().min(1).optional().describe('Needed only when several apps exist.'),
    reason: z.string().max(500).optional(),
    force: z.boolean().default(false).describe('Admin only, with a reason: promote although the policy refuses.'),
  })
  .strict();
/** The validated body (the route parses it once, at the API edge). */
export type PromoteInput = z.output<typeof promoteSchema>;

/** Creates the built-in channels (alpha, beta, release, stable) that do not exist yet. */
export async function ensureBuiltInChannels(deps: Deps): Promise<void> {
  for (const channel of defaultChannels(deps.clock.now(), 'system')) await deps.store.insertChannel(channel);
}

async function checkPolicyChannels(store: Store, policy: ChannelPolicy, self: string): Promise<void> {
  if (policy.autoPromote && !policy.soak) {
    throw new CutoverError('VALIDATION_FAILED', `automatic promotion to "${self}" needs a soak rule: it promotes what has soaked long enough on the soak channel`);
  }
  if (!policy.soak) return;
  if (policy.soak.channel === self) {
    throw new CutoverError('VALIDATION_FAILED', `a channel cannot require soaking on itself; name the channel before "${self}"`);
  }
  await mustGetChannel(store, policy.soak.channel);
}

export async function createChannel(deps: Deps, input: CreateChannelInput, who: Actor): Promise<ChannelRecord> {
  const { name, description, policy } = input;
  const now = deps.clock.now();
  const channel: ChannelRecord = {
    name,
    description,
    policy: {
      soak: policy.soak ?? null,
      blockOnOpenProblems: policy.blockOnOpenProblems ?? false,
      allowPrerelease: policy.allowPrerelease ?? true,
      autoPromote: policy.autoPromote ?? false,
    },
    builtIn: false,
    createdAt: now,
    createdBy: who.actor,
    updatedAt: now,
  };
  await checkPolicyChannels(deps.store, channel.policy, name);
  if (!(await deps.store.insertChannel(channel))) {
    throw new CutoverError('CHANNEL_EXISTS', `a channel named "${name}" already exists`, { details: { channel: name } });
  }
  await deps.store.appendAudit(auditEntry(who, 'channel.create', name, {
    at: now,
    after: { description, policy: channel.policy },
  }));
  return channel;
}

export async function updateChannel(deps: Deps, name: string, input: UpdateChannelInput, who: Actor): Promise<ChannelRecord> {
  const patch = input;
  const before = await mustGetChannel(deps.store, name);
  const after: ChannelRecord = {
    ...before,
    description: patch.description ?? before.description,
    policy: {
      soak: patch.policy?.soak === undefined ? before.policy.soak : patch.policy.soak,
      blockOnOpenProblems: patch.policy?.blockOnOpenProblems ?? before.policy.blockOnOpenProblems,
      allowPrerelease: patch.policy?.allowPrerelease ?? before.policy.allowPrerelease,
      autoPromote: patch.policy?.autoPromote ?? before.policy.autoPromote ?? false,
    },
    updatedAt: deps.clock.now(),
  };
  await checkPolicyChannels(deps.store, after.policy, name);
  await deps.store.updateChannel(after);
  await deps.store.appendAudit(auditEntry(who, 'channel.update', name, {
    at: after.updatedAt,
    reason: patch.reason ?? null,
    before: { description: before.description, policy: before.policy },
    after: { description: after.description, policy: after.policy },
  }));
  return after;
}

export interface ChannelView extends ChannelRecord {
  /** Where it points, per app. */
  pointers: ChannelPointer[];
}

export async function listChannelViews(deps: Deps, app?: string): Promise<ChannelView[]> {
  const [channels, pointers] = await Promise.all([deps.store.listChannels(), deps.store.listChannelPointers(app ? { app } : {})]);
  return channels.map((c) => ({ ...c, pointers: pointers.filter((p) => p.channel === c.name) }));
}

export async function showChannel(deps: Deps, name: string, app?: string): Promise<ChannelView & { history: ChannelMove[] }> {
  const channel = await mustGetChannel(deps.store, name);
  const filter = { channel: name, ...(app ? { app } : {}) };
  const [pointers, history] = await Promise.all([deps.store.listChannelPointers(filter), deps.store.listChannelMoves(filter)]);
  return { ...channel, pointers, history };
}

export interface PromotionCheck {
  app: string;
  version: string;
  channel: string;
  /** Where the channel points now for the app. */
  current: string | null;
  verdict: PromotionVerdict;
}

/** Evaluates the channel's policy for a release, changing nothing. */
export async function checkPromotion(deps: Deps, input: { app?: string | undefined; version: string; channel: string }): Promise<PromotionCheck> {
  const app = await resolveApp(deps.store, input.app, input.version);
  await mustGetRelease(deps.store, app, input.version);
  const channel = await mustGetChannel(deps.store, input.channel);
  const [moves, problems, pointers] = await Promise.all([
    deps.store.listChannelMoves({ app }),
    deps.store.listProblems({ app, version: input.version, status: 'open' }),
    deps.store.listChannelPointers({ app, channel: channel.name }),
  ]);
  const verdict = evaluatePromotion({
    app,
    version: input.version,
    channel,
    moves,
    openProblems: problems,
    now: deps.clock.now(),
    isPrerelease: semver.prerelease(input.version) !== null,
  });
  return { app, version: input.version, channel: channel.name, current: pointers[0]?.version ?? null, verdict };
}

export interface PromotionResult extends PromotionCheck {
  /** False when the channel already pointed at the version (nothing changed, nothing audited). */
  changed: boolean;
  forced: boolean;
  move: ChannelMove | null;
}

/**
 * Points a channel at a release for its app, if the channel's policy allows it. A refusal is
 * thrown with the first failed rule's code and every failed rule in the message and details.
 * An admin may override with `force` and a reason; the override is audited with what it overrode.
 */
export async function promote(deps: Deps, input: PromoteInput, channelName: string, who: Actor): Promise<PromotionResult> {
  const { version, app: appArg, reason, force } = input;
  const check = await checkPromotion(deps, { app: appArg, version, channel: channelName });
  const { app, current, verdict } = check;
  if (current === version) return { ...check, changed: false, forced: false, move: null };
  const failures = verdict.failures;
  if (failures.length > 0) {
    if (!force) {
      // Error details are on the wire as they are: their time is ISO 8601, like every answer's.
      const iso = (ms: number) => new Date(ms).toISOString();
      const wireFailures = failures.map((f) => (f.code === 'POLICY_SOAK_NOT_MET' && f.details.eligibleAt !== undefined ? { ...f, details: { ...f.details, eligibleAt: iso(f.details.eligibleAt) } } : f));
      throw new CutoverError(failures[0]!.code, failures.map((f) => f.message).join('; '), {
        details: { app, version, channel: channelName, failures: wireFailures, ...(verdict.eligibleAt === undefined ? {} : { eligibleAt: iso(verdict.eligibleAt) }) },
      });
    }
    if (who.role !== 'admin') {
      throw new CutoverError('FORBIDDEN', `overriding the "${channelName}" policy needs an admin token; "${who.actor}" is ${who.role}`);
    }
    if (!reason?.trim()) throw new CutoverError('VALIDATION_FAILED', '--force needs --reason: say why the policy is overridden');
  }
  const forced = failures.length > 0;
  const at = deps.clock.now();
  const result = await deps.store.moveChannel(
    { app, channel: channelName, fromVersion: current, toVersion: version, at, actor: who.actor, reason: reason ?? null, forced },
    auditEntry(who, forced ? 'channel.promote.forced' : 'channel.promote', channelName, {
      at,
      app,
      version,
      reason: reason ?? null,
      before: { version: current },
      after: { version },
      details: forced ? { overridden: failures.map((f) => ({ code: f.code, message: f.message })) } : {},
    }),
  );
  if (!result.ok) {
    throw new CutoverError('CHANNEL_MOVED', `"${channelName}" of ${app} moved to ${result.current ?? 'nothing'} meanwhile; check and try again`, {
      details: { app, channel: channelName, current: result.current },
    });
  }
  return { ...check, changed: true, forced, move: result.move };
}
