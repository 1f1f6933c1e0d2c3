import type { DesiredStateRecord, JoinTokenRecord, MachineChange, MachineRecord } from '../machine-records.ts';
import type { MachineMethods } from '../method-groups.ts';
import { appendAuditEntries } from './postgres-audit.ts';
import { json } from './postgres-db.ts';
import type { PgDb } from './postgres-db.ts';
import type { Row } from './postgres-rows.ts';

const toJoinToken = (r: Row): JoinTokenRecord => ({
  id: r.id as string,
  hash: r.hash as string,
  createdAt: r.created_at as number,
  createdBy: r.created_by as string,
  expiresAt: r.expires_at as number,
  maxUses: r.max_uses as number | null,
  uses: r.uses as number,
  revokedAt: r.revoked_at as number | null,
  revokedBy: r.revoked_by as string | null,
});

const toMachine = (r: Row): MachineRecord => ({
  name: r.name as string,
  labels: r.labels as Record<string, string>,
  address: r.address as string | null,
  agentVersion: r.agent_version as string,
  protocolVersion: r.protocol_version as number,
  joinedAt: r.joined_at as number,
  lastHeartbeat: r.last_heartbeat as number | null,
  status: r.status as MachineRecord['status'],
  credentialHash: r.credential_hash as string,
  credentialRotatedAt: r.credential_rotated_at as number,
  joinToken: r.join_token as string,
});

const toDesired = (r: Row): DesiredStateRecord => ({
  machine: r.machine as string,
  number: r.number as number,
  document: r.document as Record<string, unknown> | null,
  digest: r.digest as string | null,
  updatedAt: r.updated_at as number | null,
  ackedNumber: r.acked_number as number | null,
  ackedAt: r.acked_at as number | null,
  rejectedNumber: r.rejected_number as number | null,
  rejectedReason: r.rejected_reason as string | null,
  rejectedAt: r.rejected_at as number | null,
  reported: r.reported as Record<string, unknown> | null,
  reportedAt: r.reported_at as number | null,
});

/** The columns of a machine's changeable fields; the keys of MachineChange. */
const CHANGE_COLUMNS: Record<keyof MachineChange, string> = {
  status: 'status',
  credentialHash: 'credential_hash',
  credentialRotatedAt: 'credential_rotated_at',
  lastHeartbeat: 'last_heartbeat',
  address: 'address',
  agentVersion: 'agent_version',
  protocolVersion: 'protocol_version',
  labels: 'labels',
};

/**
 * Join tokens and machines in PostgreSQL; each write in one transaction with its audit entry,
 * appended last (see postgres-audit.ts on lock order).
 */
export function createPostgresMachines({ query, transaction }: PgDb): MachineMethods {
  return {
    async insertJoinToken(t, audit) {
      await transaction(async (client) => {
        await client.query(
          `INSERT INTO join_tokens (id, hash, created_at, created_by, expires_at, max_uses, uses, revoked_at, revoked_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [t.id, t.hash, t.createdAt, t.createdBy, t.expiresAt, t.maxUses, t.uses, t.revokedAt, t.revokedBy],
        );
        await appendAuditEntries(client, [audit]);
      });
    },
    async findJoinTokenByHash(hash) {
      const r = (await query('SELECT * FROM join_tokens WHERE hash = $1', [hash])).rows[0];
      return r && toJoinToken(r);
    },
    async listJoinTokens() {
      return (await query('SELECT * FROM join_tokens ORDER BY created_at, id')).rows.map(toJoinToken);
    },
    async revokeJoinToken(id, by, at, audit) {
      return transaction(async (client) => {
        const r = (await client.query('UPDATE join_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL RETURNING *', [at, by, id])).rows[0] as Row | undefined;
        if (!r) return undefined;
        await appendAuditEntries(client, [audit]);
        return toJoinToken(r);
      });
    },

    async joinMachine(join, m, audit) {
      // A refusal throws inside the transaction so the token's use is rolled back with it.
      const refused = Symbol('refused');
      try {
        return await transaction(async (client) => {
          // The row lock on the token orders racing joins: the second sees the first's `uses`.
          const used = await client.query(
            `UPDATE join_tokens SET uses = uses + 1
              WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses) RETURNING id`,
            [join.tokenHash, join.now],
          );
          if (used.rowCount !== 1) throw Object.assign(new Error('token'), { [refused]: 'token' as const });
          // A racing insert of the same name waits for the first to commit, then takes the DO UPDATE
          // path, whose WHERE sees the committed live row and returns nothing.
          const row = (
            await client.query(
              `INSERT INTO machines (name, labels, address, agent_version, protocol_version, joined_at, last_heartbeat, status,
                                     credential_hash, credential_rotated_at, join_token)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (name) DO UPDATE SET labels = excluded.labels, address = excluded.address,
                 agent_version = excluded.agent_version, protocol_version = excluded.protocol_version, joined_at = excluded.joined_at,
                 last_heartbeat = excluded.last_heartbeat, status = excluded.status, credential_hash = excluded.credential_hash,
                 credential_rotated_at = excluded.credential_rotated_at, join_token = excluded.join_token
               WHERE machines.status = 'removed'
               RETURNING *`,
              [m.name, json(m.labels), m.address, m.agentVersion, m.protocolVersion, m.joinedAt, m.lastHeartbeat, m.status, m.credentialHash, m.credentialRotatedAt, m.joinToken],
            )
          ).rows[0] as Row | undefined;
          if (!row) throw Object.assign(new Error('name-taken'), { [refused]: 'name-taken' as const });
          await appendAuditEntries(client, [audit]);
          return { ok: true as const, machine: toMachine(row) };
        });
      } catch (error) {
        const reason = (error as Record<symbol, 'token' | 'name-taken' | undefined>)[refused];
        if (reason) return { ok: false, reason };
        throw error;
      }
    },
    async getMachine(name) {
      const r = (await query('SELECT * FROM machines WHERE name = $1', [name])).rows[0];
      return r && toMachine(r);
    },
    async findMachineByCredentialHash(hash) {
      const r = (await query('SELECT * FROM machines WHERE credential_hash = $1', [hash])).rows[0];
      return r && toMachine(r);
    },
    async listMachines() {
      return (await query('SELECT * FROM machines ORDER BY name')).rows.map(toMachine);
    },
    async updateMachine(name, change, audit) {
      const fields = (Object.keys(CHANGE_COLUMNS) as (keyof MachineChange)[]).filter((k) => change[k] !== undefined);
      return transaction(async (client) => {
        const sets = fields.map((k, i) => `${CHANGE_COLUMNS[k]} = $${i + 2}`).join(', ');
        const values = fields.map((k) => (k === 'labels' ? json(change.labels) : change[k]));
        const r = (
          await client.query(fields.length ? `UPDATE machines SET ${sets} WHERE name = $1 RETURNING *` : 'SELECT * FROM machines WHERE name = $1', [name, ...values])
        ).rows[0] as Row | undefined;
        if (!r) return undefined;
        if (audit) await appendAuditEntries(client, [audit]);
        return toMachine(r);
      });
    },

    async getDesiredState(machine) {
      const r = (await query('SELECT * FROM machine_desired WHERE machine = $1', [machine])).rows[0];
      return r && toDesired(r);
    },
    async putDesiredDocument(machine, next) {
      // Compare-and-set on the number: a row at number - 1 moves up; none at all only to number 1
      // (a racing first insert conflicts and changes nothing).
      const args = [machine, next.number, json(next.document), next.digest, next.at];
      const moved = await query('UPDATE machine_desired SET number = $2, document = $3, digest = $4, updated_at = $5 WHERE machine = $1 AND number = $2 - 1', args);
      if (moved.rowCount === 1) return true;
      if (next.number !== 1) return false;
      const first = await query('INSERT INTO machine_desired (machine, number, document, digest, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', args);
      return first.rowCount === 1;
    },
    async recordDesiredAnswer(machine, number, answer, at) {
      const r = answer.accepted
        ? await query(
            `UPDATE machine_desired SET acked_number = CASE WHEN acked_number IS NULL OR acked_number < $2 THEN $2 ELSE acked_number END,
               acked_at = CASE WHEN acked_number IS NULL OR acked_number < $2 THEN $3 ELSE acked_at END
             WHERE machine = $1 RETURNING *`,
            [machine, number, at],
          )
        : await query('UPDATE machine_desired SET rejected_number = $2, rejected_reason = $3, rejected_at = $4 WHERE machine = $1 RETURNING *', [machine, number, answer.reason, at]);
      return r.rows[0] && toDesired(r.rows[0]);
    },
    async saveMachineReport(machine, report, at) {
      await query(
        'INSERT INTO machine_desired (machine, reported, reported_at) VALUES ($1, $2, $3) ON CONFLICT (machine) DO UPDATE SET reported = excluded.reported, reported_at = excluded.reported_at',
        [machine, json(report), at],
      );
    },
  };
}
