import type { Store } from '../store.ts';
import type { DeploymentRecord, LockRecord, ReleaseRecord, TokenRecord } from '../types.ts';
import { createMemoryAuditLog, jsonCopy, memoryAuditMethods } from './memory-audit.ts';
import { createMemoryChannels } from './memory-channels.ts';
import { createMemoryDeployments } from './memory-deployments.ts';
import { createMemoryFleet } from './memory-fleet.ts';
import { createMemoryInstances } from './memory-instances.ts';
import { createMemoryLeases } from './memory-leases.ts';
import { createMemoryProblems } from './memory-problems.ts';
import { createMemoryMachines } from './memory-machines.ts';
import { createMemoryAppConfig } from './memory-app-config.ts';
import { createMemoryEdgeCertificates } from './memory-edge-certs.ts';

/**
 * An in-memory store for unit tests of services. Same contract as the SQLite store. Every method
 * does its work synchronously before its promise settles, so each call is atomic: the JS event
 * loop gives it the isolation a database transaction would.
 */
export function createMemoryStore(): Store {
  const releases = new Map<string, ReleaseRecord>();
  const deployments = new Map<string, DeploymentRecord>();
  const locks = new Map<string, LockRecord>();
  const tokens = new Map<string, TokenRecord>();
  const tokenNames = new Set<string>();
  const audit = createMemoryAuditLog();
  let releaseSeq = 0;
  const releaseOrder = new Map<string, number>();

  return {
    async insertRelease(release) {
      const key = `${release.app}@${release.version}`;
      if (releases.has(key)) return false;
      releases.set(key, jsonCopy(release));
      releaseOrder.set(key, releaseSeq++);
      return true;
    },
    async getRelease(app, version) {
      const r = releases.get(`${app}@${version}`);
      return r && jsonCopy(r);
    },
    async listReleases(app) {
      return [...releases.entries()]
        .filter(([, r]) => app === undefined || r.app === app)
        .sort(
          ([a, ra], [b, rb]) => rb.createdAt - ra.createdAt || releaseOrder.get(b)! - releaseOrder.get(a)!,
        )
        .map(([, r]) => jsonCopy(r));
    },
    async listApps() {
      return [...new Set([...releases.values()].map((r) => r.app))].sort();
    },

    ...createMemoryInstances(audit, locks),

    ...createMemoryDeployments(deployments),

    ...createMemoryLeases(locks, deployments, audit),

    async insertToken(token) {
      if (tokenNames.has(token.name) || tokens.has(token.hash)) return false;
      tokens.set(token.hash, jsonCopy(token));
      tokenNames.add(token.name);
      return true;
    },
    async findTokenByHash(hash) {
      const t = tokens.get(hash);
      return t && jsonCopy(t);
    },
    async listTokens() {
      return [...tokens.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((t) => jsonCopy(t));
    },
    async deleteToken(name) {
      if (!tokenNames.delete(name)) return false;
      for (const [hash, t] of tokens) if (t.name === name) tokens.delete(hash);
      return true;
    },
    async countTokens() {
      return tokens.size;
    },

    ...memoryAuditMethods(audit),

    ...createMemoryChannels(audit),

    ...createMemoryProblems(),

    ...createMemoryFleet(audit),
    ...createMemoryMachines(audit),

    ...createMemoryAppConfig(audit),
    ...createMemoryEdgeCertificates(audit),

    async close() {},
  };
}
