import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { EdgeCertificateListView, EdgeCertificateRemovedView, EdgeCertificateSetView } from '../../api/index.ts';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';

type Certificate = EdgeCertificateListView['certificates'][number];

/** A PEM file the user named; a file that cannot be read is named with what to fix (nothing is sent). */
async function pemFile(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CutoverError('VALIDATION_FAILED', `cannot read ${flag} ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); give a readable PEM file`, { details: { file } });
  }
}

const daysText = (c: Certificate) => (c.daysLeft < 0 ? 'expired' : `${c.daysLeft}${c.expiresSoon ? ' (renew soon)' : ''}`);
const holdingText = (c: Certificate) => (c.machines.length === 0 ? '-' : c.machines.map((m) => (c.holding.includes(m) ? m : `${m} (pending)`)).join(', '));

function certificateRows(certs: readonly Certificate[], wide: boolean): string {
  if (certs.length === 0) return 'no certificates; set one with `cutover tls set HOST --cert-file F --key-file F`';
  return table([
    ['HOST', 'DEFAULT', 'EXPIRES', 'DAYS LEFT', 'FINGERPRINT', 'MACHINES', ...(wide ? ['NAMES', 'SET', 'BY'] : [])],
    ...certs.map((c) => [
      c.host,
      c.isDefault ? 'yes' : '',
      c.notAfter.slice(0, 10),
      daysText(c),
      wide ? c.fingerprint : `${c.fingerprint.slice(0, 16)}…`,
      holdingText(c),
      ...(wide ? [c.hosts.join(','), c.createdAt, c.createdBy] : []),
    ]),
  ]);
}

/** `tls set|list|remove`: the certificates the routers serve per host name (docs/tls.md). */
export function registerTlsCommands(program: Command): void {
  const tls = program.command('tls').description('certificates the routers serve over HTTPS, per host name (SNI); keys stored sealed and sent only to the machines serving the host');

  tls
    .command('set')
    .description("set a host's certificate and key (admin): checked first (the key matches, valid now, covers the host) — a refused pair changes nothing and the old one keeps serving")
    .argument('<host>', 'the host name it serves: exact, or a one-label wildcard (`*.example.com`)')
    .requiredOption('--cert-file <file>', 'PEM: the certificate chain, leaf first (e.g. fullchain.pem)')
    .requiredOption('--key-file <file>', 'PEM: its private key (e.g. privkey.pem); read here, never put on the command line')
    .option('--default', 'also serve handshakes with an unknown or absent SNI')
    .action(async (host: string, opts: { certFile: string; keyFile: string; default?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const cert = await pemFile(opts.certFile, '--cert-file');
      const key = await pemFile(opts.keyFile, '--key-file');
      const client = await connect(g);
      const answer = await client.call<EdgeCertificateSetView>('PUT', '/api/tls', { host, cert, key, ...(opts.default ? { default: true } : {}) });
      const c = answer.certificate;
      output(g.format).result(answer, () =>
        [
          `${c.host}: certificate ${c.fingerprint}${c.isDefault ? ' (default)' : ''}, valid until ${c.notAfter} (${daysText(c)} days)${answer.replaced ? `, replacing ${answer.replaced}` : ''}`,
          c.machines.length ? `sent to ${c.machines.join(', ')}` : 'no machine serves this host yet; it is sent when an instance with it is placed',
        ].join('\n'),
      );
    });

  tls
    .command('list')
    .description('the certificates set: hosts, expiry, days left, fingerprint, and the machines serving each (pending: not acknowledged yet)')
    .action(async (_opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const answer = await client.call<EdgeCertificateListView>('GET', '/api/tls');
      output(g.format).result(answer, (wide) => certificateRows(answer.certificates, wide));
    });

  tls
    .command('remove')
    .description("remove a host's certificate (admin); the machines serving it stop offering it")
    .argument('<host>')
    .action(async (host: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const answer = await client.call<EdgeCertificateRemovedView>('DELETE', apiPath('tls', host));
      output(g.format).result(answer, () => `${answer.host}: certificate ${answer.fingerprint} removed`);
    });
}
