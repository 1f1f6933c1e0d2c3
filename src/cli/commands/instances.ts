import type { Command } from 'commander';
import type { BulkTargetResult, InstanceInfo, InstanceStatus, InstanceSummary, InstanceTargetView, ListOf } from '../../api/index.ts';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { cursorFlag, onTargetText, resolvedText, targetText, withQuery } from '../format.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';

const invalid = (message: string) => new CutoverError('VALIDATION_FAILED', message);

/** Commander collector for a repeatable option. */
const collect = (value: string, previous: string[]) => [...previous, value];

function parseLabels(pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalid(`--label must be key=value, like --label region=eu; got "${pair}"`);
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return labels;
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw invalid(`${flag} must be a whole number of at least 1, not "${value}"`);
  return Number(value);
}

/** Exactly one of --version, --channel, --clear, as the API's `target`. */
function targetFrom(opts: { version?: string; channel?: string; clear?: boolean }): InstanceTargetView | null {
  const given = [opts.version !== undefined, opts.channel !== undefined, opts.clear === true].filter(Boolean).length;
  if (given !== 1) {
    throw invalid('say what the instance should run with exactly one of --version V (a release), --channel C (whatever the channel points to) or --clear (no target)');
  }
  if (opts.version !== undefined) return { version: opts.version };
  if (opts.channel !== undefined) return { channel: opts.channel };
  return null;
}

/** The instance table; `wide` (-o wide) adds hosts, labels and the maintenance window. */
/** Where an instance runs: its machines or machine selector, or (no placement) the only machine. */
const machineText = (i: { placement?: { machines: string[] } | { selector: string } | null }) =>
  !i.placement ? '(the only machine)' : 'machines' in i.placement ? i.placement.machines.join(',') : i.placement.selector;

/** The body fields of `--machine` (repeatable) and `--machine-selector`. */
const placementBody = (opts: { machine?: string[]; machineSelector?: string }) => ({
  ...(opts.machine !== undefined && opts.machine.length > 0 ? { machines: opts.machine } : {}),
  ...(opts.machineSelector !== undefined ? { machineSelector: opts.machineSelector } : {}),
});

function listRows(instances: InstanceSummary[], wide = false): string {
  const labels = (i: InstanceSummary) => Object.entries(i.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '-';
  // The MACHINE column shows once any instance is placed on a machine (always with -o wide), last
  // of the default columns: a single-machine install keeps the table it had, and -o wide still
  // begins with the default table.
  const machines = wide || instances.some((i) => i.placement);
  return table([
    ['NAME', 'APP', 'ENV', 'TENANT', 'TARGET', 'CURRENT', 'ON TARGET', ...(machines ? ['MACHINE'] : []), ...(wide ? ['HOSTS', 'LABELS', 'WINDOW'] : [])],
    ...instances.map((i) => [
      i.name,
      i.app,
      i.environment,
      i.tenant ?? '-',
      resolvedText(i),
      i.currentVersion ?? '-',
      onTargetText(i),
      ...(machines ? [machineText(i)] : []),
      ...(wide ? [i.hosts.join(','), labels(i), i.window ?? '(environment default)'] : []),
    ]),
  ]);
}

function planText(plan: BulkTargetResult): string {
  if (plan.changes.length === 0) return `nothing to change: the ${plan.matched} instance(s) "${plan.selector}" matches already have this target`;
  return [
    table([
      ['NAME', 'ENV', 'TENANT', 'TARGET BEFORE → AFTER'],
      ...plan.changes.map((c) => [c.name, c.environment, c.tenant ?? '-', `${targetText(c.before)} → ${targetText(c.after)}`]),
    ]),
    `${plan.changes.length} instance(s) will change (${plan.matched} matched "${plan.selector}")`,
  ].join('\n');
}

/** `instance create|list|show|target`. */
export function registerInstanceCommands(program: Command): void {
  const instance = program.command('instance').description('create instances, list them with their targets, and set what they should run');

  instance
    .command('create')
    .description('create an instance of an app, reachable at one or more host names')
    .argument('<name>')
    .requiredOption('--app <app>', 'the app it runs')
    .requiredOption('--host <hostname...>', 'host name(s) the router sends to it')
    .option('--environment <env>', 'production, test, staging…', 'production')
    .option('--tenant <tenant>', 'the customer it belongs to')
    .option('--label <key=value>', 'a label for selectors (repeatable)', collect, [])
    .option('--target-version <version>', 'what it should run: this release')
    .option('--target-channel <channel>', 'what it should run: whatever this channel points to')
    .option('--window <window>', 'maintenance window for the fleet scheduler, e.g. "daily 01:00-04:00 Europe/London" (default: its environment\'s)')
    .option('--machine <name>', 'a machine it runs on (repeatable; default: the only active machine; required when there are several)', collect, [])
    .option('--machine-selector <selector>', 'every machine whose labels match runs it, e.g. "role=web,zone=a" (instead of --machine)')
    .action(
      async (
        name: string,
        opts: { app: string; host: string[]; environment: string; tenant?: string; label: string[]; targetVersion?: string; targetChannel?: string; window?: string; machine: string[]; machineSelector?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (opts.targetVersion !== undefined && opts.targetChannel !== undefined) {
          throw invalid('give --target-version or --target-channel, not both: an instance follows either one release or one channel');
        }
        const labels = parseLabels(opts.label);
        const target = opts.targetVersion !== undefined ? { version: opts.targetVersion } : opts.targetChannel !== undefined ? { channel: opts.targetChannel } : null;
        const client = await connect(g);
        const created = await client.call<InstanceInfo>('POST', '/api/instances', {
          name,
          app: opts.app,
          hosts: opts.host,
          environment: opts.environment,
          ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
          labels,
          target,
          ...(opts.window !== undefined ? { window: opts.window } : {}),
          ...placementBody(opts),
        });
        output(g.format).result(created, () =>
          [
            `created instance ${created.name} (${created.app}, ${created.environment}${created.tenant ? `, tenant ${created.tenant}` : ''}) at ${created.hosts.join(', ')}${created.placement ? ` on ${machineText(created)}` : ''}`,
            created.target ? `target ${targetText(created.target)}` : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
      },
    );

  instance
    .command('update')
    .description("change an instance's host names, maintenance window, environment, tenant, labels or machines")
    .argument('<name>')
    .option('--host <hostname...>', 'replace its host names (all of them, e.g. --host shop.example.com www.shop.example.com); the router serves them at once')
    .option('--window <window>', 'maintenance window, e.g. "weekdays 22:00-02:00 America/New_York", or "default" for its environment\'s')
    .option('--environment <env>', 'production, test, staging…')
    .option('--tenant <tenant>', 'the customer it belongs to ("-" for none)')
    .option('--label <key=value>', 'set a label (repeatable)', collect, [])
    .option('--unlabel <key>', 'remove a label (repeatable)', collect, [])
    .option('--machine <name>', 'run it on these machines instead (repeatable): machines entering get its live and warm releases, machines leaving have it removed', collect, [])
    .option('--machine-selector <selector>', 'run it on every machine whose labels match instead, e.g. "role=web,zone=a"')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (name: string, opts: { host?: string[]; window?: string; environment?: string; tenant?: string; label: string[]; unlabel: string[]; machine: string[]; machineSelector?: string; reason?: string }, cmd: Command) => {
      const g = globals(cmd);
      const labels: Record<string, string | null> = { ...parseLabels(opts.label) };
      for (const key of opts.unlabel) labels[key] = null;
      const body = {
        ...(opts.window !== undefined ? { window: opts.window === 'default' ? null : opts.window } : {}),
        ...(opts.environment !== undefined ? { environment: opts.environment } : {}),
        ...(opts.tenant !== undefined ? { tenant: opts.tenant === '-' ? null : opts.tenant } : {}),
        ...(Object.keys(labels).length ? { labels } : {}),
        ...placementBody(opts),
        ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
      };
      const fields = Object.keys(body).filter((k) => k !== 'reason').length > 0;
      if (!fields && !opts.host) throw invalid('nothing to change: give --host, --window, --environment, --tenant, --label, --unlabel, --machine or --machine-selector');
      const client = await connect(g);
      let updated: InstanceInfo | undefined;
      // Hosts first: the one change that can be refused for another instance's sake (HOST_IN_USE).
      if (opts.host) {
        updated = await client.call<InstanceInfo>('PUT', apiPath('instances', name, 'hosts'), {
          hosts: opts.host,
          ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
        });
      }
      if (fields) updated = await client.call<InstanceInfo>('PATCH', apiPath('instances', name), body);
      const u = updated!;
      output(g.format).result(u, () =>
        `updated ${u.name}: hosts ${u.hosts.join(', ')}, machine ${machineText(u)}, ${u.environment}${u.tenant ? `, tenant ${u.tenant}` : ''}, window ${u.window ?? '(environment default)'}, labels ${Object.entries(u.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-'}`,
      );
    });

  instance
    .command('list')
    .description('instances with their resolved targets, a page at a time (by name)')
    .option('--selector <selector>', 'only matching instances, e.g. environment=test,tenant=acme')
    .option('--limit <n>', 'page size (server default 500, at most 5000)')
    .option('--cursor <next>', 'the page after the previous one: the `next` it printed')
    .option('--after <name>', 'the older name of --cursor')
    .option('--all', 'every page, one request per page')
    .action(async (opts: { selector?: string; limit?: string; cursor?: string; after?: string; all?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      const limit = positiveInt(opts.limit, '--limit');
      const cursor = cursorFlag(opts.cursor, opts.after, '--after');
      const client = await connect(g);
      const fetchPage = (c: string | undefined) =>
        client.call<ListOf<InstanceSummary>>('GET', withQuery('/api/instances', { selector: opts.selector, limit, cursor: c }));
      let page = await fetchPage(cursor);
      const instances = [...page.items];
      while (opts.all && page.next !== null) {
        out.progress(`fetched ${instances.length} instances…`);
        page = await fetchPage(page.next);
        instances.push(...page.items);
      }
      const next = page.next;
      out.result({ items: instances, next }, (wide) => {
        if (instances.length === 0) {
          return opts.selector || cursor ? 'no instances match' : 'no instances yet; create one with `cutover instance create NAME --app APP --host HOST`';
        }
        const more = next === null ? '' : `\nmore: cutover instance list --cursor ${next}${opts.selector ? ` --selector '${opts.selector}'` : ''} (or --all)`;
        return listRows(instances, wide) + more;
      });
    });

  instance
    .command('show')
    .description('one instance: its target and what it resolves to, and its slots')
    .argument('<name>')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const i = await client.call<InstanceStatus>('GET', apiPath('instances', name));
      const labels = Object.entries(i.labels ?? {}).map(([k, v]) => `${k}=${v}`);
      output(g.format).result(i, () =>
        [
          `${i.name}  app ${i.app}  environment ${i.environment}${i.tenant ? `  tenant ${i.tenant}` : ''}`,
          `hosts    ${i.hosts.join(', ')}`,
          `machine  ${machineText(i)}`,
          labels.length ? `labels   ${labels.join(', ')}` : '',
          `target   ${resolvedText(i)}${i.resolvedTarget.kind === 'none' ? ' (none declared)' : i.resolvedTarget.onTarget ? ' (on target)' : ' (not on target)'}`,
          `version  ${i.currentVersion ?? '-'} (${i.activeColor ?? 'no'} slot active)`,
          ...(['blue', 'green'] as const).map((c) => {
            const s = i.slots[c];
            return `${c.padEnd(8)} ${s ? `${s.version} ${s.status}${s.warmUntil ? ` until ${new Date(s.warmUntil).toISOString()}` : ''}` : '-'}`;
          }),
        ]
          .filter(Boolean)
          .join('\n'),
      );
    });

  instance
    .command('target')
    .description(
      'set what an instance should run, or every instance a selector matches. In bulk, the changes are shown first and applied only ' +
        'after a "y" on the terminal or with --yes; with --json and no --yes the plan is printed and nothing is applied.',
    )
    .argument('[name]', 'one instance (or use --selector)')
    .option('--version <version>', 'run this release')
    .option('--channel <channel>', 'run whatever this channel points to')
    .option('--clear', 'no target: deployed by hand only')
    .option('--selector <selector>', 'every matching instance, e.g. environment=test,tenant=acme ("*" for all)')
    .option('--yes', 'apply a bulk change without asking')
    .option('--reason <text>', 'why, for the audit log')
    .action(
      async (
        name: string | undefined,
        opts: { version?: string; channel?: string; clear?: boolean; selector?: string; yes?: boolean; reason?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const out = output(g.format);
        if ((name === undefined) === (opts.selector === undefined)) {
          throw invalid('name one instance (`cutover instance target NAME …`) or select several with --selector, not both');
        }
        const target = targetFrom(opts);
        const reason = opts.reason !== undefined ? { reason: opts.reason } : {};
        const client = await connect(g);

        if (name !== undefined) {
          const view = await client.call<InstanceSummary>('PUT', apiPath('instances', name, 'target'), { target, ...reason });
          out.result(view, () =>
            view.resolvedTarget.kind === 'none'
              ? `${view.name} has no target now: it changes only when deployed by hand`
              : `${view.name} target: ${resolvedText(view)} (on target: ${onTargetText(view)})`,
          );
          return;
        }

        const selector = opts.selector!;
        const plan = await client.call<BulkTargetResult>('POST', '/api/instances/target', { selector, target, ...reason, dryRun: true });
        if (plan.changes.length === 0) {
          out.result(plan, () => planText(plan));
          return;
        }
        if (!opts.yes) {
          if (g.json) {
            out.result(plan, () => planText(plan)); // --json without --yes: the plan only (applied: false)
            return;
          }
          out.say(planText(plan));
          if (!(await (await import('../confirm.ts')).confirm('Apply?', `add --yes to apply these ${plan.changes.length} change(s)`))) {
            out.say('not applied; nothing changed');
            return;
          }
        } else out.say(planText(plan));
        const applied = await client.call<BulkTargetResult>('POST', '/api/instances/target', {
          selector,
          target,
          ...reason,
          dryRun: false,
          confirm: plan.selection,
        });
        out.result(applied, () => `retargeted ${applied.changes.length} instance(s) to ${targetText(target)}`);
      },
    );
}
