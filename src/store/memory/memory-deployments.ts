import type { DeploymentRecord } from '../types.ts';
import type { DeploymentMethods } from '../method-groups.ts';
import { jsonCopy } from './memory-audit.ts';

/**
 * Deployments for the memory store, kept in `deployments` (shared with the leases, which settle a
 * superseded deployment in the same step as they take its lease).
 */
export function createMemoryDeployments(deployments: Map<string, DeploymentRecord>): DeploymentMethods {
  let deploymentSeq = 0;
  const deploymentOrder = new Map<string, number>();
  return {
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
  };
}
