import { CutoverError } from '../shared/index.ts';
import { compareVersions } from './compare-versions.ts';
import type { ReleaseComponent, ReleaseFeature, ReleaseSpec } from './release-spec.ts';

/** A component present in both releases whose version or artifact differs. */
export interface ComponentChange {
  name: string;
  from: string;
  to: string;
  /** Present only when the artifact reference differs (null: none given on that side). */
  artifact?: { from: string | null; to: string | null };
}

/** What moving an instance from one release to another changes, for previews and `release diff`. */
export interface ReleaseDiff {
  from: string;
  to: string;
  direction: 'upgrade' | 'downgrade' | 'same';
  features: {
    /** In `to`, not in `from` (by key), in `to`'s order: what users gain. */
    added: ReleaseFeature[];
    /** In `from`, not in `to`, in `from`'s order: what users lose. */
    removed: ReleaseFeature[];
    /** Same key, other title or description. */
    changed: Array<{ key: string; from: ReleaseFeature; to: ReleaseFeature }>;
  };
  components: { added: ReleaseComponent[]; removed: ReleaseComponent[]; changed: ComponentChange[] };
  /** Migration ids: `added` are in `to` but not in `from`, `removed` the reverse. */
  migrations: { added: string[]; removed: string[] };
  /**
   * Release notes crossed by the move, empty ones skipped. Upgrade: every release with
   * from < v ≤ to, oldest first. Downgrade: the releases being undone (to < v ≤ from), newest first.
   */
  notes: Array<{ version: string; notes: string }>;
}

/** What `diffReleases` reads of a release. Specs read back from the store may predate a field: a missing list counts as empty. */
export type DiffableRelease = Pick<ReleaseSpec, 'app' | 'version'> & Partial<Pick<ReleaseSpec, 'features' | 'components' | 'migrations' | 'notes'>>;

/**
 * Compares two releases of one app. `between` holds other releases of the app (any order, any
 * range; the ones outside the move and duplicates are ignored) whose notes the move crosses.
 * Throws `VALIDATION_FAILED` when the two releases belong to different apps.
 */
export function diffReleases(from: DiffableRelease, to: DiffableRelease, between: readonly DiffableRelease[] = []): ReleaseDiff {
  if (from.app !== to.app) {
    throw new CutoverError('VALIDATION_FAILED', `cannot compare releases of different apps (${from.app} and ${to.app}); pick two releases of one app`, {
      details: { from: `${from.app}@${from.version}`, to: `${to.app}@${to.version}` },
    });
  }
  const order = compareVersions(from.version, to.version);
  const direction = order < 0 ? 'upgrade' : order > 0 ? 'downgrade' : 'same';
  return {
    from: from.version,
    to: to.version,
    direction,
    features: diffFeatures(from.features ?? [], to.features ?? []),
    components: diffComponents(from.components ?? [], to.components ?? []),
    migrations: diffIds((from.migrations ?? []).map((m) => m.id), (to.migrations ?? []).map((m) => m.id)),
    notes: crossedNotes(from, to, between, direction),
  };
}

function diffFeatures(from: readonly ReleaseFeature[], to: readonly ReleaseFeature[]): ReleaseDiff['features'] {
  const before = new Map(from.map((f) => [f.key, f]));
  const after = new Map(to.map((f) => [f.key, f]));
  const changed: ReleaseDiff['features']['changed'] = [];
  for (const f of to) {
    const old = before.get(f.key);
    if (old && (old.title !== f.title || (old.description ?? null) !== (f.description ?? null))) changed.push({ key: f.key, from: old, to: f });
  }
  return { added: to.filter((f) => !before.has(f.key)), removed: from.filter((f) => !after.has(f.key)), changed };
}

function diffComponents(from: readonly ReleaseComponent[], to: readonly ReleaseComponent[]): ReleaseDiff['components'] {
  const before = new Map(from.map((c) => [c.name, c]));
  const after = new Map(to.map((c) => [c.name, c]));
  const changed: ComponentChange[] = [];
  for (const c of to) {
    const old = before.get(c.name);
    if (!old) continue;
    const oldArtifact = old.artifact ?? null;
    const newArtifact = c.artifact ?? null;
    if (old.version === c.version && oldArtifact === newArtifact) continue;
    const change: ComponentChange = { name: c.name, from: old.version, to: c.version };
    if (oldArtifact !== newArtifact) change.artifact = { from: oldArtifact, to: newArtifact };
    changed.push(change);
  }
  return { added: to.filter((c) => !before.has(c.name)), removed: from.filter((c) => !after.has(c.name)), changed };
}

function diffIds(from: readonly string[], to: readonly string[]): ReleaseDiff['migrations'] {
  const before = new Set(from);
  const after = new Set(to);
  return { added: to.filter((id) => !before.has(id)), removed: from.filter((id) => !after.has(id)) };
}

function crossedNotes(from: DiffableRelease, to: DiffableRelease, between: readonly DiffableRelease[], direction: ReleaseDiff['direction']): ReleaseDiff['notes'] {
  if (direction === 'same') return [];
  // The release moved away from (downgrade) or onto (upgrade) bounds the range inclusively.
  const [low, high, edge] = direction === 'upgrade' ? [from.version, to.version, to] : [to.version, from.version, from];
  const byVersion = new Map<string, string>();
  for (const r of [edge, ...between]) {
    if (r.app !== from.app || byVersion.has(r.version)) continue;
    if (compareVersions(r.version, low) > 0 && compareVersions(r.version, high) <= 0) byVersion.set(r.version, r.notes ?? '');
  }
  const sign = direction === 'upgrade' ? 1 : -1;
  return [...byVersion]
    .filter(([, notes]) => notes.trim() !== '')
    .sort(([a], [b]) => sign * compareVersions(a, b))
    .map(([version, notes]) => ({ version, notes }));
}
