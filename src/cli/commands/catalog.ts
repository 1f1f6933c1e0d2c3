import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import type { InstanceRecord, ReleaseRecord } from '../../store/index.ts';
import { connect } from '../api-client.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';

const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;

export function registerCatalogCommands(program: Command): void {
  const release = program.command('release').description('publish and inspect releases');

  release
    .command('publish')
    .description('validate a release manifest (YAML), upload its artifact, and publish it')
    .argument('<file>', 'the manifest, e.g. releases/1.2.0.yml')
    .action(async (file: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.json);
      const { loadManifest, packArtifact } = await import('../../releases/index.ts'); // heavy (yaml, zod, tar): load on use
      const { spec, artifactPath } = await loadManifest(file); // validates everything before any upload
      const client = await connect(g.dataDir);
      out.progress(`packing ${artifactPath}`);
      const packed = await packArtifact(artifactPath);
      try {
        out.progress(`uploading ${packed.digest.slice(0, 19)}… (${kb(packed.size)})`);
        const uploaded = await client.upload(`/api/artifacts?digest=${packed.digest}`, packed.file);
        const published = await client.call<ReleaseRecord & { created: boolean }>('POST', '/api/releases', {
          ...spec,
          artifact: { digest: uploaded.digest, size: uploaded.size },
        });
        out.result(published, () =>
          published.created
            ? `published ${published.app} ${published.version}`
            : `${published.app} ${published.version} was already published with this content; nothing changed`,
        );
      } finally {
        if (packed.temporary) await rm(packed.file, { force: true });
      }
    });

  release
    .command('list')
    .description('published releases, newest first')
    .option('--app <app>', 'only this app')
    .action(async (opts: { app?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g.dataDir);
      const { releases } = await client.call<{ releases: ReleaseRecord[] }>('GET', `/api/releases${opts.app ? `?app=${encodeURIComponent(opts.app)}` : ''}`);
      output(g.json).result(releases, () =>
        releases.length
          ? table([
              ['APP', 'VERSION', 'PUBLISHED', 'BY', 'COMMIT'],
              ...releases.map((r) => [r.app, r.version, new Date(r.createdAt).toISOString(), r.createdBy, String(r.spec.commit ?? '-')]),
            ])
          : 'no releases yet; publish one with `cutover release publish FILE`',
      );
    });

  release
    .command('show')
    .description('one release: components, features, notes')
    .argument('<version>')
    .option('--app <app>', 'the app, when several have this version')
    .action(async (version: string, opts: { app?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g.dataDir);
      const r = await client.call<ReleaseRecord>('GET', `/api/releases/${encodeURIComponent(version)}${opts.app ? `?app=${encodeURIComponent(opts.app)}` : ''}`);
      const s = r.spec as { components?: { name: string; version: string }[]; features?: { key: string; title: string }[]; notes?: string; artifact?: { digest: string }; commit?: string };
      output(g.json).result(r, () =>
        [
          `${r.app} ${r.version}  published ${new Date(r.createdAt).toISOString()} by ${r.createdBy}`,
          `artifact   ${s.artifact?.digest ?? '-'}`,
          `commit     ${s.commit ?? '-'}`,
          `components ${(s.components ?? []).map((c) => `${c.name}@${c.version}`).join(', ') || '-'}`,
          `features   ${(s.features ?? []).map((f) => `${f.key} (${f.title})`).join(', ') || '-'}`,
          s.notes ? `notes\n  ${s.notes.trim().split('\n').join('\n  ')}` : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
    });

  const instance = program.command('instance').description('create and inspect instances');
  instance
    .command('create')
    .description('create an instance of an app, reachable at one or more host names')
    .argument('<name>')
    .requiredOption('--app <app>', 'the app it runs')
    .requiredOption('--host <hostname...>', 'host name(s) the router sends to it')
    .option('--environment <env>', 'production, test, staging…', 'production')
    .action(async (name: string, opts: { app: string; host: string[]; environment: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g.dataDir);
      const created = await client.call<InstanceRecord>('POST', '/api/instances', {
        name,
        app: opts.app,
        hosts: opts.host,
        environment: opts.environment,
      });
      output(g.json).result(created, () => `created instance ${created.name} (${created.app}, ${created.environment}) at ${created.hosts.join(', ')}`);
    });
  instance
    .command('list')
    .description('all instances')
    .action(async (_opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g.dataDir);
      const { instances } = await client.call<{ instances: InstanceRecord[] }>('GET', '/api/instances');
      output(g.json).result(instances, () =>
        instances.length
          ? table([
              ['NAME', 'APP', 'ENV', 'VERSION', 'HOSTS'],
              ...instances.map((i) => [i.name, i.app, i.environment, i.currentVersion ?? '-', i.hosts.join(',')]),
            ])
          : 'no instances yet; create one with `cutover instance create NAME --app APP --host HOST`',
      );
    });
  instance
    .command('show')
    .description('one instance with its slots')
    .argument('<name>')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g.dataDir);
      const i = await client.call<InstanceRecord>('GET', `/api/instances/${encodeURIComponent(name)}`);
      output(g.json).result(i, () =>
        [
          `${i.name}  app ${i.app}  environment ${i.environment}`,
          `hosts    ${i.hosts.join(', ')}`,
          `version  ${i.currentVersion ?? '-'} (${i.activeColor ?? 'no'} slot active)`,
          ...(['blue', 'green'] as const).map((c) => {
            const s = i.slots[c];
            return `${c.padEnd(8)} ${s ? `${s.version} ${s.status}${s.warmUntil ? ` until ${new Date(s.warmUntil).toISOString()}` : ''}` : '-'}`;
          }),
        ].join('\n'),
      );
    });
}
