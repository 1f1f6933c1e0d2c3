import type { Command } from 'commander';
import type { ChannelDetail, ChannelInfo, ChannelPolicyView, ChannelSummary, ListOf, PromotionCheckView, PromotionResultView } from '../../api/index.ts';
import { CutoverError } from '../../shared/index.ts';
import type { ErrorCode } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { when, withQuery } from '../format.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';

const invalid = (message: string) => new CutoverError('VALIDATION_FAILED', message);

/** `soak 14 days on release, no open problems, no pre-releases`, or `open` when nothing is checked. */
export function describePolicy(p: ChannelPolicyView): string {
  const rules = [
    ...(p.soak ? [`soak ${p.soak.days} day${p.soak.days === 1 ? '' : 's'} on ${p.soak.channel}`] : []),
    ...(p.blockOnOpenProblems ? ['no open problems'] : []),
    ...(p.allowPrerelease ? [] : ['no pre-releases']),
    ...(p.autoPromote ? ['promoted automatically by the fleet scheduler'] : []),
  ];
  return rules.length ? rules.join(', ') : 'open (no rules)';
}

function soakDays(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw invalid(`--soak-days must be a number of days (0 or more), not "${value}"`);
  return n;
}

interface PolicyFlags {
  soakOn?: string;
  soakDays?: string;
  blockOnProblems?: boolean;
  allowPrerelease?: boolean;
  autoPromote?: boolean;
}

/** The policy fields the flags set; absent flags are left out (the server keeps or defaults them). */
function policyPatch(opts: PolicyFlags & { soak?: boolean }, current?: ChannelPolicyView): Partial<ChannelPolicyView> {
  const patch: Partial<ChannelPolicyView> = {};
  const days = soakDays(opts.soakDays);
  if (opts.soak === false) {
    if (opts.soakOn !== undefined || days !== undefined) throw invalid('--no-soak removes the soak rule; do not combine it with --soak-on or --soak-days');
    patch.soak = null;
  } else if (opts.soakOn !== undefined || days !== undefined) {
    const channel = opts.soakOn ?? current?.soak?.channel;
    const d = days ?? current?.soak?.days;
    if (channel === undefined) throw invalid('--soak-days needs --soak-on CHANNEL: the channel the release must have spent the days on');
    if (d === undefined) throw invalid('--soak-on needs --soak-days N: how long the release must have spent there');
    patch.soak = { channel, days: d };
  }
  if (opts.blockOnProblems !== undefined) patch.blockOnOpenProblems = opts.blockOnProblems;
  if (opts.allowPrerelease !== undefined) patch.allowPrerelease = opts.allowPrerelease;
  if (opts.autoPromote !== undefined) patch.autoPromote = opts.autoPromote;
  return patch;
}

function showText(c: ChannelDetail): string {
  const lines = [
    `${c.name}${c.builtIn ? ' (built-in)' : ''}  ${c.description}`,
    `policy   ${describePolicy(c.policy)}`,
    ...(c.pointers.length
      ? c.pointers.map((p, i) => `${i === 0 ? 'points   ' : '         '}${p.app} → ${p.version} (since ${when(p.movedAt)}, by ${p.movedBy})`)
      : ['points   nowhere yet; promote a release with `cutover channel promote VERSION ' + c.name + '`']),
  ];
  if (c.history.length) {
    lines.push(
      '',
      table([
        ['WHEN', 'APP', 'FROM → TO', 'WHO', 'REASON', ''],
        ...c.history.map((m) => [when(m.at), m.app, `${m.fromVersion ?? '-'} → ${m.toVersion}`, m.actor, m.reason ?? '-', m.forced ? 'FORCED' : '']),
      ]),
    );
  }
  return lines.join('\n');
}

/** A refused check as the error the CLI exits with: the first failed rule's code (exit 8), every rule in the details. */
function refusal(check: PromotionCheckView): CutoverError {
  const failures = check.verdict.failures;
  return new CutoverError((failures[0]?.code ?? 'POLICY_SOAK_NOT_MET') as ErrorCode, failures.map((f) => f.message).join('; '), {
    details: { ...check, failures, ...(check.verdict.eligibleAt === undefined ? {} : { eligibleAt: check.verdict.eligibleAt }) },
  });
}

/** `channel list|show|create|policy|check|promote`. */
export function registerChannelCommands(program: Command): void {
  const channel = program.command('channel').description('release channels: where they point, their promotion policy, and promotions');

  channel
    .command('list')
    .description('channels, their policies and where they point')
    .option('--app <app>', 'only this app’s pointers')
    .action(async (opts: { app?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const answer = await client.call<ListOf<ChannelSummary>>('GET', withQuery('/api/channels', { app: opts.app }));
      const channels = answer.items;
      output(g.format).result(answer, () =>
        table([
          ['NAME', 'POLICY', 'POINTS TO', 'DESCRIPTION'],
          ...channels.map((c) => [c.name, describePolicy(c.policy), c.pointers.map((p) => `${p.app}@${p.version}`).join(', ') || '-', c.description]),
        ]),
      );
    });

  channel
    .command('show')
    .description('one channel: its policy, where it points, and its history (who moved it, when, from what, why)')
    .argument('<name>')
    .option('--app <app>', 'only this app’s pointer and history')
    .action(async (name: string, opts: { app?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const c = await client.call<ChannelDetail>('GET', withQuery(apiPath('channels', name), { app: opts.app }));
      output(g.format).result(c, () => showText(c));
    });

  channel
    .command('create')
    .description('create a custom channel (admin)')
    .argument('<name>', 'a lowercase word like early-access')
    .option('--description <text>', 'what the channel is for')
    .option('--soak-on <channel>', 'releases must first spend --soak-days on this channel')
    .option('--soak-days <n>', 'how many days on --soak-on')
    .option('--block-on-problems', 'refuse releases with an open problem')
    .option('--allow-prerelease', 'accept pre-releases like 1.2.0-beta.1 (the default)')
    .option('--no-allow-prerelease', 'refuse pre-releases')
    .option('--auto-promote', 'the fleet scheduler promotes what soaked on --soak-on as soon as the policy passes')
    .action(async (name: string, opts: PolicyFlags & { description?: string }, cmd: Command) => {
      const g = globals(cmd);
      const policy = policyPatch(opts);
      const client = await connect(g);
      const created = await client.call<ChannelInfo>('POST', '/api/channels', {
        name,
        ...(opts.description !== undefined ? { description: opts.description } : {}),
        policy,
      });
      output(g.format).result(created, () => `created channel ${created.name}: ${describePolicy(created.policy)}`);
    });

  channel
    .command('policy')
    .description("change a channel's promotion policy or description (admin); flags not given stay as they are")
    .argument('<name>')
    .option('--soak-on <channel>', 'releases must first spend --soak-days on this channel')
    .option('--soak-days <n>', 'how many days on the soak channel')
    .option('--no-soak', 'remove the soak rule')
    .option('--block-on-problems', 'refuse releases with an open problem')
    .option('--no-block-on-problems', 'accept releases with open problems')
    .option('--allow-prerelease', 'accept pre-releases like 1.2.0-beta.1')
    .option('--no-allow-prerelease', 'refuse pre-releases')
    .option('--auto-promote', 'the fleet scheduler promotes what soaked on the soak channel as soon as the policy passes')
    .option('--no-auto-promote', 'promotions to this channel only by hand')
    .option('--description <text>', 'what the channel is for')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (name: string, opts: PolicyFlags & { soak?: boolean; description?: string; reason?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const path = apiPath('channels', name);
      // Changing only the days or only the soak channel keeps the other half of the rule.
      const needsCurrent = opts.soak !== false && (opts.soakOn === undefined) !== (opts.soakDays === undefined);
      const current = needsCurrent ? (await client.call<ChannelDetail>('GET', path)).policy : undefined;
      const policy = policyPatch(opts, current);
      if (Object.keys(policy).length === 0 && opts.description === undefined) {
        throw invalid('nothing to change: give --soak-on/--soak-days, --no-soak, --[no-]block-on-problems, --[no-]allow-prerelease, --[no-]auto-promote or --description');
      }
      const updated = await client.call<ChannelInfo>('PATCH', path, {
        ...(Object.keys(policy).length ? { policy } : {}),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
        ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
      });
      output(g.format).result(updated, () => `channel ${updated.name}: ${describePolicy(updated.policy)}`);
    });

  channel
    .command('check')
    .description("whether a release may be promoted to a channel now; exits 8 and names every failed rule if not")
    .argument('<version>')
    .argument('<channel>')
    .option('--app <app>', 'the app, when several have this version')
    .action(async (version: string, name: string, opts: { app?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const check = await client.call<PromotionCheckView>('GET', withQuery(apiPath('channels', name, 'check'), { version, app: opts.app }));
      if (!check.verdict.allowed) throw refusal(check);
      output(g.format).result(check, () =>
        `${check.app} ${check.version} may be promoted to ${check.channel} (it points ${check.current ? `at ${check.current}` : 'nowhere'} now)`,
      );
    });

  channel
    .command('promote')
    .description("point a channel at a release, if the channel's policy allows it (exit 8 names the failed rules)")
    .argument('<version>')
    .argument('<channel>')
    .option('--app <app>', 'the app, when several have this version')
    .option('--reason <text>', 'why, for the audit log (required with --force)')
    .option('--force', 'admin only: promote although the policy refuses; audited as an override')
    .action(async (version: string, name: string, opts: { app?: string; reason?: string; force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (opts.force && !opts.reason?.trim()) {
        throw invalid('--force needs --reason "…": add --reason saying why the policy is overridden (it goes in the audit log)');
      }
      const client = await connect(g);
      const r = await client.call<PromotionResultView>('POST', apiPath('channels', name, 'promote'), {
        version,
        ...(opts.app !== undefined ? { app: opts.app } : {}),
        ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
        force: opts.force === true,
      });
      output(g.format).result(r, () => {
        if (!r.changed) return `${r.channel} already points at ${r.version} for ${r.app}; nothing changed`;
        const head = `${r.channel} now points at ${r.version} for ${r.app} (was ${r.current ?? 'nowhere'})`;
        if (!r.forced) return head;
        return [`${head}: FORCED past the policy (audited)`, ...r.verdict.failures.map((f) => `  overrode ${f.message}`)].join('\n');
      });
    });
}
