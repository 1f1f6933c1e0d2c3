// What a step runner is given and returns: its own file, so the runners' table and the test
// step (which both use it) do not import each other.
import type { Readable } from 'node:stream';
import type { Clock } from '../shared/index.ts';
import type { ReleaseSpec } from '../releases/index.ts';
import type { DeploymentRecord, StepRecord, Store } from '../store/index.ts';
import type { Journal } from './deployment-journal.ts';
import type { Runtime } from './runtime.ts';
import type { DeployConfig } from './deploy-config.ts';
import type { StepHold } from './step-hold.ts';

/** A problem the deployer files against a release (the composition root knows how). */
export interface ReleaseProblem {
  title: string;
  details: string;
  /** What found it: a weighted step's analysis or the release's `verify` test (the problem's source and actor). */
  source: 'analysis' | 'verify';
}

/** What every runner may use. Runners read and write only `step`; the journal persists the record. */
export interface RunnerDeps {
  store: Store;
  runtime: Runtime;
  clock: Clock;
  journal: Journal;
  hold: StepHold;
  openArtifact: (digest: string) => Readable;
  rollbackWindowMs: number;
  /** App config (issue 20): the slot environment at a deployment's recorded config version. Absent: the release's `env` only. */
  appConfig?: DeployConfig;
  /** Files a problem against the deployment's release (a failed step analysis, a failed verify test). */
  fileProblem?: (d: DeploymentRecord, problem: ReleaseProblem) => Promise<void>;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * One step's work. It may be run again for the same step (a replica resuming the deployment), so
 * each runner is idempotent: it reads what earlier steps saw from the record (the journal), never
 * from memory. Resolves with what the step saw, for its `detail`; throws to fail the deployment.
 */
export type StepRunner = (deps: RunnerDeps, d: DeploymentRecord, spec: ReleaseSpec, step: StepRecord) => Promise<Record<string, unknown> | undefined>;
