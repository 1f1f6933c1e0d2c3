import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { AppConfigChangeAnswer, AppConfigDiffView, AppConfigView, RotationView } from '../../api/index.ts';
import { keyProblem, stripOneNewline } from '../../appconfig/index.ts';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath } from '../api-path.ts';
import { withQuery } from '../format.ts';
import { output, table } from '../output.ts';
import { globals } from './globals.ts';

interface LayerFlags {
  app?: string;
  environment?: string;
  instance?: string;
}

const layerOptions = (cmd: Command): Command =>
  cmd
    .option('--app <app>', 'every instance of this app (with --environment: of this app in that environment)')
    .option('--environment <env>', "every instance whose `environment` is this (with --app: of that app only)")
    .option('--instance <name>', 'this instance only (the highest layer)');

const layerOf = (o: LayerFlags) => ({ ...(o.app ? { app: o.app } : {}), ...(o.environment ? { environment: o.environment } : {}), ...(o.instance ? { instance: o.instance } : {}) });

function checkedKey(key: string): string {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new CutoverError('VALIDATION_FAILED', `key ${JSON.stringify(key.slice(0, 60))} ${problem}`);
  return key;
}

/** `KEY=VALUE`, split at the first `=`. */
function assignment(text: string): { key: string; value: string } {
  const at = text.indexOf('=');
  if (at <= 0) throw new CutoverError('VALIDATION_FAILED', `give KEY=VALUE (got ${JSON.stringify(text.slice(0, 60))})`);
  return { key: checkedKey(text.slice(0, at)), value: text.slice(at + 1) };
}

const changeLine = (c: AppConfigChangeAnswer): string => `${c.key} at ${c.layer}: ${c.before ?? '(unset)'} → ${c.after ?? '(unset)'} (version ${c.version})`;

/** A secret's value, never from argv (it would show in /proc/*\/cmdline and shell history): a file, or stdin. */
async function secretValue(fromFile: string | undefined): Promise<string> {
  if (fromFile !== undefined) return stripOneNewline(await readFile(fromFile, 'utf8'));
  if (process.stdin.isTTY) throw new CutoverError('VALIDATION_FAILED', 'give the value with --from-file FILE or on stdin (e.g. `cutover secret set … KEY < file`)');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return stripOneNewline(Buffer.concat(chunks).toString('utf8'));
}

function refuseArgvValue(key: string, extra: string | undefined): void {
  if (key.includes('=') || extra !== undefined) {
    throw new CutoverError('VALIDATION_FAILED', 'a secret value is never taken on the command line (it would show in /proc/*/cmdline and shell history): give the key only, and the value with --from-file FILE or on stdin');
  }
}

/** `app-config set|unset|show|diff` and `secret set|unset|rotate-key`. */
export function registerAppConfigCommands(program: Command): void {
  const appConfig = program.command('app-config').description("an app's config: plain values in layers (app < environment < app+environment < instance, over the release's env), versioned; deployed blue-green");

  layerOptions(appConfig.command('set').description('set a plain value at one layer (a new version; audited)').argument('<KEY=VALUE>'))
    .action(async (kv: string, opts: LayerFlags, cmd: Command) => {
      const g = globals(cmd);
      const { key, value } = assignment(kv);
      const client = await connect(g);
      const answer = await client.call<AppConfigChangeAnswer>('PUT', '/api/app-config', { ...layerOf(opts), key, value });
      output(g.format).result(answer, () => changeLine(answer));
    });

  layerOptions(appConfig.command('unset').description('remove a plain value from one layer').argument('<key>'))
    .action(async (key: string, opts: LayerFlags, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const answer = await client.call<AppConfigChangeAnswer>('POST', '/api/app-config/unset', { ...layerOf(opts), key: checkedKey(key) });
      output(g.format).result(answer, () => changeLine(answer));
    });

  appConfig
    .command('show')
    .description("every key of an instance's config, its value (a secret masked, with its fingerprint) and the layer it came from")
    .argument('<instance>')
    .action(async (name: string, _opts: object, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const view = await client.call<AppConfigView>('GET', apiPath('instances', name, 'app-config'));
      output(g.format).result(view, () =>
        view.entries.length === 0
          ? `${name}: no app config (version ${view.version})`
          : table([['KEY', 'VALUE', 'LAYER'], ...view.entries.map((e) => [e.key, e.secret ? `(secret ${e.fingerprint})` : e.value ?? '', e.layer])]),
      );
    });

  appConfig
    .command('diff')
    .description("what the next deployment would change for an instance: the current app config against the version its live slot runs (or --from)")
    .argument('<instance>')
    .option('--from <version>', 'the app-config version to compare from')
    .action(async (name: string, opts: { from?: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const diff = await client.call<AppConfigDiffView>('GET', withQuery(apiPath('instances', name, 'app-config', 'diff'), { from: opts.from }));
      const shown = (e: AppConfigDiffView['changes'][number]['before']) => (e === null ? '(unset)' : e.secret ? `(secret ${e.fingerprint})` : e.value ?? '');
      output(g.format).result(diff, () =>
        diff.changes.length === 0
          ? `${name}: no change from version ${diff.from} to ${diff.to}`
          : table([['KEY', 'CHANGE', 'BEFORE', 'AFTER'], ...diff.changes.map((c) => [c.key, c.change, shown(c.before), shown(c.after)])]),
      );
    });

  const secret = program.command('secret').description('secrets of the app config: encrypted at rest, never shown (a fingerprint instead), never taken on argv');

  layerOptions(secret.command('set').description('set a secret at one layer; the value from --from-file (one trailing newline dropped) or stdin').argument('<key>').argument('[value]'))
    .option('--from-file <file>', 'read the value from this file')
    .action(async (key: string, extra: string | undefined, opts: LayerFlags & { fromFile?: string }, cmd: Command) => {
      refuseArgvValue(key, extra);
      const g = globals(cmd);
      checkedKey(key);
      const value = await secretValue(opts.fromFile);
      const client = await connect(g);
      const answer = await client.call<AppConfigChangeAnswer>('PUT', '/api/secrets', { ...layerOf(opts), key, value });
      output(g.format).result(answer, () => changeLine(answer));
    });

  layerOptions(secret.command('unset').description('remove a secret from one layer').argument('<key>'))
    .action(async (key: string, opts: LayerFlags, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const answer = await client.call<AppConfigChangeAnswer>('POST', '/api/secrets/unset', { ...layerOf(opts), key: checkedKey(key) });
      output(g.format).result(answer, () => changeLine(answer));
    });

  secret
    .command('rotate-key')
    .description('re-encrypt every secret of every kept version with another key, in one transaction (admin; add the key file on every replica first)')
    .requiredOption('--to <id>', 'the key id (its file `<id>.key` in every replica\'s key directory)')
    .action(async (opts: { to: string }, cmd: Command) => {
      const g = globals(cmd);
      const client = await connect(g);
      const answer = await client.call<RotationView>('POST', '/api/secrets/rotate-key', { to: opts.to });
      output(g.format).result(answer, () => `re-encrypted ${answer.secrets} secrets in ${answer.versions} versions and ${answer.certificates} certificate keys with key ${answer.keyId}; the old key files may go once every replica has ${answer.keyId}`);
    });
}
