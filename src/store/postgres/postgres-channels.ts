import type { MoveResult } from '../types.ts';
import { appendAuditEntries } from './postgres-audit.ts';
import { json } from './postgres-db.ts';
import type { PgDb } from './postgres-db.ts';
import { toChannel, toMove, toPointer } from './postgres-rows.ts';
import type { ChannelMethods } from '../method-groups.ts';
import { checkChannel, decodeRows } from '../decode-rows.ts';
import type { RowLog } from '../decode-rows.ts';

/** Channels, their per-app pointers and move history, for the PostgreSQL store. */
export function createPostgresChannels({ query, transaction }: PgDb, log?: RowLog): ChannelMethods {
  return {
    async insertChannel(c) {
      const res = await query(
        `INSERT INTO channels (name, description, policy, built_in, created_at, created_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [c.name, c.description, json(c.policy), c.builtIn, c.createdAt, c.createdBy, c.updatedAt],
      );
      return res.rowCount === 1;
    },
    async getChannel(name) {
      const res = await query('SELECT * FROM channels WHERE name = $1', [name]);
      return res.rows[0] && toChannel(res.rows[0]);
    },
    async listChannels() {
      const res = await query('SELECT * FROM channels ORDER BY name');
      return decodeRows(res.rows, (r) => checkChannel(toChannel(r)), 'channels', (r) => r.name, log);
    },
    async updateChannel(c) {
      await query('UPDATE channels SET description = $2, policy = $3, updated_at = $4 WHERE name = $1', [
        c.name,
        c.description,
        json(c.policy),
        c.updatedAt,
      ]);
    },
    async listChannelPointers(filter = {}) {
      const res = await query(
        `SELECT * FROM channel_pointers WHERE ($1::text IS NULL OR app = $1) AND ($2::text IS NULL OR channel = $2)
         ORDER BY app, channel`,
        [filter.app ?? null, filter.channel ?? null],
      );
      return res.rows.map(toPointer);
    },
    async moveChannel(move, audit): Promise<MoveResult> {
      return transaction(async (client) => {
        // Compare-and-set in one statement: the INSERT waits for a concurrent first move and then
        // conflicts; the UPDATE re-checks `version` on the row's latest version after any wait.
        const set =
          move.fromVersion === null
            ? await client.query(
                `INSERT INTO channel_pointers (app, channel, version, moved_at, moved_by) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING`,
                [move.app, move.channel, move.toVersion, move.at, move.actor],
              )
            : await client.query(
                `UPDATE channel_pointers SET version = $3, moved_at = $4, moved_by = $5
                  WHERE app = $1 AND channel = $2 AND version = $6`,
                [move.app, move.channel, move.toVersion, move.at, move.actor, move.fromVersion],
              );
        if (set.rowCount !== 1) {
          const now = await client.query<{ version: string }>('SELECT version FROM channel_pointers WHERE app = $1 AND channel = $2', [
            move.app,
            move.channel,
          ]);
          return { ok: false, current: now.rows[0]?.version ?? null };
        }
        const inserted = await client.query(
          `INSERT INTO channel_moves (app, channel, from_version, to_version, at, actor, reason, forced)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
          [move.app, move.channel, move.fromVersion, move.toVersion, move.at, move.actor, move.reason, move.forced],
        );
        await appendAuditEntries(client, [audit]);
        return { ok: true, move: toMove(inserted.rows[0]!) };
      });
    },
    async listChannelMoves(filter = {}) {
      const res = await query(
        `SELECT * FROM channel_moves
          WHERE ($1::text IS NULL OR app = $1) AND ($2::text IS NULL OR channel = $2)
            AND ($3::text IS NULL OR to_version = $3 OR from_version = $3)
          ORDER BY id`,
        [filter.app ?? null, filter.channel ?? null, filter.version ?? null],
      );
      return res.rows.map(toMove);
    },

  };
}
