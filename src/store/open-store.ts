import type { Store } from './store.ts';
import type { RowLog } from './decode-rows.ts';
import { createSqliteStore } from './sqlite/sqlite-store.ts';
import type { ArtifactBlobs } from './artifact-blobs.ts';
import type { ReplicaBus } from './replica-bus.ts';
import { createPostgresArtifactBlobs, createPostgresReplicaBus, createPostgresStore } from './postgres/index.ts';

/** True for a `postgres://` or `postgresql://` URL. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Opens the store a `database` setting names: a PostgreSQL URL, or else a SQLite file path.
 * The one place outside the dialect folders that knows there are dialects.
 */
export async function openStore(location: string, options: { log?: RowLog } = {}): Promise<Store> {
  return isPostgresUrl(location) ? createPostgresStore(location, options) : createSqliteStore(location, options);
}

/**
 * The artifacts replicas share through the database a `database` setting names (ADR 0024): on
 * PostgreSQL, its `artifacts` tables (open the store first: it migrates them); with SQLite there is
 * one server and nothing to share, so undefined.
 */
export function openArtifactBlobs(location: string): ArtifactBlobs | undefined {
  return isPostgresUrl(location) ? createPostgresArtifactBlobs(location) : undefined;
}

/**
 * How the replicas sharing the database a `database` setting names reach each other's machines
 * (ADR 0025): on PostgreSQL, its `replicas`, `machine_sessions` and `relayed_calls` tables and
 * LISTEN/NOTIFY (open the store first: it migrates them); with SQLite there is one server and
 * nothing to relay, so undefined. `serverId` is this process's `LeaseHolder.serverId`.
 */
export function openReplicaBus(location: string, serverId: string, replica: string | null): ReplicaBus | undefined {
  return isPostgresUrl(location) ? createPostgresReplicaBus(location, serverId, { replica }) : undefined;
}

/** The setting as it may be shown in logs: a URL's password is masked. */
export function describeDatabase(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    const url = new URL(location);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}
