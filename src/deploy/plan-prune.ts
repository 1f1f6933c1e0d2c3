import type { RuntimeArtifact } from './runtime.ts';

/** What `planPrune` decides over: plain data, gathered by the shell (`prune.ts`). */
export interface PruneInput {
  /** What the runtime (agent) holds. */
  artifacts: readonly RuntimeArtifact[];
  /** Per instance: the digests of its live and warm (any non-stopped) slots as the store records them. */
  slots: readonly { instance: string; digests: readonly string[] }[];
  /** Per instance: the digests of the releases it ran, newest first (repeats allowed). */
  history: readonly { instance: string; digests: readonly string[] }[];
  /** How many of each instance's most recent releases stay on the agent besides its slots. */
  keepPerInstance: number;
}

export interface PruneDecision {
  digest: string;
  size: number;
  /** Why it stays (empty for what goes): `in use on the agent`, `live or warm on web`, `recent release of web`. */
  why: string[];
}

export interface PrunePlan {
  keep: PruneDecision[];
  remove: PruneDecision[];
  /** Bytes the removals free. */
  freedBytes: number;
}

/**
 * Which of the agent's artifacts can go without breaking a later deploy: everything except what a
 * slot runs or keeps warm (the agent's own view and the store's, either suffices) and each
 * instance's last `keepPerInstance` distinct releases (the likely rollback targets, kept so a
 * rollback past the warm slot starts without a fetch). What goes is fetched again by digest when
 * a deploy needs it: the server keeps every published release's artifact.
 */
export function planPrune(input: PruneInput): PrunePlan {
  const reasons = new Map<string, string[]>();
  const add = (digest: string, why: string) => {
    const list = reasons.get(digest) ?? [];
    if (!list.includes(why)) list.push(why);
    reasons.set(digest, list);
  };
  for (const a of input.artifacts) if (a.inUse) add(a.digest, 'in use on the agent');
  for (const s of input.slots) for (const d of s.digests) add(d, `live or warm on ${s.instance}`);
  const keepN = Math.max(0, Math.floor(input.keepPerInstance));
  for (const h of input.history) {
    const recent = [...new Set(h.digests)].slice(0, keepN);
    for (const d of recent) add(d, `recent release of ${h.instance}`);
  }
  const keep: PruneDecision[] = [];
  const remove: PruneDecision[] = [];
  for (const a of [...input.artifacts].sort((x, y) => x.digest.localeCompare(y.digest))) {
    const why = reasons.get(a.digest);
    if (why) keep.push({ digest: a.digest, size: a.size, why });
    else remove.push({ digest: a.digest, size: a.size, why: [] });
  }
  return { keep, remove, freedBytes: remove.reduce((n, r) => n + r.size, 0) };
}
