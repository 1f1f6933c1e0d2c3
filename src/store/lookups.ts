// "Get it or say it is not found": one place each record's NOT_FOUND error is written, so every
// caller (services, the deployer, the API) names the same fix.
import { CutoverError } from '../shared/index.ts';
import type { Store } from './store.ts';
import type { ChannelRecord, InstanceRecord, ProblemRecord, ReleaseRecord } from './types.ts';

/** The instance, or INSTANCE_NOT_FOUND. */
export async function mustGetInstance(store: Pick<Store, 'getInstance'>, name: string): Promise<InstanceRecord> {
  const instance = await store.getInstance(name);
  if (!instance) throw new CutoverError('INSTANCE_NOT_FOUND', `no instance named "${name}"; see \`cutover instance list\``, { details: { instance: name } });
  return instance;
}

/** The release, or RELEASE_NOT_FOUND naming the app's newest ones. */
export async function mustGetRelease(store: Pick<Store, 'getRelease' | 'listReleases'>, app: string, version: string): Promise<ReleaseRecord> {
  const release = await store.getRelease(app, version);
  if (release) return release;
  const known = (await store.listReleases(app)).slice(0, 10).map((r) => r.version);
  throw new CutoverError(
    'RELEASE_NOT_FOUND',
    `app "${app}" has no release ${version}` + (known.length ? `; newest: ${known.join(', ')}` : '; publish one with `cutover release publish FILE`'),
    { details: { app, version } },
  );
}

/** The channel, or CHANNEL_NOT_FOUND naming the channels there are. */
export async function mustGetChannel(store: Pick<Store, 'getChannel' | 'listChannels'>, name: string): Promise<ChannelRecord> {
  const channel = await store.getChannel(name);
  if (channel) return channel;
  const names = (await store.listChannels()).map((c) => c.name);
  throw new CutoverError('CHANNEL_NOT_FOUND', `no channel named "${name}"; channels: ${names.join(', ')}`, { details: { channel: name } });
}

/** The problem, or PROBLEM_NOT_FOUND. */
export async function mustGetProblem(store: Pick<Store, 'getProblem'>, id: number): Promise<ProblemRecord> {
  const problem = await store.getProblem(id);
  if (!problem) throw new CutoverError('PROBLEM_NOT_FOUND', `no problem #${id}; see \`cutover problem list\``, { details: { id } });
  return problem;
}
