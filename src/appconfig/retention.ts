/** How long a version a deployment referred to is kept: a cold rollback within it gets the old values back. */
export const RETENTION_MS = 90 * 86_400_000;

/**
 * The versions to delete (pure): every kept version but the latest and those `referenced` (by a
 * deployment created within {@link RETENTION_MS}, or by a slot that still runs it).
 */
export function versionsToPrune(kept: readonly number[], referenced: ReadonlySet<number>): number[] {
  const latest = Math.max(0, ...kept);
  return kept.filter((id) => id !== latest && !referenced.has(id));
}
