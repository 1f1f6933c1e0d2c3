import type { Command } from 'commander';
import { CutoverError } from '../../shared/index.ts';
import type { CreatedJoinTokenView, JoinTokenView, ListOf, MachinePlacementView, MachineView, MachineWithCredentialView } from '../../api/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { when } from '../format.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';


const labelsText = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') || '-';

/** `join-token create|list|revoke` (admin): the tokens new machines join with. */
export function registerJoinTokenCommands(program: Command): void {
  const joinToken = program.command('join-token').description('tokens new machines join with (admin); see docs/machines.md');

  joinToken
    .command('create')
    .description("create a join token; it is printed once and never again. It carries the SHA-256 of the server's TLS certificate and the server URLs, so the agent's first contact is pinned")
    .requiredOption('--expires <duration>', 'how long it can be used, e.g. 1h (at most 30d)')
    .option('--uses <n>', 'how many machines may join with it (default: any number until it expires)')
    .option('--url <url...>', 'the server URLs agents dial, in order (default: the URL this CLI reached the server at)')
    .action(async (opts: { expires: string; uses?: string; url?: string[] }, cmd: Command) => {
      const g = globals(cmd);
      let uses: number | undefined;
      if (opts.uses !== undefined) {
        uses = Number(opts.uses);
        if (!/^\d+$/.test(opts.uses) || uses < 1) throw new CutoverError('VALIDATION_FAILED', `--uses must be a whole number of at least 1, e.g. --uses 1; got "${opts.uses}"`);
      }
      const client = await connect(g);
      const created = await client.call<CreatedJoinTokenView>('POST', '/api/join-tokens', {
        expires: opts.expires,
        ...(uses !== undefined ? { uses } : {}),
        ...(opts.url ? { urls: opts.url } : {}),
      });
      output(g.format).result(created, () =>
        [
          `created join token ${created.id}, usable until ${when(created.expiresAt)}${created.maxUses === null ? '' : ` for ${created.maxUses} join${created.maxUses === 1 ? '' : 's'}`}. It is shown only now: the server keeps only its hash.`,
          `  ${created.token}`,
          created.fingerprint && created.pin === 'ca'
            ? `agents dial ${created.urls.join(' or ')} and accept only a certificate for that address signed by the CA with SHA-256 ${created.fingerprint}`
            : created.fingerprint
            ? `agents dial ${created.urls.join(' or ')} and accept only the certificate with SHA-256 ${created.fingerprint} (renewing it needs new join tokens; --tls-ca pins the CA instead)`
            : `the server has no TLS certificate: agents would dial ${created.urls.join(' or ')} without pinning; give the server --tls-cert and --tls-key first`,
          'on the new machine: CUTOVER_JOIN_TOKEN=<the token> cutover agent --server <url> --name <machine>  (never on the command line)',
        ].join('\n'),
      );
    });

  joinToken
    .command('list')
    .description('join tokens, oldest first, with their state (never the tokens themselves)')
    .action(async (_opts: object, cmd: Command) => {
      const g = globals(cmd);
      const answer = await (await connect(g)).call<ListOf<JoinTokenView>>('GET', '/api/join-tokens');
      const joinTokens = answer.items;
      output(g.format).result(answer, (wide) =>
        table([
          ['ID', 'STATE', 'EXPIRES', 'USES', ...(wide ? ['CREATED', 'BY', 'REVOKED BY'] : [])],
          ...joinTokens.map((t) => [
            t.id,
            t.state,
            when(t.expiresAt),
            `${t.uses}/${t.maxUses ?? '∞'}`,
            ...(wide ? [when(t.createdAt), t.createdBy, t.revokedBy ?? '-'] : []),
          ]),
        ]),
      );
    });

  joinToken
    .command('revoke')
    .description('revoke a join token at once: machines that joined with it stay; new joins with it are refused')
    .argument('<id>', 'the id `join-token list` shows, e.g. jt_0123456789ab')
    .action(async (id: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const revoked = await (await connect(g)).call<JoinTokenView>('DELETE', apiPath('join-tokens', id));
      output(g.format).result(revoked, () => `revoked join token ${revoked.id}; joins with it are now refused`);
    });
}

/** The protocol version, flagged when the agent speaks the one before the server's. */
const protocolText = (m: MachineView) => `${m.protocolVersion}${m.needsUpgrade ? ' (upgrade the agent)' : ''}`;

function machineRows(machines: MachinePlacementView[], wide: boolean): string {
  return table([
    ['NAME', 'STATUS', 'CONNECTED', 'LABELS', 'ADDRESS', 'AGENT', 'PROTOCOL', 'LAST HEARTBEAT', 'INSTANCES', 'DRIFT', ...(wide ? ['JOINED', 'JOIN TOKEN', 'CREDENTIAL SINCE'] : [])],
    ...machines.map((m) => [
      m.name,
      m.status,
      // To any live replica of the database: the server that answered relays to the others' machines.
      m.connected ? 'yes' : 'no',
      labelsText(m.labels),
      m.address ?? '-',
      m.agentVersion,
      protocolText(m),
      when(m.lastHeartbeat),
      String(m.instances.length),
      m.drift.summary,
      ...(wide ? [when(m.joinedAt), m.joinToken, when(m.credentialRotatedAt)] : []),
    ]),
  ]);
}

/** `machine list|show|drain|remove|rotate-credential`: the machines agents joined from. */
export function registerMachineCommands(program: Command): void {
  const machine = program.command('machine').description('machines agents joined from: viewers list and show them, admins drain, remove and rotate credentials; see docs/machines.md');

  machine
    .command('list')
    .description('machines by name with status, labels, address, versions, last heartbeat, how many instances each runs and its drift from its desired state (removed ones too)')
    .action(async (_opts: object, cmd: Command) => {
      const g = globals(cmd);
      const answer = await (await connect(g)).call<ListOf<MachinePlacementView>>('GET', '/api/machines');
      const machines = answer.items;
      output(g.format).result(answer, (wide) => (machines.length ? machineRows(machines, wide) : 'no machines yet: agents join with a join token (`cutover join-token create`)'));
    });

  machine
    .command('show')
    .description('one machine, with the instances placed on it and its drift')
    .argument('<name>')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const m = await (await connect(g)).call<MachinePlacementView>('GET', apiPath('machines', name));
      output(g.format).result(m, () =>
        [
          `machine ${m.name} (${m.status})`,
          `  labels          ${labelsText(m.labels)}`,
          `  address         ${m.address ?? '-'}`,
          `  agent           ${m.agentVersion} (protocol ${protocolText(m)})`,
          `  joined          ${when(m.joinedAt)} with ${m.joinToken}`,
          `  last heartbeat  ${when(m.lastHeartbeat)}`,
          `  credential      since ${when(m.credentialRotatedAt)}`,
          `  instances       ${m.instances.join(', ') || '-'}`,
          `  drift           ${m.drift.summary}`,
          ...(m.drift.differences ?? []).slice(1).map((d) => `                  ${d}`),
        ].join('\n'),
      );
    });

  machine
    .command('drain')
    .description('drain a machine (admin): it keeps what it runs and takes no new instances')
    .argument('<name>')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const m = await (await connect(g)).call<MachineView>('POST', `${apiPath('machines', name)}/drain`);
      output(g.format).result(m, () => `machine ${m.name} is ${m.status}`);
    });

  machine
    .command('remove')
    .description('remove a machine (admin): its credential stops working and its name is free for a new join; refused while instances are placed on it')
    .argument('<name>')
    .option('--yes', 'do not ask for confirmation')
    .action(async (name: string, opts: { yes?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      if (!opts.yes && !(await (await import('../confirm.ts')).confirm(`Remove machine "${name}"? Its agent's credential stops working at once.`, 'add --yes to remove it'))) {
        throw new CutoverError('VALIDATION_FAILED', `nothing was changed: "${name}" was not removed`);
      }
      const m = await client.call<MachineView>('DELETE', apiPath('machines', name));
      output(g.format).result(m, () => `removed machine ${m.name}; its credential no longer works, and the name can join again with a new join token`);
    });

  machine
    .command('rotate-credential')
    .description("give a machine a new credential (admin), printed once; the old one stops working at once, so put the new one in the agent's credential file")
    .argument('<name>')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const r = await (await connect(g)).call<MachineWithCredentialView>('POST', `${apiPath('machines', name)}/rotate-credential`);
      output(g.format).result(r, () =>
        [
          `new credential for machine ${r.machine.name}; it is shown only now, and the old one no longer works:`,
          `  ${r.credential}`,
          "write it to the agent's credential file (mode 0600), then restart the agent",
        ].join('\n'),
      );
    });
}
