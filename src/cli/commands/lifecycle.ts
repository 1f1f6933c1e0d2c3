import type { Command } from 'commander';
import type { DeletedInstance, DeploymentView, InstanceInfo, ListOf, PruneResult } from '../../api/index.ts';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { cursorFlag, msBetween, when, withQuery } from '../format.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';
import { stepsCell, testsCell } from '../step-lines.ts';

// A delete drains in-flight requests and stops two slots: it may take longer than one answer should.
const DELETE_TIMEOUT_MS = 10 * 60_000;

function pageSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 500) {
    throw new CutoverError('VALIDATION_FAILED', `--limit must be a whole number from 1 to 500, not "${value}"`);
  }
  return Number(value);
}

function took(d: DeploymentView): string {
  if (d.finishedAt === undefined) return '-';
  const ms = msBetween(d.createdAt, d.finishedAt);
  return ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

/** The history table; `wide` (-o wide) adds the slot, when it finished, and the error in full. */
function historyRows(deployments: DeploymentView[], wide = false): string {
  return table([
    ['STARTED', 'ID', 'KIND', 'VERSION', 'STRATEGY', 'STATUS', 'TOOK', 'TESTS', ...(wide ? ['STEPS'] : []), 'BY', 'REASON', ...(wide ? ['SLOT', 'FINISHED', 'ERROR'] : [])],
    ...deployments.map((d) => [
      when(d.createdAt),
      d.id,
      d.kind,
      `${d.fromVersion ?? '-'} → ${d.toVersion}`,
      d.strategy,
      d.status,
      took(d),
      testsCell(d),
      ...(wide ? [stepsCell(d)] : []),
      d.actor,
      d.reason ?? (d.error ? `${d.error.code}` : '-'),
      ...(wide ? [d.toColor, when(d.finishedAt), d.error ? `${d.error.code}: ${d.error.message}` : '-'] : []),
    ]),
  ]);
}

const kib = (bytes: number) => (bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

/** `instance delete`, `history`, `prune`: an instance's lifecycle past create and deploy. */
export function registerLifecycleCommands(program: Command): void {
  const instance = program.commands.find((c) => c.name() === 'instance');
  if (!instance) throw new Error('the instance commands are registered first');

  instance
    .command('delete')
    .description('delete an instance: drain and stop both its slots, forget its routes and its record (needs admin)')
    .argument('<name>')
    .option('--yes', 'do not ask for confirmation')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (name: string, opts: { yes?: boolean; reason?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      if (!opts.yes) {
        const current = await client.call<InstanceInfo>('GET', apiPath('instances', name));
        const serving = current.currentVersion ? `it serves ${current.currentVersion} on ${current.hosts.join(', ')}` : `it serves nothing yet`;
        if (!(await (await import('../confirm.ts')).confirm(`Delete instance "${name}"? ${serving}; its slots stop and its hosts answer 404.`, 'add --yes to delete it'))) {
          throw new CutoverError('VALIDATION_FAILED', `nothing was changed: "${name}" was not deleted`);
        }
      }
      const deleted = await client.call<DeletedInstance>(
        'DELETE',
        apiPath('instances', name),
        opts.reason ? { reason: opts.reason } : {},
        { timeoutMs: Math.max(client.timeoutMs, DELETE_TIMEOUT_MS) },
      );
      output(g.format).result(deleted, () =>
        [
          `deleted ${deleted.instance} (${deleted.app}): ${deleted.hosts.join(', ')} no longer routed`,
          deleted.stopped.length ? `stopped ${deleted.stopped.join(' and ')}` : 'no slot was running',
          `its deployments stay in \`cutover history ${deleted.instance}\``,
        ].join('\n'),
      );
    });

  program
    .command('history')
    .alias('deployments')
    .description("an instance's deployments, newest first: versions, strategy, outcome, who and why (also `cutover deployments`)")
    .argument('<instance>')
    .option('--limit <n>', 'page size (default 50, at most 500)')
    .option('--cursor <next>', 'the page after the previous one: the `next` it printed')
    .option('--before <next>', 'the older name of --cursor')
    .option('--all', 'every page, one request per page')
    .action(async (name: string, opts: { limit?: string; cursor?: string; before?: string; all?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      const limit = pageSize(opts.limit);
      const cursor = cursorFlag(opts.cursor, opts.before, '--before');
      if (cursor !== undefined && !/^\d+$/.test(cursor)) {
        throw new CutoverError('VALIDATION_FAILED', `--cursor takes the \`next\` a previous page printed (a number), not "${cursor}"`);
      }
      const client = await connect(g);
      const fetchPage = (c: string | undefined) => client.call<ListOf<DeploymentView>>('GET', withQuery(apiPath('instances', name, 'deployments'), { limit, cursor: c }));
      let page = await fetchPage(cursor);
      const deployments = [...page.items];
      while (opts.all && page.next !== null) {
        out.progress(`fetched ${deployments.length} deployments…`);
        page = await fetchPage(page.next);
        deployments.push(...page.items);
      }
      const next = page.next;
      out.result({ items: deployments, next }, (wide) => {
        if (deployments.length === 0) return `no deployments of ${name} yet; deploy with \`cutover deploy ${name} VERSION\``;
        return historyRows(deployments, wide) + (next === null ? '' : `\nmore: cutover history ${name} --cursor ${next} (or --all)`);
      });
    });

  program
    .command('prune')
    .description("delete the agent's artifacts no later deploy needs at hand (needs admin); pruned ones are fetched again by digest")
    .option('--dry-run', 'only show what would go and what stays, and why')
    .action(async (opts: { dryRun?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const r = await client.call<PruneResult>('POST', '/api/prune', { dryRun: opts.dryRun === true });
      output(g.format).result(r, () => {
        const short = (d: string) => `${d.slice(0, 19)}…`;
        const lines = [
          r.dryRun ? `would remove ${r.remove.length} artifacts from the agent (${kib(r.freedBytes)}):` : `removed ${r.remove.length} artifacts from the agent (${kib(r.freedBytes)})${r.remove.length ? ':' : ''}`,
          ...r.remove.map((x) => `  - ${short(x.digest)} ${kib(x.size)}`),
          `kept ${r.keep.length} (live and warm slots, and each instance's last ${r.keepPerInstance} releases):`,
          ...r.keep.map((x) => `  ${short(x.digest)} ${kib(x.size)}  ${x.why.join('; ')}`),
          ...r.refused.map((x) => `  kept ${short(x.digest)}: ${x.message}`),
          `the server keeps the artifacts of all ${r.serverReleases} published releases; a deploy fetches a pruned one again`,
        ];
        return lines.join('\n');
      });
    });
}
