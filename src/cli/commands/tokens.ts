import { Option } from 'commander';
import type { ListOf, RoleName, TokenInfo } from '../../api/index.ts';
import type { Command } from 'commander';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { when } from '../format.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';


/** `token create|list|revoke` (admin). */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('named API tokens with roles (admin)');

  token
    .command('create')
    .description('create a named token; it is printed once and never again')
    .argument('<name>', 'who or what uses it, e.g. ci or alice')
    .addOption(
      new Option(
        '--role <role>',
        'viewer reads; deployer deploys, retargets, promotes within policy, reports problems; admin does everything; publisher (for CI) reads, publishes, and promotes to its --channel channels only',
      )
        .choices(['viewer', 'deployer', 'admin', 'publisher'])
        .makeOptionMandatory(),
    )
    .option('--channel <channel>', 'with --role publisher: a channel it may promote to (repeat for several; none: it only publishes)', (c: string, all: string[] = []) => [...all, c])
    .action(async (name: string, opts: { role: RoleName; channel?: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const created = await client.call<TokenInfo & { token: string }>('POST', '/api/tokens', { name, role: opts.role, ...(opts.channel ? { channels: opts.channel } : {}) });
      output(g.format).result(created, () =>
        [
          `created token "${created.name}" (${created.role}${created.channels ? `, may promote to: ${created.channels.join(', ') || 'no channel'}` : ''}). It is shown only now: copy it, the server keeps only its hash.`,
          `  ${created.token}`,
          `use it with: CUTOVER_URL=${client.url} CUTOVER_TOKEN=<the token> cutover …`,
        ].join('\n'),
      );
    });

  token
    .command('list')
    .description('tokens by name and role (never the tokens themselves)')
    .action(async (_opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const answer = await client.call<ListOf<TokenInfo>>('GET', '/api/tokens');
      const tokens = answer.items;
      output(g.format).result(answer, () =>
        table([['NAME', 'ROLE', 'CHANNELS', 'CREATED', 'BY'], ...tokens.map((t) => [t.name, t.role, t.channels?.join(',') || '-', when(t.createdAt), t.createdBy])]),
      );
    });

  token
    .command('revoke')
    .description('revoke a token at once')
    .argument('<name>')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const revoked = await client.call<TokenInfo>('DELETE', apiPath('tokens', name));
      output(g.format).result(revoked, () => `revoked token "${revoked.name}" (${revoked.role}); requests with it now fail`);
    });
}
