// What `cutover status` says about the agent check, and the exit code it ends with.
import { EXIT_NOT_ROUTED_AS_RECORDED, exitCodeFor } from '../shared/index.ts';
import type { AgentCheck } from '../api/index.ts';

/** An instance status as far as the agent check goes (`agent` is absent from older servers). */
type Checked = { name: string; agent?: AgentCheck };

const failing = (instances: Checked[]) => instances.filter((i): i is Required<Checked> => i.agent !== undefined && !i.agent.ok);

/** One line per difference after the table; empty when every instance is routed as recorded. */
export function agentLines(instances: Checked[]): string {
  const bad = failing(instances);
  if (bad.length === 0) return '';
  const lines: string[] = [''];
  const unreachable = bad.find((i) => i.agent.state === 'unreachable');
  if (unreachable) lines.push(`agent unreachable: ${unreachable.agent.problems[0] ?? ''}`);
  for (const i of bad) {
    if (i.agent.state === 'unreachable') continue;
    for (const p of i.agent.problems) lines.push(`${i.name}: NOT ROUTED AS RECORDED: ${p}`);
  }
  return lines.join('\n');
}

/**
 * `status` fails when something is wrong with what serves: 6 when the agent is unreachable, 11
 * when an instance is not routed as recorded (docs/operations.md, "Exit codes"); 0 otherwise.
 */
export function statusExitCode(instances: Checked[]): number {
  const bad = failing(instances);
  if (bad.some((i) => i.agent.state === 'unreachable')) return exitCodeFor('AGENT_UNREACHABLE');
  return bad.length > 0 ? EXIT_NOT_ROUTED_AS_RECORDED : 0;
}

/**
 * `deploy --if-needed`: whether the instance already serves `version` (the CLI also asks whether its app config is pending), so there is nothing to do:
 * it is its current version, no deployment is running, and the agent serves it as recorded (an
 * instance whose agent lost it, `needs-deploy`, is deployed again).
 */
export function alreadyServes(
  s: Checked & { currentVersion: string | null; lastDeployment: { status: string } | null },
  version: string,
): boolean {
  return s.currentVersion === version && s.lastDeployment?.status !== 'running' && (s.agent === undefined || s.agent.ok);
}
