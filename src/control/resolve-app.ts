import { CutoverError } from '../shared/index.ts';
import type { Store } from '../store/index.ts';

/**
 * Which app a command means when the user names only a version: the given app; else the only app;
 * else the only app that has that version. Anything else asks for `--app`.
 */
export async function resolveApp(store: Store, app: string | undefined, version?: string): Promise<string> {
  const apps = await store.listApps();
  if (app !== undefined) {
    if (!apps.includes(app)) {
      throw new CutoverError('APP_NOT_FOUND', `no app named "${app}" has a release` + (apps.length ? `; known apps: ${apps.join(', ')}` : ''), {
        details: { app },
      });
    }
    return app;
  }
  if (apps.length === 1) return apps[0]!;
  if (apps.length === 0) throw new CutoverError('APP_NOT_FOUND', 'no release has been published yet; publish one with `cutover release publish FILE`');
  if (version !== undefined) {
    const having = (await store.listReleases()).filter((r) => r.version === version).map((r) => r.app);
    if (having.length === 1) return having[0]!;
  }
  throw new CutoverError('VALIDATION_FAILED', `several apps exist (${apps.join(', ')}); say which with --app (API: "app")`, { details: { apps } });
}

