import type { Command } from 'commander';
import type { AuditEntryView, ChainCheckView, ListOf } from '../../api/index.ts';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { compactJson, timeFlag, when, withQuery } from '../format.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';

/**
 * `--since`/`--until` as the ISO time the API takes: an ISO time as given, or a duration ago
 * (`24h`, `7d`) counted back from `now`.
 */
export function auditTime(value: string | undefined, flag: string, now: number): string | undefined {
  return timeFlag(value, flag, now, 'ago');
}

interface AuditFlags {
  instance?: string;
  release?: string;
  actor?: string;
  action?: string;
  since?: string;
  until?: string;
  limit?: string;
  cursor?: string;
}

function entryRows(entries: AuditEntryView[]): string {
  return table([
    ['ID', 'TIME', 'ACTOR', 'ACTION', 'SUBJECT', 'BEFORE → AFTER', 'REASON'],
    ...entries.map((e) => [
      `#${e.id}`,
      when(e.at),
      e.actor,
      e.action,
      e.subject,
      e.before === null && e.after === null ? '-' : `${compactJson(e.before, 40)} → ${compactJson(e.after, 40)}`,
      e.reason ?? '-',
    ]),
  ]);
}

/** `audit [filters]` and `audit verify`. */
export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('who did what, when and why: the hash-chained audit log, newest first')
    .option('--instance <name>', 'entries about this instance')
    .option('--release <version>', 'entries about this release ("1.2.0" or "app@1.2.0")')
    .option('--actor <name>', 'entries by this token (or system / scheduler)')
    .option('--action <action>', 'e.g. channel.promote, channel.promote.forced, instance.target, token.create')
    .option('--since <time>', 'at or after: an ISO time, or a duration ago like 24h or 7d')
    .option('--until <time>', 'before: an ISO time, or a duration ago like 1h')
    .option('--limit <n>', 'at most this many entries (default 200)')
    .option('--cursor <next>', 'the page after the previous one: the `next` it printed')
    .action(async (opts: AuditFlags, cmd: Command) => {
      const g = globals(cmd);
      const now = Date.now();
      if (opts.limit !== undefined && (!/^\d+$/.test(opts.limit) || Number(opts.limit) < 1)) {
        throw new CutoverError('VALIDATION_FAILED', `--limit must be a whole number of at least 1, not "${opts.limit}"`);
      }
      const query = {
        instance: opts.instance,
        release: opts.release,
        actor: opts.actor,
        action: opts.action,
        since: auditTime(opts.since, '--since', now),
        until: auditTime(opts.until, '--until', now),
        limit: opts.limit,
        cursor: opts.cursor,
      };
      const client = await connect(g);
      const answer = await client.call<ListOf<AuditEntryView>>('GET', withQuery('/api/audit', query));
      const entries = answer.items;
      const more = answer.next === null ? '' : `\nmore: add --cursor ${answer.next}`;
      output(g.format).result(answer, () => (entries.length ? entryRows(entries) + more : 'no audit entries match'));
    });

  audit
    .command('verify')
    .description('check the hash chain: exits 9 if any entry was edited or deleted')
    .action(async (_opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const check = await client.call<ChainCheckView>('GET', '/api/audit/verify');
      if (!check.ok) {
        const p = check.problem;
        throw new CutoverError('AUDIT_CHAIN_BROKEN', `the audit log was tampered with: ${p ? `${p.message} (entry #${p.id}, ${p.kind})` : 'the chain does not verify'}`, {
          details: { ...check },
        });
      }
      output(g.format).result(check, () =>
        check.last ? `audit log intact: ${check.checked} entries, last #${check.last.id} hash ${check.last.hash}` : 'audit log intact: no entries yet',
      );
    });
}
