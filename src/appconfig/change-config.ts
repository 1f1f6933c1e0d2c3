import type { AppConfigEntry, AppConfigLayer } from '../store/index.ts';
import { keyProblem } from './key-rules.ts';
import { layerLabel, sameLayer } from './layers.ts';

/** A change to the entries: set (plain or secret, already sealed) or unset one key at one layer. */
export type ConfigChange =
  | { op: 'set'; entry: AppConfigEntry }
  | { op: 'unset'; layer: AppConfigLayer; key: string };

/** What one change did to its key at its layer: the entries before and after (undefined: none). */
export interface ChangeOutcome {
  entries: AppConfigEntry[];
  before: AppConfigEntry | undefined;
  after: AppConfigEntry | undefined;
}

/**
 * Applies one change to a version's entries, purely. Refusals are returned as a message: a bad
 * key, a key that is plain in one layer and secret in another (it must be one or the other
 * everywhere, so a secret can never be shadowed by, or leak through, a plain value), or an unset
 * of a key the layer does not have.
 */
export function applyChange(entries: readonly AppConfigEntry[], change: ConfigChange): ChangeOutcome | { refused: string } {
  const key = change.op === 'set' ? change.entry.key : change.key;
  const layer = change.op === 'set' ? change.entry.layer : change.layer;
  const problem = keyProblem(key);
  if (problem !== undefined) return { refused: `key ${JSON.stringify(key.slice(0, 60))} ${problem}` };
  const at = entries.findIndex((e) => e.key === key && sameLayer(e.layer, layer));
  const before = at === -1 ? undefined : entries[at];
  if (change.op === 'unset') {
    if (before === undefined) return { refused: `${key} is not set at ${layerLabel(layer)}; \`app-config show\` lists where it is` };
    return { entries: entries.filter((_, i) => i !== at), before, after: undefined };
  }
  const other = entries.find((e) => e.key === key && e.secret !== change.entry.secret && !sameLayer(e.layer, layer));
  if (other !== undefined) {
    const is = other.secret ? 'a secret' : 'plain';
    const how = other.secret ? '`cutover secret set`' : '`cutover app-config set`';
    return { refused: `${key} is ${is} at ${layerLabel(other.layer)}; a key is plain or secret in every layer: use ${how}, or unset it there first` };
  }
  const next = [...entries];
  if (at === -1) next.push(change.entry);
  else next[at] = change.entry;
  return { entries: next, before, after: change.entry };
}

/** Plain/secret conflicts between layers in a set of entries (none once every change went through `applyChange`). */
export function kindConflicts(entries: readonly AppConfigEntry[]): string[] {
  const kinds = new Map<string, boolean>();
  const conflicts = new Set<string>();
  for (const e of entries) {
    const seen = kinds.get(e.key);
    if (seen !== undefined && seen !== e.secret) conflicts.add(e.key);
    kinds.set(e.key, e.secret);
  }
  return [...conflicts].sort();
}
