import { rm } from 'node:fs/promises';
import type { ListOf, ReleaseView } from '../../api/index.ts';
import type { Command } from 'commander';
import type { ReleaseDiff } from '../../releases/index.ts';
import { ciEnv } from '../../config/env.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { indent, withQuery } from '../format.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';

const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;

function renderDiff(d: ReleaseDiff & { app: string }): string {
  const section = (title: string, lines: string[]) => (lines.length ? `${title}\n${lines.map((l) => `  ${l}`).join('\n')}` : `${title}: no change`);
  const f = d.features;
  const c = d.components;
  return [
    `${d.app} ${d.from} → ${d.to} (${d.direction})`,
    section('features', [
      ...f.added.map((x) => `+ ${x.key}  ${x.title}`),
      ...f.removed.map((x) => `- ${x.key}  ${x.title}`),
      ...f.changed.map((x) => `~ ${x.key}  ${x.from.title === x.to.title ? x.to.title : `${x.from.title} → ${x.to.title}`}${x.from.description === x.to.description ? '' : ' (description changed)'}`),
    ]),
    section('components', [
      ...c.added.map((x) => `+ ${x.name} ${x.version}`),
      ...c.removed.map((x) => `- ${x.name} ${x.version}`),
      ...c.changed.map((x) => `~ ${x.name} ${x.from} → ${x.to}${x.artifact ? ` (artifact ${x.artifact.from ?? '-'} → ${x.artifact.to ?? '-'})` : ''}`),
    ]),
    section('migrations', [...d.migrations.added.map((m) => `+ ${m}`), ...d.migrations.removed.map((m) => `- ${m} (${d.direction === 'downgrade' ? 'undone' : 'dropped'})`)]),
    d.notes.length
      ? `notes${d.direction === 'downgrade' ? ' (of the releases being undone)' : ''}\n${d.notes.map((n) => `  ${n.version}\n${indent(n.notes, '    ')}`).join('\n')}`
      : 'notes: none',
  ].join('\n');
}

interface PublishFlags {
  allowArtifactOutside?: boolean;
  gitTag?: string;
  versionFromTag?: boolean;
}

/** ` (tag v1.2.0, commit abc1234, build https://…)`, or nothing when the release records none. */
function provenanceText(spec: Record<string, unknown>): string {
  const parts = [['tag', spec.tag], ['commit', spec.commit], ['build', spec.buildUrl]].filter(([, v]) => typeof v === 'string').map(([k, v]) => `${String(k)} ${String(v)}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** `release publish|list|show|diff`. */
export function registerCatalogCommands(program: Command): void {
  const release = program.command('release').description('publish and inspect releases');

  release
    .command('publish')
    .description('validate a release manifest (YAML), upload its artifact, and publish it; from CI, with --git-tag: see docs/ci.md')
    .argument('<file>', 'the manifest, e.g. releases/1.2.0.yml')
    .option('--allow-artifact-outside', "accept an artifact outside the directories of the manifest and the files it extends (refused by default, so a mistyped path cannot upload e.g. /etc)")
    .option('--git-tag <tag>', 'the git tag this release is built from, e.g. "$GITHUB_REF_NAME": refused unless it names the manifest\'s version (v1.2.0 or 1.2.0); recorded on the release')
    .option('--version-from-tag', "take the version from the git tag (--git-tag, else the CI job's tag), as the manifest's `version: ${GIT_TAG}` does")
    .action(async (file: string, opts: PublishFlags, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      const { ciProvenance, loadManifest, packArtifact, withCiProvenance } = await import('../../releases/index.ts'); // heavy (yaml, zod, tar): load on use
      const ci = ciProvenance(ciEnv());
      const loaded = await loadManifest(file, {
        allowArtifactOutside: opts.allowArtifactOutside === true,
        gitTag: opts.gitTag,
        ciTag: ci.tag,
        versionFromTag: opts.versionFromTag,
      }); // validates everything, the tag included, before any upload
      const { artifactPath, warnings } = loaded;
      const spec = withCiProvenance(loaded.spec, ci);
      for (const w of warnings ?? []) out.progress(`warning: ${w}`);
      const client = await connect(g);
      out.progress(`packing ${artifactPath}`);
      const packed = await packArtifact(artifactPath);
      try {
        out.progress(`uploading ${packed.digest.slice(0, 19)}… (${kb(packed.size)})`);
        const uploaded = await client.upload(withQuery(apiPath('artifacts'), { digest: packed.digest }), packed.file);
        const published = await client.call<ReleaseView & { created: boolean }>('POST', '/api/releases', {
          ...spec,
          artifact: { digest: uploaded.digest, size: uploaded.size },
        });
        const from = provenanceText(published.spec);
        out.result(published, () =>
          published.created
            ? `published ${published.app} ${published.version}${from}`
            : `${published.app} ${published.version} already published with this content${from}; nothing changed`,
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
      const client = await connect(g);
      const answer = await client.call<ListOf<ReleaseView>>('GET', withQuery(apiPath('releases'), { app: opts.app }));
      const releases = answer.items;
      // -o wide adds the artifact (digest and size) and the components.
      const artifact = (r: ReleaseView) => r.spec.artifact as { digest?: string; size?: number } | undefined;
      const components = (r: ReleaseView) => ((r.spec.components ?? []) as { name: string; version: string }[]).map((c) => `${c.name}@${c.version}`).join(',') || '-';
      output(g.format).result(answer, (wide) =>
        releases.length
          ? table([
              ['APP', 'VERSION', 'PUBLISHED', 'BY', 'TAG', 'COMMIT', ...(wide ? ['BUILD', 'ARTIFACT', 'SIZE', 'COMPONENTS'] : [])],
              ...releases.map((r) => [
                r.app,
                r.version,
                r.createdAt,
                r.createdBy,
                String(r.spec.tag ?? '-'),
                String(r.spec.commit ?? '-'),
                ...(wide ? [String(r.spec.buildUrl ?? '-'), artifact(r)?.digest ?? '-', artifact(r)?.size === undefined ? '-' : kb(artifact(r)!.size!), components(r)] : []),
              ]),
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
      const client = await connect(g);
      const r = await client.call<ReleaseView>('GET', withQuery(apiPath('releases', version), { app: opts.app }));
      const s = r.spec as {
        components?: { name: string; version: string }[];
        features?: { key: string; title: string }[];
        notes?: string;
        artifact?: { digest: string };
        commit?: string;
        tag?: string;
        buildUrl?: string;
      };
      output(g.format).result(r, () =>
        [
          `${r.app} ${r.version}  published ${r.createdAt} by ${r.createdBy}`,
          `artifact   ${s.artifact?.digest ?? '-'}`,
          `tag        ${s.tag ?? '-'}`,
          `commit     ${s.commit ?? '-'}`,
          `build      ${s.buildUrl ?? '-'}`,
          `components ${(s.components ?? []).map((c) => `${c.name}@${c.version}`).join(', ') || '-'}`,
          `features   ${(s.features ?? []).map((f) => `${f.key} (${f.title})`).join(', ') || '-'}`,
          s.notes ? `notes\n  ${s.notes.trim().split('\n').join('\n  ')}` : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
    });

  release
    .command('diff')
    .description('what moving from release A to release B changes: features, components, migrations, and the notes in between')
    .argument('<from>', 'the version you are on, e.g. 1.0.0')
    .argument('<to>', 'the version you would move to, e.g. 1.2.0')
    .option('--app <app>', 'the app, when several have these versions')
    .action(async (from: string, to: string, opts: { app?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const d = await client.call<ReleaseDiff & { app: string }>('GET', withQuery('/api/releases/diff', { from, to, app: opts.app }));
      output(g.format).result(d, () => renderDiff(d));
    });
}
