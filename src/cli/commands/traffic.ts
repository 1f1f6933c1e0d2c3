import { readFile } from 'node:fs/promises';
import type { DeploymentView, InstanceStatus, PreviewAccess } from '../../api/index.ts';
import type { Command } from 'commander';
import { CutoverError } from '../../shared/index.ts';
import { connect } from '../api-client.ts';
import { apiPath, deploymentId, looksLikeDeploymentId } from '../api-path.ts';
import type { ApiClient } from '../api-client.ts';
import { output } from '../output.ts';
import { follow } from './deployments.ts';
import { globals } from './globals.ts';

/** A deployment id (`dpl_…`) as given, or the deployment running on the named instance. */
async function runningDeployment(client: ApiClient, target: string): Promise<string> {
  if (looksLikeDeploymentId(target)) return deploymentId(target);
  const status = await client.call<InstanceStatus>('GET', apiPath('instances', target));
  const last = status.lastDeployment;
  if (!last || last.status !== 'running') {
    throw new CutoverError(
      'DEPLOYMENT_NOT_RUNNING',
      `no deployment is running on "${target}"${last ? ` (the last one, ${last.id}, ${last.status})` : ''}; nothing to steer`,
      { details: { instance: target, ...(last ? { deployment: last.id, status: last.status } : {}) } },
    );
  }
  return last.id;
}

const path = (instance: string, what: string) => apiPath('instances', instance, what);

/** `abort`, `resume`, `preview`, `maintenance`: steering a gradual cutover and an instance's traffic switches. */
export function registerTrafficCommands(program: Command): void {
  program
    .command('abort')
    .description('stop a running deployment before its flip (every client goes back to the old release, the new slot stops) or during its verify test (everyone flips back to the warm slot)')
    .argument('<target>', 'instance name (its running deployment) or deployment id')
    .option('--reason <text>', 'why, for the audit log')
    .option('--wait', 'wait until the deployment has stopped')
    .action(async (target: string, opts: { reason?: string; wait?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      if (looksLikeDeploymentId(target)) deploymentId(target);
      const client = await connect(g);
      const id = await runningDeployment(client, target);
      let d = await client.call<DeploymentView>('POST', apiPath('deployments', id, 'abort'), opts.reason ? { reason: opts.reason } : {});
      if (opts.wait) {
        d = await follow(client, d, out).catch((error: unknown) => {
          if (error instanceof CutoverError && error.code === 'DEPLOYMENT_ABORTED') return client.call<DeploymentView>('GET', apiPath('deployments', id));
          throw error;
        });
      }
      out.result(d, () =>
        d.status === 'aborted'
          ? `aborted ${d.id}: ${d.instance} serves ${d.fromVersion ?? 'nothing'} to everyone`
          : `asked ${d.id} to abort; it stops within a second (\`cutover status ${d.instance}\`)`,
      );
    });

  program
    .command('resume')
    .description('end the hold of the weighted step a deployment is at (a manual pause, or a timed one early)')
    .argument('<target>', 'instance name (its running deployment) or deployment id')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (target: string, opts: { reason?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (looksLikeDeploymentId(target)) deploymentId(target);
      const client = await connect(g);
      const id = await runningDeployment(client, target);
      const d = await client.call<DeploymentView>('POST', apiPath('deployments', id, 'resume'), opts.reason ? { reason: opts.reason } : {});
      const step = d.steps.find((s) => s.status === 'running')?.name ?? 'its step';
      output(g.format).result(d, () => `resumed ${d.id} at ${step}; follow it with \`cutover status ${d.instance}\``);
    });

  program
    .command('preview')
    .description("let requests carrying a token reach the instance's idle slot (before the flip, or the warm one after it)")
    .argument('<instance>', 'instance name')
    .option('--token <token>', 'the token to accept (16–200 characters); default: a new random one')
    .option('--off', 'stop accepting the token')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (instance: string, opts: { token?: string; off?: boolean; reason?: string }, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      const client = await connect(g);
      const reason = opts.reason ? { reason: opts.reason } : {};
      if (opts.off) {
        if (opts.token) throw new CutoverError('VALIDATION_FAILED', '--off and --token do not go together');
        const r = await client.call<unknown>('DELETE', path(instance, 'preview'), reason);
        out.result(r, () => `preview of ${instance} closed: the token is no longer accepted`);
        return;
      }
      const access = await client.call<PreviewAccess>('PUT', path(instance, 'preview'), { ...reason, ...(opts.token ? { token: opts.token } : {}) });
      out.result(access, () =>
        [
          access.reaches
            ? `preview of ${instance} open: it reaches ${access.reaches.version} (${access.reaches.color})`
            : `preview of ${instance} open: nothing runs in the idle slot yet; deploy with --steps 0 to start one without traffic`,
          `token: ${access.token}`,
          `  curl -H '${access.header}: ${access.token}' http://<host>/`,
          `  or open http://<host>${access.path} in a browser (sets a cookie)`,
          `close it with \`cutover preview ${instance} --off\``,
        ].join('\n'),
      );
    });

  program
    .command('maintenance')
    .description('answer every request of an instance with a maintenance page (503), or serve it again')
    .argument('<instance>', 'instance name')
    .argument('<state>', 'on or off')
    .option('--page <file>', 'with on: a complete HTML page to serve instead of the default one')
    .option('--retry-after <seconds>', 'with on: the Retry-After header (default 30)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (instance: string, state: string, opts: { page?: string; retryAfter?: string; reason?: string }, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      if (state !== 'on' && state !== 'off') throw new CutoverError('VALIDATION_FAILED', `state must be on or off, not "${state}"`);
      if (state === 'off' && (opts.page || opts.retryAfter)) {
        throw new CutoverError('VALIDATION_FAILED', '--page and --retry-after go with on');
      }
      const retry = opts.retryAfter === undefined ? undefined : Number(opts.retryAfter);
      if (retry !== undefined && !(Number.isInteger(retry) && retry >= 0 && retry <= 86_400)) {
        throw new CutoverError('VALIDATION_FAILED', `--retry-after must be whole seconds from 0 to 86400, not "${opts.retryAfter}"`);
      }
      let html: string | undefined;
      if (opts.page) {
        try {
          html = await readFile(opts.page, 'utf8');
        } catch (error) {
          throw new CutoverError('VALIDATION_FAILED', `cannot read --page ${opts.page}: ${(error as Error).message}`);
        }
      }
      const client = await connect(g);
      const reason = opts.reason ? { reason: opts.reason } : {};
      const r =
        state === 'on'
          ? await client.call<unknown>('PUT', path(instance, 'maintenance'), {
              ...reason,
              ...(html === undefined ? {} : { html }),
              ...(retry === undefined ? {} : { retryAfterSeconds: retry }),
            })
          : await client.call<unknown>('DELETE', path(instance, 'maintenance'), reason);
      out.result(r, () =>
        state === 'on' ? `${instance} is in maintenance: every request gets the page with a 503` : `${instance} serves again`,
      );
    });
}
