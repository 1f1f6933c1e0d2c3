import type { DatabaseSync } from 'node:sqlite';
import type { DesiredStateRecord, JoinTokenRecord, MachineChange, MachineRecord } from '../machine-records.ts';
import type { MachineMethods } from '../method-groups.ts';
import type { SqliteAuditLog } from './sqlite-audit.ts';
import { transaction } from './transaction.ts';

type Row = Record<string, unknown>;

const toJoinToken = (r: Row): JoinTokenRecord => ({
  id: r.id as string,
  hash: r.hash as string,
  createdAt: Number(r.created_at),
  createdBy: r.created_by as string,
  expiresAt: Number(r.expires_at),
  maxUses: r.max_uses === null ? null : Number(r.max_uses),
  uses: Number(r.uses),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  revokedBy: r.revoked_by as string | null,
});

const toMachine = (r: Row): MachineRecord => ({
  name: r.name as string,
  labels: JSON.parse(r.labels as string) as Record<string, string>,
  address: r.address as string | null,
  agentVersion: r.agent_version as string,
  protocolVersion: Number(r.protocol_version),
  joinedAt: Number(r.joined_at),
  lastHeartbeat: r.last_heartbeat === null ? null : Number(r.last_heartbeat),
  status: r.status as MachineRecord['status'],
  credentialHash: r.credential_hash as string,
  credentialRotatedAt: Number(r.credential_rotated_at),
  joinToken: r.join_token as string,
});

const jsonOrNull = (v: unknown) => (v === null ? null : (JSON.parse(v as string) as Record<string, unknown>));
const numberOrNull = (v: unknown) => (v === null ? null : Number(v));

const toDesired = (r: Row): DesiredStateRecord => ({
  machine: r.machine as string,
  number: Number(r.number),
  document: jsonOrNull(r.document),
  digest: r.digest as string | null,
  updatedAt: numberOrNull(r.updated_at),
  ackedNumber: numberOrNull(r.acked_number),
  ackedAt: numberOrNull(r.acked_at),
  rejectedNumber: numberOrNull(r.rejected_number),
  rejectedReason: r.rejected_reason as string | null,
  rejectedAt: numberOrNull(r.rejected_at),
  reported: jsonOrNull(r.reported),
  reportedAt: numberOrNull(r.reported_at),
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

/** Join tokens and machines in SQLite; each write in one transaction with its audit entry. */
export function createSqliteMachines(db: DatabaseSync, audit: SqliteAuditLog): MachineMethods {
  const q = {
    insertToken: db.prepare(
      `INSERT INTO join_tokens (id, hash, created_at, created_by, expires_at, max_uses, uses, revoked_at, revoked_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    findToken: db.prepare('SELECT * FROM join_tokens WHERE hash = ?'),
    listTokens: db.prepare('SELECT * FROM join_tokens ORDER BY created_at, id'),
    revokeToken: db.prepare('UPDATE join_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL RETURNING *'),
    // The token's use and the checks in one statement: no row back means "not usable".
    useToken: db.prepare(
      `UPDATE join_tokens SET uses = uses + 1
        WHERE hash = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND (max_uses IS NULL OR uses < max_uses) RETURNING id`,
    ),
    // A removed machine's row is replaced; a live one's is not, and no row comes back.
    joinMachine: db.prepare(
      `INSERT INTO machines (name, labels, address, agent_version, protocol_version, joined_at, last_heartbeat, status,
                             credential_hash, credential_rotated_at, join_token)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
       ON CONFLICT (name) DO UPDATE SET labels = ?2, address = ?3, agent_version = ?4, protocol_version = ?5, joined_at = ?6,
         last_heartbeat = ?7, status = ?8, credential_hash = ?9, credential_rotated_at = ?10, join_token = ?11
       WHERE machines.status = 'removed'
       RETURNING *`,
    ),
    getMachine: db.prepare('SELECT * FROM machines WHERE name = ?'),
    findMachine: db.prepare('SELECT * FROM machines WHERE credential_hash = ?'),
    listMachines: db.prepare('SELECT * FROM machines ORDER BY name'),
    getDesired: db.prepare('SELECT * FROM machine_desired WHERE machine = ?'),
    // Compare-and-set on the number: a row at number - 1 moves up; none at all only to number 1.
    moveDesired: db.prepare('UPDATE machine_desired SET number = ?2, document = ?3, digest = ?4, updated_at = ?5 WHERE machine = ?1 AND number = ?2 - 1'),
    firstDesired: db.prepare('INSERT INTO machine_desired (machine, number, document, digest, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING'),
    acked: db.prepare(
      `UPDATE machine_desired SET acked_number = ?2, acked_at = ?3 WHERE machine = ?1 AND (acked_number IS NULL OR acked_number < ?2)`,
    ),
    rejected: db.prepare('UPDATE machine_desired SET rejected_number = ?2, rejected_reason = ?3, rejected_at = ?4 WHERE machine = ?1'),
    report: db.prepare(
      `INSERT INTO machine_desired (machine, reported, reported_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (machine) DO UPDATE SET reported = ?2, reported_at = ?3`,
    ),
  };

  return {
    async insertJoinToken(t, entry) {
      transaction(db, () => {
        q.insertToken.run(t.id, t.hash, t.createdAt, t.createdBy, t.expiresAt, t.maxUses, t.uses, t.revokedAt, t.revokedBy);
        audit.appendInTransaction(entry);
      });
    },
    async findJoinTokenByHash(hash) {
      const r = q.findToken.get(hash) as Row | undefined;
      return r && toJoinToken(r);
    },
    async listJoinTokens() {
      return (q.listTokens.all() as Row[]).map(toJoinToken);
    },
    async revokeJoinToken(id, by, at, entry) {
      return transaction(db, () => {
        const r = q.revokeToken.get(at, by, id) as Row | undefined;
        if (!r) return undefined;
        audit.appendInTransaction(entry);
        return toJoinToken(r);
      });
    },

    async joinMachine(join, m, entry) {
      db.exec('BEGIN IMMEDIATE');
      try {
        if (!q.useToken.get(join.tokenHash, join.now)) {
          db.exec('ROLLBACK');
          return { ok: false, reason: 'token' };
        }
        const row = q.joinMachine.get(
          m.name, JSON.stringify(m.labels), m.address, m.agentVersion, m.protocolVersion, m.joinedAt, m.lastHeartbeat,
          m.status, m.credentialHash, m.credentialRotatedAt, m.joinToken,
        ) as Row | undefined;
        if (!row) {
          // The token's use goes back with the refused name.
          db.exec('ROLLBACK');
          return { ok: false, reason: 'name-taken' };
        }
        audit.appendInTransaction(entry);
        db.exec('COMMIT');
        return { ok: true, machine: toMachine(row) };
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw error;
      }
    },
    async getMachine(name) {
      const r = q.getMachine.get(name) as Row | undefined;
      return r && toMachine(r);
    },
    async findMachineByCredentialHash(hash) {
      const r = q.findMachine.get(hash) as Row | undefined;
      return r && toMachine(r);
    },
    async listMachines() {
      return (q.listMachines.all() as Row[]).map(toMachine);
    },
    async updateMachine(name, change, entry) {
      const fields = (Object.keys(CHANGE_COLUMNS) as (keyof MachineChange)[]).filter((k) => change[k] !== undefined);
      return transaction(db, () => {
        if (fields.length === 0) {
          const r = q.getMachine.get(name) as Row | undefined;
          if (r && entry) audit.appendInTransaction(entry);
          return r && toMachine(r);
        }
        const sets = fields.map((k, i) => `${CHANGE_COLUMNS[k]} = ?${i + 2}`).join(', ');
        const values = fields.map((k) => (k === 'labels' ? JSON.stringify(change.labels) : (change[k] as string | number | null)));
        const r = db.prepare(`UPDATE machines SET ${sets} WHERE name = ?1 RETURNING *`).get(name, ...values) as Row | undefined;
        if (!r) return undefined;
        if (entry) audit.appendInTransaction(entry);
        return toMachine(r);
      });
    },

    async getDesiredState(machine) {
      const r = q.getDesired.get(machine) as Row | undefined;
      return r && toDesired(r);
    },
    async putDesiredDocument(machine, next) {
      const args = [machine, next.number, JSON.stringify(next.document), next.digest, next.at] as const;
      if (Number(q.moveDesired.run(...args).changes) === 1) return true;
      return next.number === 1 && Number(q.firstDesired.run(...args).changes) === 1;
    },
    async recordDesiredAnswer(machine, number, answer, at) {
      if (answer.accepted) q.acked.run(machine, number, at);
      else q.rejected.run(machine, number, answer.reason, at);
      const r = q.getDesired.get(machine) as Row | undefined;
      return r && toDesired(r);
    },
    async saveMachineReport(machine, report, at) {
      q.report.run(machine, JSON.stringify(report), at);
    },
  };
}
