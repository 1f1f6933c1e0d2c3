import type { DeploymentView } from '../api/index.ts';
import { msBetween } from './format.ts';

/** One step of a deployment as the API answers it. */
type StepView = DeploymentView['steps'][number];

/** `1234 ms` / `2.5 s`: how long a step took, if it started and ended. */
function tookText(s: StepView): string {
  if (s.startedAt === undefined || s.finishedAt === undefined) return '';
  const ms = msBetween(s.startedAt, s.finishedAt);
  return ms < 10_000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** What a test step saw, in a few words: `exit 0`, `exit 1`, `timed out`, `cancelled`. */
function testOutcome(s: StepView): string {
  const d = s.detail;
  if (!d || d.passed === undefined) return '';
  if (d.timedOut) return 'timed out';
  if (d.cancelled) return 'cancelled';
  return d.exitCode === null ? `killed by ${String(d.signal)}` : `exit ${String(d.exitCode)}`;
}

/**
 * One finished step as `deploy --wait` prints it: `✓ smoke 1234 ms (exit 0)`; a step another
 * replica resumed after the one running it died says so: `✓ health 4.1 s (resumed by b/10.0.0.2:7070)`.
 */
export function stepLine(s: StepView): string {
  const took = tookText(s);
  const notes = [testOutcome(s), typeof s.detail?.resumedBy === 'string' ? `resumed by ${s.detail.resumedBy}` : ''].filter(Boolean);
  const mark = s.status === 'done' ? '✓' : s.status === 'failed' ? '✗' : '·';
  return `${mark} ${s.name}${took ? ` ${took}` : ''}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

/** After a failure past the flip: `↩ flipped back to 1.0.0 (blue) in 3 ms`. */
export function rollbackLine(d: DeploymentView): string | undefined {
  const r = d.rollback;
  return r ? `↩ flipped back to ${r.toVersion ?? 'nothing'} (${r.toColor}, ${r.strategy}) in ${r.tookMs} ms` : undefined;
}

/** The tests of a deployment for a table cell: `smoke ✓ verify ✗`, `skipped`, or `-`. */
export function testsCell(d: DeploymentView): string {
  if (d.skipTests) return 'skipped';
  const tests = d.steps.filter((s) => s.name === 'smoke' || s.name === 'verify');
  if (tests.length === 0) return '-';
  return tests.map((s) => `${s.name} ${s.status === 'done' ? '✓' : s.status === 'failed' ? '✗' : s.status === 'running' ? '…' : '·'}`).join(' ');
}

/** Every step with its timing, for a table cell: `prepare 12 ms, start 40 ms, …`. */
export function stepsCell(d: DeploymentView): string {
  return d.steps.map((s) => `${s.name}${tookText(s) ? ` ${tookText(s)}` : ` ${s.status}`}`).join(', ');
}
