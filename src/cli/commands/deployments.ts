import type { Command } from 'commander';
import type { AppConfigDiffView, DeploymentView, InstanceStatus, ListOf } from '../../api/index.ts';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { durationFlag, onTargetText, resolvedText, when, withQuery } from '../format.ts';
import type { ApiClient } from '../api-client.ts';
import { ExitWith, output, table } from '../output.ts';
import { agentLines, alreadyServes, statusExitCode } from '../status-check.ts';
import type { Output } from '../output.ts';
import { globals } from './globals.ts';
import { rollbackLine, stepLine } from '../step-lines.ts';
import { expiringCertificates, expiryLines } from '../tls-expiry.ts';

function describeDeployment(d: DeploymentView): string {
  const lines = [
    `${d.kind} ${d.id}: ${d.instance} ${d.fromVersion ?? '(nothing)'} → ${d.toVersion} on ${d.toColor} — ${d.status}`,
    ...d.steps.map((s) => `  ${s.status.padEnd(8)} ${stepLine(s).slice(2)}`),
    ...(rollbackLine(d) ? [`  ${rollbackLine(d)}`] : []),
  ];
  if (d.error) lines.push(`  error [${d.error.code}]: ${d.error.message}`);
  if (d.machines && d.status === 'partial') lines.push(`  not confirmed on: ${behind(d)}; they converge when back`);
  return lines.join('\n');
}

/** One instance's machines: what each serves, asked now or from its last report. */
function machineTable(s: InstanceStatus): string {
  if (!s.machines || s.machines.length === 0) return '';
  const rows = [['MACHINE', 'CONNECTED', 'SERVES', 'ON LIVE RELEASE', 'AS OF']];
  for (const m of s.machines) {
    rows.push([m.name, m.connected ? 'yes' : 'no', m.serving ? `${m.serving.version} (${m.serving.color})` : '-', m.onDesired ? 'yes' : 'no', m.asOf ? when(m.asOf) : 'never']);
  }
  const settled = s.settled ? 'settled: every connected machine serves the live release and acknowledged its desired state' : 'not settled yet: a flip or a convergence is on its way (see the machines above)';
  return `\n${table(rows)}\n${settled}`;
}

/** What a weighted step holding now waits for, as one progress line (undefined for other steps). */
function holdingLine(d: DeploymentView): string | undefined {
  const s = d.steps.find((x) => x.status === 'running' && x.name.startsWith('shift-'));
  const holding = s?.detail?.holding;
  if (!s || typeof holding !== 'string') return undefined;
  const until = holding === 'until resumed' ? 'until `cutover resume ' + d.instance + '`' : `until ${holding}`;
  const why = typeof s.detail?.why === 'string' ? ` (${s.detail.why})` : '';
  return `  … ${s.name}: ${String(s.detail?.percent)}% of new clients on ${d.toVersion}, holding ${until}${why}; \`cutover abort ${d.instance}\` stops it`;
}

/** Follows a deployment to its end, printing each step as it finishes; throws if it failed or was aborted. */
export async function follow(client: ApiClient, started: DeploymentView, out: Output): Promise<DeploymentView> {
  const printed = new Set<string>();
  let d = started;
  let lastHolding: string | undefined;
  out.progress(`${d.kind} ${d.id}: ${d.instance} → ${d.toVersion} (${d.strategy}, ${d.toColor} slot)`);
  for (;;) {
    const holding = holdingLine(d);
    if (holding && holding !== lastHolding) out.progress(holding);
    lastHolding = holding;
    for (const s of d.steps) {
      if ((s.status === 'done' || s.status === 'failed') && !printed.has(s.name)) {
        printed.add(s.name);
        out.progress(`  ${stepLine(s)}`);
      }
    }
    if (d.status !== 'running') break;
    d = await client.call<DeploymentView>('GET', withQuery(apiPath('deployments', d.id), { wait: Math.min(2000, Math.floor(client.timeoutMs / 2)) }));
  }
  const back = rollbackLine(d);
  if (back) out.progress(`  ${back}`);
  if (d.status === 'failed' || d.status === 'aborted') {
    throw new CutoverError(d.error?.code ?? 'DEPLOYMENT_FAILED', d.error?.message ?? `the deployment ${d.status}`, {
      details: { deployment: d.id, ...(d.error?.details ?? {}) },
    });
  }
  return d;
}

interface DeployFlags {
  wait?: boolean;
  ifNeeded?: boolean;
  reason?: string;
  steps?: string;
  pause?: string;
  analysis?: boolean;
  skipTests?: boolean;
  skipUnreachable?: boolean;
  rolling?: boolean;
  maxUnavailable?: string;
  maxFailures?: string;
  appConfigOnly?: boolean;
}

/** Exit code of `deploy`/`rollback --wait` that flipped with machines left behind (they converge when back). */
export const PARTIAL_EXIT = 12;

/** The machines a partial deployment left behind, one phrase: `web-3 unconfirmed, web-4 unreachable (skipped)`. */
/** Whether the instance's app config changed since its live slot started (what `app-config diff` shows). */
async function configPending(client: ApiClient, instance: string): Promise<boolean> {
  const diff = await client.call<AppConfigDiffView>('GET', apiPath('instances', instance, 'app-config', 'diff'));
  return diff.changes.length > 0;
}

function behind(d: DeploymentView): string {
  const m = d.machines;
  if (!m) return '';
  return [
    ...m.unconfirmed.map((x) => `${x} unconfirmed`),
    ...m.pending.map((x) => `${x} pending`),
    ...m.skipped.map((x) => `${x} unreachable (skipped)`),
    ...(m.failed ?? []).map((x) => `${x} failed (within --max-failures)`),
  ].join(', ');
}

/** `--rolling [--max-unavailable N] [--max-failures N]` as the deploy body's field. */
function rollingFlags(opts: DeployFlags): Record<string, unknown> {
  if (!opts.rolling) {
    for (const [flag, value] of [['--max-unavailable', opts.maxUnavailable], ['--max-failures', opts.maxFailures]] as const) {
      if (value !== undefined) throw new CutoverError('VALIDATION_FAILED', `${flag} goes with --rolling`);
    }
    return {};
  }
  const n = opts.maxUnavailable === undefined ? 1 : Number(opts.maxUnavailable);
  if (!Number.isInteger(n) || n < 1) throw new CutoverError('VALIDATION_FAILED', `--max-unavailable must be a whole number of machines, 1 or more; got "${opts.maxUnavailable}"`);
  const f = opts.maxFailures === undefined ? 0 : Number(opts.maxFailures);
  if (!Number.isInteger(f) || f < 0) throw new CutoverError('VALIDATION_FAILED', `--max-failures must be a whole number of machines, 0 or more; got "${opts.maxFailures}"`);
  return { rolling: { maxUnavailable: n, ...(f > 0 ? { maxFailures: f } : {}) } };
}

/** `--pause`: "manual", or a duration checked here so a bare number is refused (the API reads a JSON number as ms). */
const pauseValue = (pause: string): string => (pause === 'manual' ? 'manual' : `${durationFlag(pause, '--pause', '2m')}ms`);

/** `--steps 10,50,100 --pause 2m --analysis` as the deploy body's fields (the server checks them). */
function rolloutFlags(opts: DeployFlags): Record<string, unknown> {
  if (opts.steps === undefined) {
    // Whether they may come without --steps is a rollout rule: the server's (deploy/rollout.ts).
    return { ...(opts.pause === undefined ? {} : { pause: pauseValue(opts.pause) }), ...(opts.analysis ? { analysis: true } : {}) };
  }
  const steps = opts.steps.split(',').map((p) => p.trim().replace(/%$/, ''));
  if (steps.some((p) => !/^\d+$/.test(p))) {
    throw new CutoverError('VALIDATION_FAILED', `--steps must be percents separated by commas, e.g. 10,50,100; got "${opts.steps}"`);
  }
  return {
    steps: steps.map(Number),
    // Checked here so a bare number is refused; the API itself reads a JSON number as milliseconds.
    ...(opts.pause === undefined ? {} : { pause: pauseValue(opts.pause) }),
    ...(opts.analysis ? { analysis: true } : {}),
  };
}

/** `web-1 1.1.0, web-2 1.0.0! (away)`: each machine with what it serves. */
function machinesText(i: InstanceStatus): string {
  return (i.machines ?? []).map((m) => `${m.name} ${m.serving?.version ?? 'nothing'}${m.onDesired ? '' : '!'}${m.connected ? '' : ' (away)'}`).join(', ') || '-';
}

/** The status table; `wide` (-o wide) adds the target, the agent check and the last deployment. */
function statusRows(instances: InstanceStatus[], wide = false): string {
  // Instances on several machines: what each serves, `!` where not the live release, `(away)` from its last report.
  const withMachines = instances.some((i) => (i.machines?.length ?? 0) > 1 || i.machines?.some((m) => !m.onDesired || !m.connected));
  const rows = [['INSTANCE', 'APP', 'ENV', 'VERSION', 'ACTIVE', 'BLUE', 'GREEN', 'HOSTS', 'ISOLATION', ...(wide ? ['TARGET', 'ON TARGET', 'AGENT', 'LAST DEPLOYMENT'] : [])]];
  for (const i of instances) {
    const slot = (c: 'blue' | 'green') => {
      const s = i.slots[c];
      const seen = i.runtime?.slots.find((r) => r.color === c);
      if (!s) return '-';
      const drain = seen?.drain?.message ?? (seen?.drain?.pending === undefined ? '' : `${seen.drain.pending} pending`);
      return `${s.version} ${s.status}${seen ? `/${seen.state}` : ''}${drain ? ` (${drain})` : ''}`;
    };
    const shift = i.runtime?.shift;
    const flags = [shift ? `${shift.color} ${shift.percent}%` : '', i.runtime?.preview ? 'preview' : '', i.runtime?.maintenance ? 'MAINTENANCE' : '']
      .filter(Boolean)
      .join(', ');
    const active = `${i.activeColor ?? '-'}${flags ? ` (${flags})` : ''}`;
    // uid: the slots run as the instance's own uid; none: as the agent's (see docs/architecture.md).
    const isolation = i.runtime?.isolation ?? '-';
    const last = i.lastDeployment;
    const more = wide
      ? [resolvedText(i), onTargetText(i), i.agent?.state ?? '-', last ? `${last.kind} ${last.toVersion} ${last.status} ${when(last.createdAt)}` : '-']
      : [];
    rows.push([i.name, i.app, i.environment, i.currentVersion ?? '-', active, slot('blue'), slot('green'), i.hosts.join(','), isolation, ...more, ...(withMachines ? [machinesText(i)] : [])]);
  }
  if (withMachines) rows[0]!.push('MACHINES');
  return table(rows);
}

export function registerDeploymentCommands(program: Command): void {
  program
    .command('deploy')
    .description('deploy a release to an instance: start it in the idle slot, health-check it, flip')
    .argument('<instance>', 'instance name')
    .argument('[version]', 'release version (with --app-config-only: default the current one)')
    .option('--wait', 'wait until the deployment has finished, showing each step')
    .option('--app-config-only', "deploy the instance's current release with the current app config, blue-green (a new slot, a flip, rollbackable)")
    .option('--reason <text>', 'why, for the audit log')
    .option('--steps <percents>', 'gradual cutover: percent of new clients on the new release at each step, e.g. 10,50,100 (0 = preview only)')
    .option('--pause <duration>', 'with --steps: hold between steps, e.g. 2m, or "manual" to wait for `cutover resume` (default 1m)')
    .option('--analysis', 'with --steps: compare the new release with the old one over each step; a breach aborts')
    .option('--skip-tests', "deploy without the release's smoke and verify tests: needs an admin token and --reason; audited")
    .option('--skip-unreachable', 'deploy to the connected machines of the instance, leaving out the unreachable ones (they converge when back): needs an admin token and --reason; audited')
    .option('--rolling', 'machine by machine instead of one barrier flip: each batch starts, is health-checked and flips; a failure flips the done batches back')
    .option('--max-unavailable <n>', 'with --rolling: machines per batch (default 1)')
    .option('--max-failures <n>', 'with --rolling: machines that may fail (left on the previous release, the deployment ends partial) before the rollout stops and flips back (default 0)')
    .option('--if-needed', 'when the instance already serves this version with its current app config, do nothing and exit 0 (no deployment, nothing audited): a CI step can run again')
    .action(async (instance: string, version: string | undefined, opts: DeployFlags, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      if (version === undefined && !opts.appConfigOnly) throw new CutoverError('VALIDATION_FAILED', 'give the version to deploy, or --app-config-only to deploy the current release with the current app config');
      const rollout = rolloutFlags(opts); // bad flags are refused even when there is nothing to do
      const rolling = rollingFlags(opts);
      const client = await connect(g);
      if (opts.ifNeeded) {
        const s = await client.call<InstanceStatus>('GET', apiPath('instances', instance));
        // Serving the version is not enough: app config changed since its live slot started is a
        // deployment still to make (a deployment is the pair release, config version).
        if (version !== undefined && alreadyServes(s, version) && !opts.appConfigOnly && !(await configPending(client, instance))) {
          out.result({ instance, version, alreadyServes: true, deployment: null }, () => `${instance} already serves ${version}; nothing to do`);
          return;
        }
      }
      let d = await client.call<DeploymentView>('POST', apiPath('instances', instance, 'deploy'), {
        ...(version !== undefined ? { version } : {}),
        ...(opts.appConfigOnly ? { appConfigOnly: true } : {}),
        ...(opts.reason ? { reason: opts.reason } : {}),
        ...rollout,
        ...rolling,
        ...(opts.skipTests ? { skipTests: true } : {}),
        ...(opts.skipUnreachable ? { skipUnreachable: true } : {}),
      });
      if (opts.wait) d = await follow(client, d, out);
      out.result(d, () =>
        !opts.wait
          ? `started ${d.id}; follow it with \`cutover status ${instance}\``
          : d.status === 'partial'
            ? `${instance} serves ${d.toVersion} (${d.toColor}) on the machines that confirmed; not on ${behind(d)}: they converge when back (\`cutover status ${instance}\`)`
            : `${instance} now serves ${d.toVersion} (${d.toColor})`,
      );
      if (opts.wait && d.status === 'partial') throw new ExitWith(PARTIAL_EXIT);
    });

  program
    .command('rollback')
    .description('go back to the previous release (a flip to the warm slot inside the rollback window), or to --to VERSION; refused right after a rollback')
    .argument('<instance>', 'instance name')
    .option('--to <version>', 'an earlier version the instance ran (default: the one before the current)')
    .option('--wait', 'wait until the rollback has finished')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (instance: string, opts: { wait?: boolean; reason?: string; to?: string }, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      const client = await connect(g);
      let d = await client.call<DeploymentView>('POST', apiPath('instances', instance, 'rollback'), {
        ...(opts.to ? { to: opts.to } : {}),
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
      if (opts.wait) d = await follow(client, d, out);
      out.result(d, () =>
        !opts.wait
          ? `started ${d.id} (${d.strategy} to ${d.toVersion})`
          : d.status === 'partial'
            ? `${instance} rolled back to ${d.toVersion} (${d.strategy}) on the reachable machines; not on ${behind(d)}: they converge when back`
            : `${instance} rolled back to ${d.toVersion} (${d.strategy})`,
      );
      if (opts.wait && d.status === 'partial') throw new ExitWith(PARTIAL_EXIT);
    });

  program
    .command('status')
    .description('what every instance (or one) serves, its slots, and its last deployment')
    .argument('[instance]', 'instance name')
    .action(async (instance: string | undefined, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      let checked: InstanceStatus[];
      const expiring = await expiringCertificates(client);
      const tls = expiring.length ? { tlsExpiring: expiring } : {};
      if (instance) {
        const s = await client.call<InstanceStatus>('GET', apiPath('instances', instance));
        checked = [s];
        output(g.format).result({ ...s, ...tls }, (wide) =>
          [statusRows([s], wide), machineTable(s), agentLines([s]), s.lastDeployment ? `\nlast ${describeDeployment(s.lastDeployment)}` : '', expiryLines(expiring)]
            .filter(Boolean)
            .join('\n'),
        );
      } else {
        const answer = await client.call<ListOf<InstanceStatus>>('GET', '/api/status');
        const instances = answer.items;
        checked = instances;
        output(g.format).result({ ...answer, ...tls }, (wide) =>
          [instances.length ? [statusRows(instances, wide), agentLines(instances)].filter(Boolean).join('\n') : 'no instances yet; create one with `cutover instance create`', expiryLines(expiring)]
            .filter(Boolean)
            .join('\n'),
        );
      }
      const code = statusExitCode(checked);
      if (code !== 0) throw new ExitWith(code);
    });
}
