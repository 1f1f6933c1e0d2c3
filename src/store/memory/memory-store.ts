import type { Store } from '../store.ts';
import type {
  AuditEntry,
  DeploymentRecord,
  InstanceRecord,
  LockRecord,
  LockResult,
  NewAuditEntry,
  ReleaseRecord,
  TokenRecord,
} from '../types.ts';

const copy = <T>(value: T): T => structuredClone(value);

/** An in-memory store for unit tests of services. Same contract as the SQLite store. */
export function createMemoryStore(): Store {
  const releases = new Map<string, ReleaseRecord>();
  const instances = new Map<string, InstanceRecord>();
  const deployments = new Map<string, DeploymentRecord>();
  const locks = new Map<string, LockRecord>();
  const tokens = new Map<string, TokenRecord>();
  const audit: AuditEntry[] = [];
  let releaseSeq = 0;
  const releaseOrder = new Map<string, number>();
  let deploymentSeq = 0;
  const deploymentOrder = new Map<string, number>();

  return {
    async insertRelease(release) {
      const key = `${release.app}@${release.version}`;
      if (releases.has(key)) return false;
      releases.set(key, copy(release));
      releaseOrder.set(key, releaseSeq++);
      return true;
    },
    async getRelease(app, version) {
      const r = releases.get(`${app}@${version}`);
      return r && copy(r);
    },
    async listReleases(app) {
      return [...releases.entries()]
        .filter(([, r]) => app === undefined || r.app === app)
        .sort(([a, ra], [b, rb]) => rb.createdAt - ra.createdAt || releaseOrder.get(b)! - releaseOrder.get(a)!)
        .map(([, r]) => copy(r));
    },
    async listApps() {
      return [...new Set([...releases.values()].map((r) => r.app))].sort();
    },
    async insertInstance(instance) {
      if (instances.has(instance.name)) return false;
      instances.set(instance.name, copy(instance));
      return true;
    },
    async getInstance(name) {
      const i = instances.get(name);
      return i && copy(i);
    },
    async listInstances() {
      return [...instances.values()].sort((a, b) => a.name.localeCompare(b.name)).map(copy);
    },
    async updateInstance(instance) {
      if (instances.has(instance.name)) instances.set(instance.name, copy(instance));
    },
    async insertDeployment(deployment) {
      deployments.set(deployment.id, copy(deployment));
      deploymentOrder.set(deployment.id, deploymentSeq++);
    },
    async updateDeployment(deployment) {
      if (deployments.has(deployment.id)) deployments.set(deployment.id, copy(deployment));
    },
    async getDeployment(id) {
      const d = deployments.get(id);
      return d && copy(d);
    },
    async listDeployments(filter = {}) {
      return [...deployments.values()]
        .filter((d) => filter.instance === undefined || d.instance === filter.instance)
        .filter((d) => filter.status === undefined || d.status === filter.status)
        .sort((a, b) => b.createdAt - a.createdAt || deploymentOrder.get(b.id)! - deploymentOrder.get(a.id)!)
        .slice(0, filter.limit ?? Infinity)
        .map(copy);
    },
    async acquireLock(lock, now): Promise<LockResult> {
      const held = locks.get(lock.instance);
      if (held && held.expiresAt > now && held.owner !== lock.owner) return { ok: false, holder: copy(held) };
      locks.set(lock.instance, copy(lock));
      return { ok: true, lock: copy(lock) };
    },
    async releaseLock(instance, owner) {
      const held = locks.get(instance);
      if (!held || held.owner !== owner) return false;
      locks.delete(instance);
      return true;
    },
    async getLock(instance) {
      const l = locks.get(instance);
      return l && copy(l);
    },
    async insertToken(token) {
      if ([...tokens.values()].some((t) => t.name === token.name)) return false;
      tokens.set(token.hash, copy(token));
      return true;
    },
    async findTokenByHash(hash) {
      const t = tokens.get(hash);
      return t && copy(t);
    },
    async countTokens() {
      return tokens.size;
    },
    async appendAudit(entry: NewAuditEntry) {
      const stored: AuditEntry = { ...copy(entry), id: audit.length + 1 };
      if (stored.reason === undefined) delete stored.reason;
      audit.push(stored);
      return copy(stored);
    },
    async listAudit(filter = {}) {
      return audit
        .filter((e) => filter.subject === undefined || e.subject === filter.subject)
        .slice()
        .reverse()
        .slice(0, filter.limit ?? Infinity)
        .map(copy);
    },
    async close() {},
  };
}
