import type { DesiredStateRecord, JoinTokenRecord, MachineRecord } from '../machine-records.ts';
import type { MachineMethods } from '../method-groups.ts';
import { jsonCopy } from './memory-audit.ts';
import type { MemoryAuditLog } from './memory-audit.ts';

/** Whether a stored token may be used for a join at `now` (the SQL stores' WHERE clause). */
const usable = (t: JoinTokenRecord, now: number) => t.revokedAt === null && t.expiresAt > now && (t.maxUses === null || t.uses < t.maxUses);

/**
 * Join tokens and machines for the memory store. As in memory-fleet.ts, each write appends its
 * audit entry before changing anything, so an entry that cannot be stored leaves everything as it was.
 */
export function createMemoryMachines(audit: MemoryAuditLog): MachineMethods {
  const tokens = new Map<string, JoinTokenRecord>();
  const machines = new Map<string, MachineRecord>();
  const desired = new Map<string, DesiredStateRecord>();
  const emptyDesired = (machine: string): DesiredStateRecord => ({
    machine, number: 0, document: null, digest: null, updatedAt: null, ackedNumber: null, ackedAt: null,
    rejectedNumber: null, rejectedReason: null, rejectedAt: null, reported: null, reportedAt: null,
  });

  return {
    async insertJoinToken(token, entry) {
      audit.append(entry);
      tokens.set(token.id, jsonCopy(token));
    },
    async findJoinTokenByHash(hash) {
      const t = [...tokens.values()].find((x) => x.hash === hash);
      return t && jsonCopy(t);
    },
    async listJoinTokens() {
      return [...tokens.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map(jsonCopy);
    },
    async revokeJoinToken(id, by, at, entry) {
      const t = tokens.get(id);
      if (!t || t.revokedAt !== null) return undefined;
      audit.append(entry);
      t.revokedAt = at;
      t.revokedBy = by;
      return jsonCopy(t);
    },

    async joinMachine(join, machine, entry) {
      const token = [...tokens.values()].find((t) => t.hash === join.tokenHash);
      if (!token || !usable(token, join.now)) return { ok: false, reason: 'token' };
      const held = machines.get(machine.name);
      if (held && held.status !== 'removed') return { ok: false, reason: 'name-taken' };
      audit.append(entry);
      token.uses += 1;
      machines.set(machine.name, jsonCopy(machine));
      return { ok: true, machine: jsonCopy(machine) };
    },
    async getMachine(name) {
      const m = machines.get(name);
      return m && jsonCopy(m);
    },
    async findMachineByCredentialHash(hash) {
      const m = [...machines.values()].find((x) => x.credentialHash === hash);
      return m && jsonCopy(m);
    },
    async listMachines() {
      return [...machines.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(jsonCopy);
    },
    async updateMachine(name, change, entry) {
      const m = machines.get(name);
      if (!m) return undefined;
      if (entry) audit.append(entry);
      const defined = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined));
      const updated = { ...m, ...jsonCopy(defined) };
      machines.set(name, updated);
      return jsonCopy(updated);
    },

    async getDesiredState(machine) {
      const d = desired.get(machine);
      return d && jsonCopy(d);
    },
    async putDesiredDocument(machine, next) {
      const d = desired.get(machine) ?? emptyDesired(machine);
      if (d.number !== next.number - 1) return false;
      desired.set(machine, { ...d, number: next.number, document: jsonCopy(next.document), digest: next.digest, updatedAt: next.at });
      return true;
    },
    async recordDesiredAnswer(machine, number, answer, at) {
      const d = desired.get(machine);
      if (!d) return undefined;
      if (answer.accepted) {
        if (d.ackedNumber === null || number > d.ackedNumber) Object.assign(d, { ackedNumber: number, ackedAt: at });
      } else Object.assign(d, { rejectedNumber: number, rejectedReason: answer.reason, rejectedAt: at });
      return jsonCopy(d);
    },
    async saveMachineReport(machine, report, at) {
      desired.set(machine, { ...(desired.get(machine) ?? emptyDesired(machine)), reported: jsonCopy(report), reportedAt: at });
    },
  };
}
