import type { HaltRecord, HoldRecord } from '../types.ts';
import { newHaltRecord, settingJson } from '../fleet-records.ts';
import type { MemoryAuditLog } from './memory-audit.ts';
import type { FleetMethods } from '../method-groups.ts';

/**
 * Settings, holds and halts for the memory store. Each write that appends an audit entry appends it
 * first: it is the only step that can throw (an unserialisable entry), so when it does, nothing else
 * has changed yet, which is what a database transaction gives the other stores.
 */
export function createMemoryFleet(audit: MemoryAuditLog): FleetMethods {
  // Settings are kept as JSON text: every read parses a fresh copy, as a database would.
  const settings = new Map<string, string>();
  const holds = new Map<string, HoldRecord>();
  // Halt `n` is at index `n - 1`.
  const halts: HaltRecord[] = [];

  const activeHalt = (app: string, version: string): HaltRecord | undefined => {
    // Newest first: an active halt is the latest of its version, and there is at most one.
    for (let i = halts.length - 1; i >= 0; i -= 1) {
      const h = halts[i]!;
      if (h.app === app && h.version === version && h.liftedAt === null) return h;
    }
    return undefined;
  };

  return {
    async getSetting(key) {
      const text = settings.get(key);
      return text === undefined ? undefined : (JSON.parse(text) as unknown);
    },
    async putSetting(key, value, entry) {
      const text = settingJson(key, value);
      audit.append(entry);
      settings.set(key, text);
    },

    async putHold(hold, entry) {
      const stored: HoldRecord = {
        instance: hold.instance,
        owner: hold.owner,
        reason: hold.reason,
        createdAt: hold.createdAt,
        until: hold.until,
      };
      audit.append(entry);
      holds.set(hold.instance, stored);
    },
    async deleteHold(instance, entry) {
      if (!holds.has(instance)) return false;
      audit.append(entry);
      holds.delete(instance);
      return true;
    },
    async listHolds() {
      return [...holds.values()]
        .sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0))
        .map((h) => ({ ...h }));
    },

    async insertHalt(halt, entry) {
      if (activeHalt(halt.app, halt.version)) return undefined;
      const stored = newHaltRecord(halts.length + 1, halt);
      audit.append(entry);
      halts.push(stored);
      return { ...stored };
    },
    async liftHalt(app, version, lift, entry) {
      const active = activeHalt(app, version);
      if (!active) return undefined;
      audit.append(entry);
      Object.assign(active, { liftedBy: lift.by, liftedAt: lift.at, liftReason: lift.reason });
      return { ...active };
    },
    async listHalts(filter = {}) {
      const out: HaltRecord[] = [];
      for (let i = halts.length - 1; i >= 0; i -= 1) {
        const h = halts[i]!;
        if (filter.app !== undefined && h.app !== filter.app) continue;
        if (filter.version !== undefined && h.version !== filter.version) continue;
        if (filter.active === true && h.liftedAt !== null) continue;
        out.push({ ...h });
      }
      return out;
    },
  };
}
