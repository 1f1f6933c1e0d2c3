import semver from 'semver';
import { DAY_MS } from '../shared/index.ts';
import type { ChannelMove, ChannelPolicy, ChannelRecord, ProblemRecord } from '../store/index.ts';

/** What `evaluatePromotion` looks at. Pure data: the caller reads the store and the clock. */
export interface PromotionInput {
  app: string;
  version: string;
  /** The channel the version would move to; its `policy` is what gets checked. */
  channel: ChannelRecord;
  /** This app's channel moves, every channel, oldest first (moves of other apps are ignored). */
  moves: readonly ChannelMove[];
  /** Open problems of this version (others, and resolved ones, are ignored). */
  openProblems: readonly ProblemRecord[];
  now: number;
  /** Computed from `version` with semver when left out. */
  isPrerelease?: boolean;
}

/** Details of a soak failure, for the API and the console. */
export interface SoakDetails {
  channel: string;
  requiredDays: number;
  requiredMs: number;
  /** Total time spent on the soak channel, summed over every stay there. */
  soakedMs: number;
  /** Whether the soak channel points at the version now (only then does time alone fix it). */
  onChannelNow: boolean;
  /** Whether the version was ever on the soak channel. */
  everOnChannel: boolean;
  eligibleAt?: number;
}

export type PromotionFailure =
  | { code: 'POLICY_SOAK_NOT_MET'; message: string; details: SoakDetails }
  | { code: 'POLICY_OPEN_PROBLEMS'; message: string; details: { problems: Array<{ id: number; title: string }> } }
  | { code: 'POLICY_PRERELEASE'; message: string; details: { version: string; channel: string } };

/** The outcome of a promotion check: every failing rule is listed, not just the first. */
export interface PromotionVerdict {
  allowed: boolean;
  failures: PromotionFailure[];
  /**
   * When the soak rule fails and the version is on the soak channel now: the moment the soak
   * is met if nothing moves. Other failing rules may still refuse the promotion then.
   */
  eligibleAt?: number;
}

/** A built-in channel before it is stored. */
export interface ChannelDefinition {
  name: string;
  description: string;
  policy: ChannelPolicy;
}

const OPEN: ChannelPolicy = { soak: null, blockOnOpenProblems: false, allowPrerelease: true };

/** The channels every server has: seeded at start, shared by all apps. */
export const DEFAULT_CHANNELS: readonly ChannelDefinition[] = Object.freeze([
  { name: 'alpha', description: 'Newest builds, for internal testing; anything may change.', policy: { ...OPEN } },
  { name: 'beta', description: 'Builds for early adopters and test sites.', policy: { ...OPEN } },
  { name: 'release', description: 'Release candidates that passed testing; they soak here before stable.', policy: { ...OPEN } },
  {
    name: 'stable',
    description: 'Releases that spent 14 days on release with no open problems.',
    policy: { soak: { channel: 'release', days: 14 }, blockOnOpenProblems: true, allowPrerelease: false },
  },
]);

/** The built-in channels as records, ready to be stored (fresh objects on every call). */
export function defaultChannels(now: number, by: string): ChannelRecord[] {
  return DEFAULT_CHANNELS.map((c) => ({
    name: c.name,
    description: c.description,
    policy: { ...c.policy, soak: c.policy.soak ? { ...c.policy.soak } : null },
    builtIn: true,
    createdAt: now,
    createdBy: by,
    updatedAt: now,
  }));
}

/** How long `version` has been on `channel`, from the app's move history. */
export interface SoakTime {
  soakedMs: number;
  onChannelNow: boolean;
  everOnChannel: boolean;
}

/**
 * Sums the intervals during which `channel` pointed at `version`: each starts at a move to the
 * version and ends at the channel's next move elsewhere, or at `now` while it still points there.
 * Time after `now` never counts, so a clock that went backwards cannot inflate the soak.
 */
export function soakTime(moves: readonly ChannelMove[], app: string, channel: string, version: string, now: number): SoakTime {
  let soakedMs = 0;
  let since: number | null = null;
  let everOnChannel = false;
  for (const m of moves) {
    if (m.app !== app || m.channel !== channel) continue;
    if (m.toVersion === version) {
      everOnChannel = true;
      // A re-promotion of the version already there does not restart its stay.
      if (since === null) since = m.at;
    } else if (since !== null) {
      soakedMs += Math.max(0, Math.min(m.at, now) - since);
      since = null;
    }
  }
  const onChannelNow = since !== null;
  if (since !== null) soakedMs += Math.max(0, now - since);
  return { soakedMs, onChannelNow, everOnChannel };
}

/**
 * Decides whether `version` may move to `channel` under the channel's policy. A refusal is a
 * returned value, not a throw: the caller shows the failures (or an admin forces the move).
 *
 * A soak of 0 days still requires the version to have been on the soak channel at some point.
 */
export function evaluatePromotion(input: PromotionInput): PromotionVerdict {
  const { app, version, channel } = input;
  const policy = channel.policy;
  const failures: PromotionFailure[] = [];
  let eligibleAt: number | undefined;

  if (policy.soak) {
    const soak = soakFailure(input, policy.soak);
    if (soak) {
      failures.push(soak);
      eligibleAt = soak.details.eligibleAt;
    }
  }

  if (policy.blockOnOpenProblems) {
    const problems = input.openProblems
      .filter((p) => p.status === 'open' && p.app === app && p.version === version)
      .sort((a, b) => a.id - b.id)
      .map((p) => ({ id: p.id, title: p.title }));
    if (problems.length > 0) {
      const list = problems.map((p) => `#${p.id} ${JSON.stringify(p.title)}`).join(', ');
      failures.push({ code: 'POLICY_OPEN_PROBLEMS', message: `POLICY_OPEN_PROBLEMS: ${list}`, details: { problems } });
    }
  }

  if (!policy.allowPrerelease) {
    const isPrerelease = input.isPrerelease ?? semver.prerelease(version) !== null;
    if (isPrerelease) {
      failures.push({
        code: 'POLICY_PRERELEASE',
        message: `POLICY_PRERELEASE: ${version} is a pre-release; ${channel.name} takes only releases`,
        details: { version, channel: channel.name },
      });
    }
  }

  const verdict: PromotionVerdict = { allowed: failures.length === 0, failures };
  if (eligibleAt !== undefined) verdict.eligibleAt = eligibleAt;
  return verdict;
}

function soakFailure(input: PromotionInput, soak: { channel: string; days: number }): Extract<PromotionFailure, { code: 'POLICY_SOAK_NOT_MET' }> | undefined {
  const { now } = input;
  const requiredMs = soak.days * DAY_MS;
  const t = soakTime(input.moves, input.app, soak.channel, input.version, now);
  if (t.everOnChannel && t.soakedMs >= requiredMs) return undefined;

  const details: SoakDetails = { channel: soak.channel, requiredDays: soak.days, requiredMs, soakedMs: t.soakedMs, onChannelNow: t.onChannelNow, everOnChannel: t.everOnChannel };
  let text: string;
  if (!t.everOnChannel) {
    text = soak.days > 0 ? `never on ${soak.channel} (needs ${soak.days} days)` : `never on ${soak.channel} (it must be on ${soak.channel} first)`;
  } else {
    const done = `${Math.floor(t.soakedMs / DAY_MS)} days of ${soak.days} on ${soak.channel}`;
    if (t.onChannelNow) {
      details.eligibleAt = now + (requiredMs - t.soakedMs);
      text = `${done}; eligible ${formatMinuteUtc(details.eligibleAt)}`;
    } else {
      text = `${done}, and it is no longer on ${soak.channel}`;
    }
  }
  return { code: 'POLICY_SOAK_NOT_MET', message: `POLICY_SOAK_NOT_MET: ${text}`, details };
}

/**
 * `YYYY-MM-DDTHH:MMZ` in UTC, rounded up to the minute: a promotion tried at the printed time
 * must not be refused for the seconds the format drops.
 */
export function formatMinuteUtc(ms: number): string {
  const minute = 60_000;
  const iso = new Date(Math.ceil(ms / minute) * minute).toISOString();
  return `${iso.slice(0, 16)}Z`;
}
