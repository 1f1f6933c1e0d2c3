import type { ChannelMove, ChannelPointer, ChannelRecord, MoveResult } from '../types.ts';
import { jsonCopy } from './memory-audit.ts';
import type { MemoryAuditLog } from './memory-audit.ts';
import type { ChannelMethods } from '../method-groups.ts';

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Channels, their per-app pointers and move history, for the memory store. */
export function createMemoryChannels(audit: MemoryAuditLog): ChannelMethods {
  const channels = new Map<string, ChannelRecord>();
  // Keyed by app and channel joined with NUL, which neither name can contain.
  const pointers = new Map<string, ChannelPointer>();
  const moves: ChannelMove[] = [];

  return {
    async insertChannel(channel) {
      if (channels.has(channel.name)) return false;
      channels.set(channel.name, jsonCopy(channel));
      return true;
    },
    async getChannel(name) {
      const c = channels.get(name);
      return c && jsonCopy(c);
    },
    async listChannels() {
      return [...channels.values()].sort((a, b) => byString(a.name, b.name)).map(jsonCopy);
    },
    async updateChannel(channel) {
      const c = channels.get(channel.name);
      if (!c) return;
      channels.set(channel.name, {
        ...c,
        description: channel.description,
        policy: jsonCopy(channel.policy),
        updatedAt: channel.updatedAt,
      });
    },
    async listChannelPointers(filter = {}) {
      return [...pointers.values()]
        .filter(
          (p) =>
            (filter.app === undefined || p.app === filter.app) &&
            (filter.channel === undefined || p.channel === filter.channel),
        )
        .sort((a, b) => byString(a.app, b.app) || byString(a.channel, b.channel))
        .map((p) => ({ ...p }));
    },
    async moveChannel(move, entry): Promise<MoveResult> {
      const key = `${move.app}\u0000${move.channel}`;
      const current = pointers.get(key)?.version ?? null;
      if (current !== move.fromVersion) return { ok: false, current };
      const stored: ChannelMove = {
        id: moves.length + 1,
        app: move.app,
        channel: move.channel,
        fromVersion: move.fromVersion,
        toVersion: move.toVersion,
        at: move.at,
        actor: move.actor,
        reason: move.reason,
        forced: move.forced,
      };
      // The audit entry first: it is the only write that can throw (unserialisable details), so
      // when it does, the pointer and history are still untouched.
      audit.append(entry);
      pointers.set(key, {
        app: move.app,
        channel: move.channel,
        version: move.toVersion,
        movedAt: move.at,
        movedBy: move.actor,
      });
      moves.push(stored);
      return { ok: true, move: { ...stored } };
    },
    async listChannelMoves(filter = {}) {
      return moves
        .filter(
          (m) =>
            (filter.app === undefined || m.app === filter.app) &&
            (filter.channel === undefined || m.channel === filter.channel) &&
            (filter.version === undefined ||
              m.fromVersion === filter.version ||
              m.toVersion === filter.version),
        )
        .map((m) => ({ ...m }));
    },
  };
}
