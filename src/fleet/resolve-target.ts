import type { ChannelPointer, InstanceRecord } from '../store/index.ts';

/**
 * Where every channel points, per app: `index.get(app)?.get(channel)` is the version.
 * Nested rather than keyed by a joined string so a lookup allocates nothing.
 */
export type PointerIndex = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** What an instance should run, as of the pointers given. */
export type ResolvedTarget =
  | { kind: 'none' }
  | { kind: 'version'; version: string; onTarget: boolean }
  /** `version` is null when the channel points nowhere for the instance's app. */
  | { kind: 'channel'; channel: string; version: string | null; onTarget: boolean };

const NONE: ResolvedTarget = Object.freeze({ kind: 'none' });

/** Builds the lookup `resolveTarget` uses from the store's pointers (one per app and channel). */
export function pointerIndex(pointers: Iterable<ChannelPointer>): PointerIndex {
  const index = new Map<string, Map<string, string>>();
  for (const p of pointers) {
    let byChannel = index.get(p.app);
    if (!byChannel) index.set(p.app, (byChannel = new Map()));
    byChannel.set(p.channel, p.version);
  }
  return index;
}

/** The version a channel points to for an app, or null. */
export function lookupPointer(index: PointerIndex, app: string, channel: string): string | null {
  return index.get(app)?.get(channel) ?? null;
}

/**
 * Resolves an instance's declared target against the channel pointers. `onTarget` is true when
 * the instance already runs the resolved version; a channel that points nowhere is never on target.
 * Hot path of the fleet scheduler: no allocation but the result.
 */
export function resolveTarget(instance: Pick<InstanceRecord, 'app' | 'target' | 'currentVersion'>, index: PointerIndex): ResolvedTarget {
  const target = instance.target;
  // Records written before targets existed may lack the field altogether.
  if (!target) return NONE;
  if ('version' in target) {
    return { kind: 'version', version: target.version, onTarget: instance.currentVersion === target.version };
  }
  const version = index.get(instance.app)?.get(target.channel) ?? null;
  return { kind: 'channel', channel: target.channel, version, onTarget: version !== null && instance.currentVersion === version };
}
