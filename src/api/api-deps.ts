import type { Clock, Color, Logger } from '../shared/index.ts';
import type { ArtifactStore } from '../releases/index.ts';
import type { Store } from '../store/index.ts';
import type { Deployer, Runtime, TrafficControls } from '../deploy/index.ts';
import type { Scheduler } from '../scheduler/index.ts';

/**
 * What the API's routes are given: services built by the composition root (`main.ts`), never
 * built inside a route factory. Its own file, so `api.ts` and the `routes-*.ts` do not import each other.
 */
export interface ApiDeps {
  store: Store;
  deployer: Deployer;
  runtime: Runtime;
  /** The instance's traffic switches (preview, maintenance), built by the composition root. */
  traffic: TrafficControls;
  artifacts: ArtifactStore;
  clock: Clock;
  log: Logger;
  /** This replica's app-config key ring, read from its key files at each use; absent: secrets are refused. */
  keyRing?(): ReadonlyMap<string, Buffer>;
  /** The fleet scheduler; absent in tests that do not need it. */
  scheduler?: Scheduler;
  /** Largest JSON request body in bytes (setting `maxApiBody`); default 1 MiB. */
  maxApiBody?: number;
  /** Largest artifact upload in bytes (setting `maxArtifactSize`); default 1 GiB. */
  maxArtifactSize?: number;
  /** How many of each instance's last releases `POST /api/prune` keeps on the agent (setting `pruneKeepReleases`). */
  pruneKeepReleases?: number;
  /** SHA-256 of the API's TLS certificate, embedded in join tokens; absent when it serves plain HTTP. */
  tlsFingerprint?: string;
  /** SHA-256 of the CA that signed the API's certificate (`tlsCa`): join tokens then pin it instead. */
  tlsCaFingerprint?: string;
  /** The product version, shown in the OpenAPI document. */
  version?: string;
  /**
   * Streams an instance's slot output from one of its machines (`machine`, or the first connected
   * one), saying which machine and colour it streams (the labels of the log lines).
   */
  openLogs(
    instance: string,
    query: { color?: Color; tail?: number; follow?: boolean; machine?: string },
    signal: AbortSignal,
  ): Promise<{ color: string; body: AsyncIterable<Uint8Array>; machine: string | null }>;
  /** The machines whose agents have a session with this server now (`machine list`'s CONNECTED); default: none known. */
  connectedMachines?(): string[];
  /** What machines should hold changed (a certificate set or removed, an instance created, deleted or given other hosts): their desired state is pushed now, not at the next sync. */
  desiredStateChanged?(): void;
  /** Ends a machine's session (its credential was rotated or the machine removed). */
  disconnectMachine?(name: string, why: string): void;
}

/** Returns `value` after telling the fleet that machines' desired state changed (see `desiredStateChanged`). */
export function pushedDesired<T>(deps: Pick<ApiDeps, 'desiredStateChanged'>, value: T): T {
  deps.desiredStateChanged?.();
  return value;
}
