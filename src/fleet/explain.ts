// "Why is this instance not on its target?": one sentence per planner decision, for `cutover why`
// and `cutover plan`. Times are shown in the instance's zone and in UTC.
import { LOCAL_MACHINE } from './plan-types.ts';
import type { InstancePlan } from './plan-types.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Longest error text quoted in a sentence; the rest is in the deployment's record. */
const MAX_ERROR_CHARS = 160;

/** What `explain` may add when the caller knows it (the decision itself does not carry it). */
export interface ExplainOptions {
  /** The policy's `retry.maxAttempts`, to say "retry 2 of 3". */
  maxAttempts?: number;
}

/**
 * One sentence saying where an instance stands and why, e.g.
 * `acme-live waits for its maintenance window: the next one opens in 5 h 12 min, at 01:00
 * Europe/London (2026-11-23 01:00 UTC), to upgrade 1.4.3 → 1.5.0.` Instants within a day of `now`
 * show the local time only; others show the local date too.
 */
export function explain(entry: InstancePlan, now: number, options: ExplainOptions = {}): string {
  const name = entry.instance;
  const zone = entry.zone;
  const d = entry.decision;
  const move = (to: string): string => (entry.currentVersion === null ? `deploy ${to}` : `upgrade ${entry.currentVersion} → ${to}`);
  switch (d.kind) {
    case 'on-target': {
      const how = entry.target.kind === 'channel' ? `channel ${entry.target.channel}` : 'pinned version';
      return `${name} is on its target ${d.version} (${how}).`;
    }
    case 'no-target':
      return `${name} has no target; set one with \`cutover instance target ${name} --version VERSION\` or \`--channel CHANNEL\`.`;
    case 'unresolved':
      return `${name} has nothing to run: channel ${d.channel} points at no release of ${entry.app} yet; promote one with \`cutover channel promote VERSION ${d.channel}\`.`;
    case 'held': {
      const until = d.hold.until === null ? 'until released' : `until ${instant(d.hold.until, now, zone, true)}`;
      return `${name} is held by ${d.hold.owner} ${until}: ${JSON.stringify(d.hold.reason)}.`;
    }
    case 'deploying': {
      const target = entry.target.kind === 'none' ? null : entry.target.version;
      const then = target !== null && target !== d.version ? `; its target ${target} comes after` : '';
      return `${name} is deploying ${d.version} now${then}.`;
    }
    case 'halted': {
      const stays = entry.currentVersion === null ? `${name} stays undeployed` : `${name} stays on ${entry.currentVersion}`;
      const resume = `an admin resumes it with \`cutover fleet resume ${d.version} --reason …\``;
      const counted = `${d.failures} of ${d.attempted} upgrade${d.attempted === 1 ? '' : 's'} failed`;
      if (d.halt === null) return `${stays}: the rollout of ${d.version} halts now, its failure budget ran out (${counted}); ${resume}.`;
      const problem = d.halt.problemId === null ? '' : `; problem #${d.halt.problemId}`;
      const by = d.halt.haltedBy === 'scheduler' ? `by the failure budget (${counted}${problem})` : `by ${d.halt.haltedBy} (${JSON.stringify(d.halt.reason)}${problem})`;
      return `${stays}: the rollout of ${d.version} is halted ${by}; ${resume}.`;
    }
    case 'gave-up': {
      const failed = failedClause(d.version, d.attempts, d.lastFailedAt, d.lastError, now, zone);
      return `${name} ${failed}; the scheduler gave up after ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}: deploy it by hand, or change its target.`;
    }
    case 'retry-wait': {
      const failed = failedClause(d.version, d.attempts, d.lastFailedAt, d.lastError, now, zone);
      const of = options.maxAttempts === undefined ? '' : ` of ${options.maxAttempts}`;
      return `${name} ${failed}; retry ${d.attempts + 1}${of} at ${instant(d.retryAt, now, zone)}.`;
    }
    case 'waiting-wave':
      return `${name} waits for the ${d.environment} wave: ${d.have} of ${d.need} ${d.environment} instances run ${d.version} yet.`;
    case 'waiting-window': {
      if (d.opensAt === null) {
        const why = entry.window === 'never' ? 'its maintenance window is "never"' : `its maintenance window "${entry.window}" does not open in the next 16 days`;
        return `${name} will not ${move(d.version)}: ${why}.`;
      }
      return `${name} waits for its maintenance window: the next one opens in ${humanDuration(d.opensAt - now)}, at ${instant(d.opensAt, now, zone)}, to ${move(d.version)}.`;
    }
    case 'capacity': {
      // `(local)` is no machine's name: the budget of instances that name none (no agent joined yet).
      const where = d.limit === 'machine' && d.machine === LOCAL_MACHINE ? 'the machine of the instances without a placement (local)' : `machine ${d.machine}`;
      const full = d.limit === 'fleet' ? 'the fleet-wide limit of parallel upgrades is reached' : `${where} already runs its limit of parallel upgrades`;
      return `${name} is due to ${move(d.version)} but waits for capacity: ${full}; it starts at a later tick.`;
    }
    case 'upgrade': {
      const what = d.from === null ? `deploying ${d.to}` : d.from === d.to ? `deploying ${d.to} again with its pending app config` : `upgrading ${d.from} → ${d.to}`;
      return `${name} is due: ${what} now (wave ${entry.wave + 1}, ${entry.environment}).`;
    }
  }
}

function failedClause(version: string, attempts: number, at: number, error: string | null, now: number, zone: string): string {
  const times = attempts === 1 ? '' : ` ${attempts} times, last`;
  const why = error === null ? '' : ` (${shortError(error)})`;
  return `failed to upgrade to ${version}${times} at ${instant(at, now, zone, false, false)}${why}`;
}

function shortError(error: string): string {
  const flat = error.replace(/\s+/g, ' ').trim();
  return flat.length <= MAX_ERROR_CHARS ? flat : `${flat.slice(0, MAX_ERROR_CHARS - 1)}…`;
}

/**
 * Durations as people say them: `less than a minute`, `12 min`, `5 h 12 min`, `1 day 5 h`, `3 days`,
 * `9 days` (hours dropped from a week on).
 * Rounded up to the minute, so "in 5 h 12 min" is never later than the printed time.
 */
export function humanDuration(ms: number): string {
  const minutes = Math.ceil(Math.max(0, ms) / MINUTE);
  if (minutes < 1) return 'less than a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (minutes < DAY / MINUTE) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(minutes / (DAY / MINUTE));
  // Hours still matter within the week; past it, whole days are enough.
  if (days >= 7) return `${Math.round(minutes / (DAY / MINUTE))} days`;
  const rest = Math.floor((minutes % (DAY / MINUTE)) / 60);
  const unit = days === 1 ? 'day' : 'days';
  return rest === 0 ? `${days} ${unit}` : `${days} ${unit} ${rest} h`;
}

/**
 * An instant as `01:00 Europe/London (2026-11-23 01:00 UTC)`; the local date is added when the
 * instant is a day or more from `now` (or always, with `withDate`). In UTC: `2026-11-23 01:00 UTC`.
 */
function instant(ms: number, now: number, zone: string, withDate = false, withUtc = true): string {
  const utc = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  if (zone === 'UTC') return withUtc || withDate || Math.abs(ms - now) >= DAY ? utc : `${utc.slice(11)}`;
  const local = localTime(ms, zone);
  if (local === null) return utc;
  const shown = withDate || Math.abs(ms - now) >= DAY ? `${local.date} ${local.time}` : local.time;
  return withUtc ? `${shown} ${zone} (${utc})` : `${shown} ${zone}`;
}

/** An instant as `2026-11-24 01:00 Europe/London` (its date and time in the zone), for plan listings. */
export function localDateTime(ms: number, zone: string): string {
  return instant(ms, ms, zone, true, false);
}

// One formatter per zone: building an Intl.DateTimeFormat costs far more than using it. Bounded by
// the number of IANA zones.
const formatters = new Map<string, Intl.DateTimeFormat | null>();

function localTime(ms: number, zone: string): { date: string; time: string } | null {
  let format = formatters.get(zone);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat('en-GB', {
        timeZone: zone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      format = null;
    }
    formatters.set(zone, format);
  }
  if (format === null) return null;
  const parts: Record<string, string> = {};
  for (const p of format.formatToParts(ms)) parts[p.type] = p.value;
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}
