import type { ProblemRecord } from '../types.ts';
import type { ProblemMethods } from '../method-groups.ts';

/** Problems for the memory store: problem `n` is at index `n - 1`. */
export function createMemoryProblems(): ProblemMethods {
  const problems: ProblemRecord[] = [];
  return {
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
  };
}
