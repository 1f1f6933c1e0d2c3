import type { Command } from 'commander';
import type { ListOf, ProblemView } from '../../api/index.ts';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { indent, when, withQuery } from '../format.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';

function problemId(value: string): number {
  const id = value.replace(/^#/, '');
  if (!/^\d+$/.test(id) || Number(id) < 1) throw new CutoverError('VALIDATION_FAILED', `a problem id is a number like 12 (or #12), not "${value}"`);
  return Number(id);
}

function showText(p: ProblemView): string {
  return [
    `#${p.id} ${p.title}`,
    `release   ${p.app} ${p.version}`,
    `status    ${p.status}`,
    `reported  ${when(p.reportedAt)} by ${p.reportedBy}${p.source === 'user' ? '' : ` (${p.source})`}`,
    p.status === 'resolved' ? `resolved  ${when(p.resolvedAt)} by ${p.resolvedBy ?? '-'}${p.resolution ? `: ${p.resolution}` : ''}` : '',
    p.details ? `details\n${indent(p.details)}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** `problem report|resolve|list|show`. */
export function registerProblemCommands(program: Command): void {
  const problem = program.command('problem').description('known problems of releases; an open one blocks promotion to stable');

  problem
    .command('report')
    .description('record a problem against a release')
    .argument('<version>')
    .argument('<title>', 'one line saying what is wrong, e.g. "login loop on Safari"')
    .option('--details <text>', 'more: steps, links, logs')
    .option('--app <app>', 'the app, when several have this version')
    .action(async (version: string, title: string, opts: { details?: string; app?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const p = await client.call<ProblemView>('POST', '/api/problems', {
        version,
        title,
        ...(opts.details !== undefined ? { details: opts.details } : {}),
        ...(opts.app !== undefined ? { app: opts.app } : {}),
      });
      output(g.format).result(p, () => `reported problem #${p.id} against ${p.app} ${p.version}: ${p.title}\nwhile it is open, channels that block on problems (stable) refuse ${p.version}`);
    });

  problem
    .command('resolve')
    .description('mark a problem resolved')
    .argument('<id>', 'the problem number, e.g. 12')
    .option('--reason <text>', 'how it was resolved, for the record and the audit log')
    .action(async (id: string, opts: { reason?: string }, cmd: Command) => {
      const g = globals(cmd);
      const n = problemId(id);
      const client = await connect(g);
      const p = await client.call<ProblemView>('POST', apiPath('problems', n, 'resolve'), opts.reason !== undefined ? { reason: opts.reason } : {});
      output(g.format).result(p, () => `resolved problem #${p.id} (${p.app} ${p.version}): ${p.title}`);
    });

  problem
    .command('list')
    .description('problems, newest first')
    .option('--app <app>', 'only this app')
    .option('--version <version>', 'only this release')
    .option('--open', 'only open problems')
    .option('--resolved', 'only resolved problems')
    .action(async (opts: { app?: string; version?: string; open?: boolean; resolved?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (opts.open && opts.resolved) throw new CutoverError('VALIDATION_FAILED', 'give --open or --resolved, not both (neither lists every problem)');
      const status = opts.open ? 'open' : opts.resolved ? 'resolved' : undefined;
      const client = await connect(g);
      const answer = await client.call<ListOf<ProblemView>>('GET', withQuery('/api/problems', { app: opts.app, version: opts.version, status }));
      const problems = answer.items;
      output(g.format).result(answer, () =>
        problems.length
          ? table([
              ['ID', 'APP', 'VERSION', 'STATUS', 'REPORTED', 'BY', 'TITLE'],
              ...problems.map((p) => [`#${p.id}`, p.app, p.version, p.status, when(p.reportedAt), p.reportedBy, p.title]),
            ])
          : 'no problems',
      );
    });

  problem
    .command('show')
    .description('one problem')
    .argument('<id>', 'the problem number, e.g. 12')
    .action(async (id: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const n = problemId(id);
      const client = await connect(g);
      const p = await client.call<ProblemView>('GET', apiPath('problems', n));
      output(g.format).result(p, () => showText(p));
    });
}
