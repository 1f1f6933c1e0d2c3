// What a prober's samples say about a flip across machines, as pure functions over plain data:
// when each machine first answered with the new version, the window its flip must lie in, what
// failed where, and the skew between the first and the last machine.

/** One probe of one router. Times are epoch ms with a µs grain, comparable across processes. */
export interface ProbeSample {
  sentAt: number;
  answeredAt: number;
  /** HTTP status; 0 when no answer came (refused, reset, timed out). */
  status: number;
  /** `x-app-version` of a 200; else the error's message or ''. */
  version: string;
}

/** What one prober saw of one machine's router. */
export interface MachineProbes {
  machine: string;
  samples: ProbeSample[];
  /** Ticks at which the router still had `maxInFlight` probes unanswered, so none was sent. */
  skipped: number;
}

/** One machine's flip as its prober saw it. */
export interface MachineFlip {
  machine: string;
  /** When the first answer with the new version arrived (the flip happened before it); null: none did. */
  firstNewAt: number | null;
  /** When the last request answered by another version was sent (the flip happened after it). */
  lastOldSentAt: number | null;
  /** Answers by another version to requests sent after the first new answer arrived (a flip back). */
  oldAfterNew: number;
  /** The version of the last answer (by send time), '' when none was a 200. */
  lastVersion: string;
  ok: number;
  failed: ProbeSample[];
}

export interface FlipReport {
  machines: MachineFlip[];
  /** firstNewAt of the last machine minus that of the first, ms; null when a machine never answered new. */
  skewMs: number | null;
  /** Machines that never answered with the new version. */
  missing: string[];
}

const isOk = (s: ProbeSample) => s.status === 200;
// Reduce, not Math.min(...xs): a run at 1 kHz has more samples than a call's argument limit.
const least = (xs: number[]) => xs.reduce((a, b) => (b < a ? b : a), Number.POSITIVE_INFINITY);
const most = (xs: number[]) => xs.reduce((a, b) => (b > a ? b : a), Number.NEGATIVE_INFINITY);

/** One machine's flip to `version`, read from its samples. */
export function machineFlip(probes: MachineProbes, version: string): MachineFlip {
  const bySend = [...probes.samples].sort((a, b) => a.sentAt - b.sentAt);
  const news = bySend.filter((s) => isOk(s) && s.version === version);
  const firstNewAt = news.length ? least(news.map((s) => s.answeredAt)) : null;
  const olds = bySend.filter((s) => isOk(s) && s.version !== version);
  const before = firstNewAt === null ? olds : olds.filter((s) => s.sentAt < firstNewAt);
  const oks = bySend.filter(isOk);
  return {
    machine: probes.machine,
    firstNewAt,
    lastOldSentAt: before.length ? before[before.length - 1]!.sentAt : null,
    oldAfterNew: firstNewAt === null ? 0 : olds.filter((s) => s.sentAt > firstNewAt).length,
    lastVersion: oks.length ? oks[oks.length - 1]!.version : '',
    ok: oks.length,
    failed: bySend.filter((s) => !isOk(s)),
  };
}

/** Every machine's flip to `version`, and the skew: first new answer on the last machine minus on the first. */
export function flipReport(all: MachineProbes[], version: string): FlipReport {
  const machines = all.map((p) => machineFlip(p, version));
  const missing = machines.filter((m) => m.firstNewAt === null).map((m) => m.machine);
  const firsts = machines.map((m) => m.firstNewAt).filter((t): t is number => t !== null);
  const skewMs = missing.length || !firsts.length ? null : most(firsts) - least(firsts);
  return { machines, skewMs, missing };
}

/**
 * The versions the machines answered with last, among requests sent at or after `since` (epoch ms):
 * machine → version ('' when none of them was a 200). Once a deployment has settled, reachable
 * machines of one instance must all name the same one.
 */
export function versionsSince(all: MachineProbes[], since: number): Record<string, string> {
  return Object.fromEntries(
    all.map((p) => {
      const oks = p.samples.filter((s) => isOk(s) && s.sentAt >= since).sort((a, b) => a.sentAt - b.sentAt);
      return [p.machine, oks.length ? oks[oks.length - 1]!.version : ''];
    }),
  );
}

/** The failed probes of `machine` sent within [from, to) (epoch ms). */
export function failuresBetween(probes: MachineProbes, from: number, to = Number.POSITIVE_INFINITY): ProbeSample[] {
  return probes.samples.filter((s) => !isOk(s) && s.sentAt >= from && s.sentAt < to);
}
