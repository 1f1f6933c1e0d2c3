import { diffReleases, releaseSpecOf } from '../releases/index.ts';
import type { ReleaseDiff } from '../releases/index.ts';
import type { Store } from '../store/index.ts';
import { resolveApp } from './resolve-app.ts';
import { mustGetRelease } from '../store/index.ts';

/** The reviewable change set between two releases of an app: features, components, migrations, notes. */
export async function releaseDiff(store: Store, input: { app?: string | undefined; from: string; to: string }): Promise<ReleaseDiff & { app: string }> {
  const app = await resolveApp(store, input.app, input.from);
  const [from, to, all] = await Promise.all([mustGetRelease(store, app, input.from), mustGetRelease(store, app, input.to), store.listReleases(app)]);
  const spec = releaseSpecOf;
  return { app, ...diffReleases(spec(from), spec(to), all.map(spec)) };
}
