import type { Command } from 'commander';
import type { HaltView, HoldView, ListOf, PlanEntry } from '../../api/index.ts';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { compactJson, durationFlag, timeFlag, when, withQuery } from '../format.ts';
import { exitCodeFor, output, table } from '../output.ts';
import { globals } from './globals.ts';

interface PlanAnswer {
  at: string;
  counts: Record<string, number>;
  halts: Array<{ app: string; version: string; reason: string }>;
  total: number;
  entries: PlanEntry[];
}
type Hold = HoldView;

const versionOf = (d: PlanEntry['decision']): string => String(d.to ?? d.version ?? '-');

async function unhold(g: ReturnType<typeof globals>, name: string, reason: string | undefined): Promise<void> {
  const client = await connect(g);
  const hold = await client.call<Hold>('POST', apiPath('instances', name, 'unhold'), reason ? { reason } : {});
  output(g.format).result(hold, () => `released the hold on ${hold.instance} (was: ${hold.reason})`);
}

/** `plan`, `why`, `hold`, `unhold`, `holds`, `fleet show|policy|resume|tick`. */
export function registerFleetCommands(program: Command): void {
  program
    .command('plan')
    .description('dry run of the fleet scheduler: what it would upgrade, to what, when, in which wave, and why not for the rest')
    .option('--at <time>', 'plan as of this time (ISO, or a duration from now like 6h); the fleet as it is now')
    .option('--selector <selector>', 'only these instances, e.g. environment=production,tenant=acme')
    .option('--limit <n>', 'at most this many instances (default 1000)')
    .action(async (opts: { at?: string; selector?: string; limit?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const plan = await client.call<PlanAnswer>('GET', withQuery('/api/fleet/plan', { at: timeFlag(opts.at, '--at', Date.now(), 'ahead'), selector: opts.selector, limit: opts.limit }));
      output(g.format).result(plan, () => {
        const counts = Object.entries(plan.counts)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ');
        const lines = [`plan as of ${plan.at}: ${plan.total} instance${plan.total === 1 ? '' : 's'} (${counts || 'none'})`];
        for (const h of plan.halts) lines.push(`would HALT ${h.app} ${h.version}: ${h.reason}`);
        if (plan.entries.length) {
          lines.push(
            table([
              ['INSTANCE', 'ENV', 'WAVE', 'DECISION', 'TO', 'WHEN (UTC)', 'WHEN (LOCAL)'],
              ...plan.entries.map((e) => [e.instance, e.environment, String(e.wave + 1), e.decision.kind, versionOf(e.decision), e.when ?? '-', e.whenLocal ?? '-']),
            ]),
          );
          lines.push('', ...plan.entries.filter((e) => e.decision.kind !== 'on-target').map((e) => `- ${e.why}`));
        }
        if (plan.total > plan.entries.length) lines.push(`(${plan.total - plan.entries.length} more; use --limit or --selector)`);
        return lines.join('\n');
      });
    });

  program
    .command('why')
    .description('where an instance stands with its target, in one sentence')
    .argument('<instance>')
    .option('--at <time>', 'as of this time (ISO, or a duration from now like 6h)')
    .action(async (name: string, opts: { at?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const entry = await client.call<PlanEntry>('GET', withQuery(apiPath('instances', name, 'why'), { at: timeFlag(opts.at, '--at', Date.now(), 'ahead') }));
      output(g.format).result(entry, () => entry.why);
    });

  program
    .command('hold')
    .description('hold an instance: the fleet scheduler leaves it alone; `--release` (or `cutover unhold`) ends the hold')
    .argument('<instance>')
    .option('--reason <text>', 'why (required to hold), for whoever wonders later')
    .option('--until <time>', 'when the hold ends by itself (ISO, or a duration from now like 3d)')
    .option('--release', 'release the hold instead')
    .action(async (name: string, opts: { reason?: string; until?: string; release?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (opts.release) {
        if (opts.until !== undefined) throw new CutoverError('VALIDATION_FAILED', '--until sets when a hold ends; it makes no sense with --release');
        return unhold(g, name, opts.reason);
      }
      if (!opts.reason?.trim()) throw new CutoverError('VALIDATION_FAILED', '--reason is required: say why the scheduler must leave this instance alone');
      const until = timeFlag(opts.until, '--until', Date.now(), 'ahead');
      const client = await connect(g);
      const hold = await client.call<Hold>('PUT', apiPath('instances', name, 'hold'), { reason: opts.reason, ...(until ? { until } : {}) });
      output(g.format).result(hold, () => `held ${hold.instance} (${hold.owner}${hold.until ? `, until ${when(hold.until)}` : ', until released'}): ${hold.reason}`);
    });

  program
    .command('unhold')
    .description("release an instance's hold (the scheduler may change it again); same as `cutover hold INSTANCE --release`")
    .argument('<instance>')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (name: string, opts: { reason?: string }, cmd: Command) => unhold(globals(cmd), name, opts.reason));

  program
    .command('holds')
    .description('holds in force')
    .action(async (_opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const answer = await client.call<ListOf<Hold>>('GET', '/api/holds');
      const holds = answer.items;
      output(g.format).result(answer, () =>
        holds.length
          ? table([['INSTANCE', 'BY', 'SINCE', 'UNTIL', 'REASON'], ...holds.map((h) => [h.instance, h.owner, when(h.createdAt), h.until ? when(h.until) : 'released', h.reason])])
          : 'no holds',
      );
    });

  const fleet = program.command('fleet').description('the fleet scheduler: policy, halted rollouts, a pass now');

  fleet
    .command('show')
    .description('the fleet policy, halted rollouts, holds and the last scheduler pass')
    .action(async (_opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const f = await client.call<{ policy: Record<string, unknown>; halts: HaltView[]; holds: Hold[]; lastTick: unknown }>('GET', '/api/fleet');
      output(g.format).result(f, () =>
        [
          'policy',
          ...Object.entries(f.policy).map(([k, v]) => `  ${k.padEnd(22)} ${compactJson(v, 120)}`),
          f.halts.length ? 'halted rollouts' : 'no halted rollouts',
          ...f.halts.map((h) => `  ${h.app} ${h.version} since ${when(h.haltedAt)}${h.problemId ? ` (problem #${h.problemId})` : ''}: ${h.reason}`),
          `${f.holds.length} hold(s)`,
        ].join('\n'),
      );
    });

  fleet
    .command('policy')
    .description('change the fleet policy; unnamed settings keep their value')
    .option('--enable', 'let the scheduler upgrade instances')
    .option('--disable', 'stop the scheduler from upgrading anything')
    .option('--waves <list>', 'environments in rollout order with successes needed, e.g. test:2,staging,production')
    .option('--window <env=window...>', 'default window of an environment, e.g. "production=daily 01:00-04:00 Europe/London" (repeatable; other environments keep theirs; ENV=default removes one)')
    .option('--default-window <window>', 'window of instances with neither their own nor an environment default')
    .option('--max-parallel <n>', 'upgrades at once, fleet-wide')
    .option('--max-parallel-per-machine <n>', 'upgrades at once per machine (an upgrade runs on every machine of its instance)')
    .option('--max-parallel-per-host <n>', 'deprecated: the old name of --max-parallel-per-machine')
    .option('--budget <n>', 'halt a version when more than n instances failed to upgrade to it')
    .option('--budget-share <share>', 'or when more than this share (0–1) of those tried failed')
    .option('--retries <n>', 'attempts per instance and version before giving up')
    .option('--apply-app-config <on|off>', "on: deploy pending app config in each instance's window (the same release again, blue-green); off: it waits for deploy --app-config-only")
    .option('--backoff <duration>', 'wait after a first failure, doubled after each further one (e.g. 10m)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (opts: Record<string, string | string[] | boolean | undefined>, cmd: Command) => {
      const g = globals(cmd);
      const policy: Record<string, unknown> = {};
      const int = wholeNumber;
      if (opts.enable && opts.disable) throw new CutoverError('VALIDATION_FAILED', '--enable and --disable contradict each other; give one');
      if (opts.enable) policy.enabled = true;
      if (opts.disable) policy.enabled = false;
      if (opts.applyAppConfig !== undefined) {
        if (opts.applyAppConfig !== 'on' && opts.applyAppConfig !== 'off') throw new CutoverError('VALIDATION_FAILED', `--apply-app-config takes on or off, not "${String(opts.applyAppConfig)}"`);
        policy.applyAppConfig = opts.applyAppConfig === 'on';
      }
      if (typeof opts.waves === 'string') {
        policy.waves = opts.waves.split(',').map((w) => {
          const [environment, n] = w.trim().split(':');
          return { environment, ...(n === undefined ? {} : { minSuccesses: int('waves', n) }) };
        });
      }
      const client = await connect(g);
      if (opts.window) {
        // Named environments change; the others keep their default window.
        const current = await client.call<{ policy: { windows: Record<string, string> } }>('GET', '/api/fleet');
        const windows: Record<string, string> = { ...current.policy.windows };
        for (const w of ([] as string[]).concat(opts.window as string[])) {
          const eq = w.indexOf('=');
          if (eq < 1) throw new CutoverError('VALIDATION_FAILED', `--window takes ENV=WINDOW, e.g. "production=daily 01:00-04:00 Europe/London", not "${w}"`);
          const env = w.slice(0, eq).trim();
          const text = w.slice(eq + 1).trim();
          // ENV=default removes the environment's default window.
          if (text === 'default') delete windows[env];
          else windows[env] = text;
        }
        policy.windows = windows;
      }
      if (typeof opts.defaultWindow === 'string') policy.defaultWindow = opts.defaultWindow;
      if (typeof opts.maxParallel === 'string') policy.maxParallel = int('max-parallel', opts.maxParallel);
      const perMachine = perMachineLimit(opts);
      if (perMachine.value !== undefined) policy.maxParallelPerMachine = perMachine.value;
      const budget: Record<string, number> = {};
      if (typeof opts.budget === 'string') budget.maxFailures = int('budget', opts.budget);
      if (typeof opts.budgetShare === 'string') budget.maxShare = Number(opts.budgetShare);
      if (Object.keys(budget).length) policy.failureBudget = budget;
      const retry: Record<string, number> = {};
      if (typeof opts.retries === 'string') retry.maxAttempts = int('retries', opts.retries);
      if (typeof opts.backoff === 'string') {
        retry.backoffMs = durationFlag(opts.backoff, '--backoff', '10m');
      }
      if (Object.keys(retry).length) policy.retry = retry;
      if (Object.keys(policy).length === 0) throw new CutoverError('VALIDATION_FAILED', 'nothing to change: give at least one setting (see `cutover fleet policy --help`)');
      const out = output(g.format);
      if (perMachine.warning) out.warn(perMachine.warning);
      const { warnings, ...after } = await client.call<Record<string, unknown> & { warnings?: string[] }>('PATCH', '/api/fleet/policy', { policy, ...(typeof opts.reason === 'string' ? { reason: opts.reason } : {}) });
      // The server's warnings (a deprecated key) go to stderr too: stdout stays the policy.
      for (const w of warnings ?? []) out.warn(w);
      out.result(after, () => ['fleet policy now', ...Object.entries(after).map(([k, v]) => `  ${k.padEnd(22)} ${compactJson(v, 120)}`)].join('\n'));
    });

  fleet
    .command('resume')
    .description("lift a version's halted rollout (its failure count starts again)")
    .argument('<version>')
    .requiredOption('--reason <text>', 'why the rollout may go on')
    .option('--app <app>', 'the app, when several have this version')
    .action(async (version: string, opts: { reason: string; app?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const halt = await client.call<{ app: string; version: string }>('POST', '/api/fleet/resume', { version, reason: opts.reason, ...(opts.app ? { app: opts.app } : {}) });
      output(g.format).result(halt, () => `resumed the rollout of ${halt.app} ${halt.version}`);
    });

  fleet
    .command('tick')
    .description('run one scheduler pass now (otherwise it runs every fleetInterval)')
    .action(async (_opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const report = await client.call<TickAnswer>('POST', '/api/fleet/tick');
      output(g.format).result(report, () => describeTick(report));
      // Due upgrades that did not start are a failure of the pass, whatever the output format.
      if (report.agentUnreachable !== undefined) process.exitCode = exitCodeFor('AGENT_UNREACHABLE');
    });
}

/** A flag's value as a whole number, or `VALIDATION_FAILED` naming the flag. */
function wholeNumber(flag: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new CutoverError('VALIDATION_FAILED', `--${flag} must be a whole number, not "${v}"`);
  return Number(v);
}

/**
 * `--max-parallel-per-machine`, or its old name `--max-parallel-per-host` with a warning for
 * stderr (the limit was per `host` label before instances ran on machines). Both with different
 * values are refused, naming both, before anything is sent.
 */
export function perMachineLimit(opts: { maxParallelPerMachine?: unknown; maxParallelPerHost?: unknown }): { value?: number; warning?: string } {
  const now = typeof opts.maxParallelPerMachine === 'string' ? wholeNumber('max-parallel-per-machine', opts.maxParallelPerMachine) : undefined;
  if (typeof opts.maxParallelPerHost !== 'string') return now === undefined ? {} : { value: now };
  const old = wholeNumber('max-parallel-per-host', opts.maxParallelPerHost);
  if (now !== undefined && now !== old) {
    throw new CutoverError('VALIDATION_FAILED', `--max-parallel-per-host ${old} and --max-parallel-per-machine ${now} disagree; --max-parallel-per-host is the old name of --max-parallel-per-machine: give only --max-parallel-per-machine`);
  }
  return { value: old, warning: '--max-parallel-per-host is deprecated: use --max-parallel-per-machine (the limit counts upgrades per machine)' };
}

interface TickAnswer {
  leader: boolean;
  enabled: boolean;
  started: Array<{ instance: string; from: string | null; to: string }>;
  halted: Array<{ app: string; version: string }>;
  promoted: Array<{ channel: string; version: string }>;
  skipped: Array<{ instance: string; message: string }>;
  /** Set when upgrades were due but the agent did not answer: none was started. */
  agentUnreachable?: string;
  counts?: Record<string, number>;
}

/** The human report of a scheduler pass: what it did, and what it could not start and why. */
function describeTick(report: TickAnswer): string {
  if (!report.leader) return 'another server replica holds the scheduler lease; it runs the passes';
  if (!report.enabled) return 'the scheduler is disabled (`cutover fleet policy --enable`)';
  const due = report.counts?.upgrade;
  return (
    [
      ...report.promoted.map((p) => `promoted ${p.version} to ${p.channel}`),
      ...report.halted.map((h) => `HALTED ${h.app} ${h.version}`),
      ...report.started.map((s) => `upgrading ${s.instance}: ${s.from ?? 'nothing'} → ${s.to}`),
      ...report.skipped.map((s) => `skipped ${s.instance}: ${s.message}`),
      ...(report.agentUnreachable === undefined
        ? []
        : [
            `NOT STARTED: ${due ? `${due} due upgrade${due === 1 ? '' : 's'}` : 'the due upgrades'}, because the agent did not answer (${report.agentUnreachable}); ` +
              'none counts as failed; they start at the next pass once the agent answers (`cutover status`)',
          ]),
    ].join('\n') || 'nothing to do'
  );
}
