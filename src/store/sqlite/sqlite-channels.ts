import type { DatabaseSync } from 'node:sqlite';
import type { MoveResult } from '../types.ts';
import type { SqliteAuditLog } from './sqlite-audit.ts';
import { channelFromSqlite, moveFromSqlite, pointerFromSqlite } from './sqlite-rows.ts';
import type { SqliteRow } from './sqlite-rows.ts';
import { transaction } from './transaction.ts';
import type { ChannelMethods } from '../method-groups.ts';
import { checkChannel, decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';

/** Channels, their per-app pointers and move history in SQLite. */
export function createSqliteChannels(db: DatabaseSync, audit: SqliteAuditLog, log?: RowLog): ChannelMethods {
  const q = {
    insert: db.prepare(
      `INSERT INTO channels (name, description, policy, built_in, created_at, created_by, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    get: db.prepare('SELECT * FROM channels WHERE name = ?'),
    list: db.prepare('SELECT * FROM channels ORDER BY name'),
    update: db.prepare('UPDATE channels SET description = ?, policy = ?, updated_at = ? WHERE name = ?'),
    // Pointers are few (apps × channels): the optional filters need no index of their own.
    pointers: db.prepare(
      `SELECT * FROM channel_pointers WHERE (?1 IS NULL OR app = ?1) AND (?2 IS NULL OR channel = ?2)
       ORDER BY app, channel`,
    ),
    pointer: db.prepare('SELECT version FROM channel_pointers WHERE app = ? AND channel = ?'),
    setPointer: db.prepare(
      `INSERT INTO channel_pointers (app, channel, version, moved_at, moved_by) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (app, channel) DO UPDATE SET version = ?3, moved_at = ?4, moved_by = ?5`,
    ),
    insertMove: db.prepare(
      `INSERT INTO channel_moves (app, channel, from_version, to_version, at, actor, reason, forced)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ),
    moves: db.prepare(
      `SELECT * FROM channel_moves
        WHERE (?1 IS NULL OR app = ?1) AND (?2 IS NULL OR channel = ?2)
          AND (?3 IS NULL OR from_version = ?3 OR to_version = ?3)
        ORDER BY id`,
    ),
  };

  return {
    async insertChannel(c) {
      const res = q.insert.run(
        c.name,
        c.description,
        JSON.stringify(c.policy),
        c.builtIn ? 1 : 0,
        c.createdAt,
        c.createdBy,
        c.updatedAt,
      );
      return Number(res.changes) === 1;
    },
    async getChannel(name) {
      const row = q.get.get(name) as SqliteRow | undefined;
      return row && channelFromSqlite(row);
    },
    async listChannels() {
      return decodeRows(
        q.list.all() as SqliteRow[],
        (r) => checkChannel(channelFromSqlite(r)),
        'channels',
        (r) => r.name,
        log,
      );
    },
    async updateChannel(c) {
      q.update.run(c.description, JSON.stringify(c.policy), c.updatedAt, c.name);
    },
    async listChannelPointers(filter = {}) {
      return (q.pointers.all(filter.app ?? null, filter.channel ?? null) as SqliteRow[]).map(pointerFromSqlite);
    },
    async moveChannel(move, entry): Promise<MoveResult> {
      return transaction(db, (): MoveResult => {
        // Compare-and-set: the read and the write share the transaction's write lock.
        const row = q.pointer.get(move.app, move.channel) as SqliteRow | undefined;
        const current = row ? (row.version as string) : null;
        if (current !== move.fromVersion) return { ok: false, current };
        q.setPointer.run(move.app, move.channel, move.toVersion, move.at, move.actor);
        const inserted = q.insertMove.get(
          move.app,
          move.channel,
          move.fromVersion,
          move.toVersion,
          move.at,
          move.actor,
          move.reason,
          move.forced ? 1 : 0,
        ) as SqliteRow;
        audit.appendInTransaction(entry);
        return {
          ok: true,
          move: {
            id: Number(inserted.id),
            app: move.app,
            channel: move.channel,
            fromVersion: move.fromVersion,
            toVersion: move.toVersion,
            at: move.at,
            actor: move.actor,
            reason: move.reason,
            forced: move.forced,
          },
        };
      });
    },
    async listChannelMoves(filter = {}) {
      return (q.moves.all(filter.app ?? null, filter.channel ?? null, filter.version ?? null) as SqliteRow[]).map(
        moveFromSqlite,
      );
    },
  };
}
