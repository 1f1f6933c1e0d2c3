import type { Store } from '../store.ts';
import type {
  DeploymentRecord,
  InstanceRecord,
  LockRecord,
  LockResult,
  ProblemRecord,
  ReleaseRecord,
  TokenRecord,
} from '../types.ts';
import { applySpecChange, copyInstance, instanceState, missingInstances } from '../instance-record.ts';
import { createMemoryAuditLog, jsonCopy } from './memory-audit-log.ts';
import { canTakeLease, displacedDeployment } from '../lease-rules.ts';
import { createMemoryChannels } from './memory-channels.ts';
import { createMemoryFleet } from './memory-fleet.ts';

/** The index of the first name in sorted `names` that is greater than `after`. */
function firstAfter(names: string[], after: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (names[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * An in-memory store for unit tests of services. Same contract as the SQLite store. Every method
 * does its work synchronously before its promise settles, so each call is atomic: the JS event
 * loop gives it the isolation a database transaction would.
 */
export function createMemoryStore(): Store {
  const releases = new Map<string, ReleaseRecord>();
  const instances = new Map<string, InstanceRecord>();
  // Names in code-unit order (what `<` compares and what SQLite's BINARY collation gives for the
  // names Cutover allows), rebuilt lazily after an insert so paging costs a binary search, not a sort.
  let sortedNames: string[] | null = null;
  const deployments = new Map<string, DeploymentRecord>();
  const locks = new Map<string, LockRecord>();
  const tokens = new Map<string, TokenRecord>();
  const tokenNames = new Set<string>();
  const problems: ProblemRecord[] = [];
  const audit = createMemoryAuditLog();
  let releaseSeq = 0;
  const releaseOrder = new Map<string, number>();
  let deploymentSeq = 0;
  const deploymentOrder = new Map<string, number>();

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

    async insertInstance(instance) {
      if (instances.has(instance.name)) return false;
      instances.set(instance.name, copyInstance(instance));
      sortedNames = null;
      return true;
    },
    async getInstance(name) {
      const i = instances.get(name);
      return i && copyInstance(i);
    },
    async listInstances(page = {}) {
      sortedNames ??= [...instances.keys()].sort();
      const names = sortedNames;
      const start = page.after === undefined ? 0 : firstAfter(names, page.after);
      const end =
        page.limit === undefined ? names.length : Math.min(names.length, start + Math.max(0, page.limit));
      const out: InstanceRecord[] = [];
      for (let k = start; k < end; k += 1) out.push(copyInstance(instances.get(names[k]!)!));
      return out;
    },
    async saveInstanceState(instance) {
      const stored = instances.get(instance.name);
      if (!stored) return;
      Object.assign(stored, instanceState(instance), { updatedAt: instance.updatedAt });
    },
    async updateInstanceSpecs(changes, at, entries) {
      const missing = missingInstances(changes, (name) => instances.has(name));
      if (missing.length > 0) return { missing };
      // Audit first: it is the only step that can throw, and it appends all entries or none.
      audit.appendAll(entries);
      for (const change of changes) applySpecChange(instances.get(change.name)!, change, at);
      return { missing: [] };
    },
    async deleteInstance(name, entry) {
      if (!instances.has(name)) return false;
      audit.appendAll([entry]);
      instances.delete(name);
      locks.delete(name);
      sortedNames = null;
      return true;
    },

    async insertDeployment(deployment) {
      deployments.set(deployment.id, jsonCopy(deployment));
      deploymentOrder.set(deployment.id, deploymentSeq++);
    },
    async updateDeployment(deployment) {
      if (deployments.has(deployment.id)) deployments.set(deployment.id, jsonCopy(deployment));
    },
    async getDeployment(id) {
      const d = deployments.get(id);
      return d && jsonCopy(d);
    },
    async listDeployments(filter = {}) {
      return [...deployments.values()]
        .filter(
          (d) =>
            (filter.instance === undefined || d.instance === filter.instance) &&
            (filter.status === undefined || d.status === filter.status) &&
            (filter.actor === undefined || d.actor === filter.actor) &&
            (filter.since === undefined || d.createdAt >= filter.since) &&
            (filter.before === undefined || d.createdAt < filter.before),
        )
        .sort((a, b) => b.createdAt - a.createdAt || deploymentOrder.get(b.id)! - deploymentOrder.get(a.id)!)
        .slice(0, filter.limit === undefined ? Infinity : Math.max(0, filter.limit))
        .map(jsonCopy);
    },

    async acquireLock(lock, now, options = {}): Promise<LockResult> {
      const held = locks.get(lock.instance);
      if (!canTakeLease(held, lock, now, options.takeFrom)) return { ok: false, holder: jsonCopy(held!) };
      // Settle first: a supersede that throws leaves the lease as it was (what a rollback gives).
      const displaced = displacedDeployment(held, lock);
      const running = displaced === undefined ? undefined : deployments.get(displaced);
      let superseded: DeploymentRecord | undefined;
      if (running?.status === 'running' && options.supersede) {
        const settled = options.supersede(jsonCopy(running), now);
        superseded = jsonCopy(settled.deployment);
        audit.appendAll([settled.audit]);
        deployments.set(superseded.id, jsonCopy(superseded));
      }
      locks.set(lock.instance, jsonCopy(lock));
      return { ok: true, lock: jsonCopy(lock), ...(superseded ? { superseded } : {}) };
    },
    async releaseLock(instance, owner) {
      const held = locks.get(instance);
      if (!held || held.owner !== owner) return false;
      locks.delete(instance);
      return true;
    },
    async getLock(instance) {
      const l = locks.get(instance);
      return l && jsonCopy(l);
    },

    async insertToken(token) {
      if (tokenNames.has(token.name) || tokens.has(token.hash)) return false;
      tokens.set(token.hash, { ...token });
      tokenNames.add(token.name);
      return true;
    },
    async findTokenByHash(hash) {
      const t = tokens.get(hash);
      return t && { ...t };
    },
    async listTokens() {
      return [...tokens.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((t) => ({ ...t }));
    },
    async deleteToken(name) {
      if (!tokenNames.delete(name)) return false;
      for (const [hash, t] of tokens) if (t.name === name) tokens.delete(hash);
      return true;
    },
    async countTokens() {
      return tokens.size;
    },

    async appendAudit(entry) {
      return audit.append(entry);
    },
    async listAudit(filter) {
      return audit.list(filter);
    },
    async readAuditChain(after, limit) {
      return audit.readChain(after, limit);
    },
    async auditHead() {
      return audit.head();
    },

    ...createMemoryChannels(audit),

    async insertProblem(problem) {
      const stored: ProblemRecord = {
        id: problems.length + 1,
        app: problem.app,
        version: problem.version,
        title: problem.title,
        details: problem.details,
        status: 'open',
        source: problem.source,
        reportedBy: problem.reportedBy,
        reportedAt: problem.reportedAt,
        resolvedBy: null,
        resolvedAt: null,
        resolution: null,
      };
      problems.push(stored);
      return { ...stored };
    },
    async getProblem(id) {
      const p = problems[id - 1];
      return p && { ...p };
    },
    async resolveProblem(id, by, at, resolution) {
      const p = problems[id - 1];
      if (!p || p.status !== 'open') return undefined;
      Object.assign(p, { status: 'resolved', resolvedBy: by, resolvedAt: at, resolution });
      return { ...p };
    },
    async listProblems(filter = {}) {
      const out: ProblemRecord[] = [];
      for (let i = problems.length - 1; i >= 0; i -= 1) {
        const p = problems[i]!;
        if (filter.app !== undefined && p.app !== filter.app) continue;
        if (filter.version !== undefined && p.version !== filter.version) continue;
        if (filter.status !== undefined && p.status !== filter.status) continue;
        out.push({ ...p });
      }
      return out;
    },

    ...createMemoryFleet(audit),

    async close() {},
  };
}
