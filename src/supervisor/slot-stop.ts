import { describeDrain, probeDrain } from './drain-probe.ts';
import { groupAlive, settlesWithin, signalGroup, waitGroupGone } from './process-group.ts';
import { forgetPid, stopChecks, type SlotContext } from './slot-runner.ts';
import { describeExit, snapshot, type Slot } from './slot.ts';
import type { DrainSpec, DrainStatus, SlotInfo, StopProgress } from './types.ts';

/** After SIGKILL, how long to wait for the leader's exit to be seen before reporting the slot stopped anyway. */
const EXIT_AFTER_KILL_MS = 2000;
const DEFAULT_DRAIN_INTERVAL_MS = 1000;
const DEFAULT_DRAIN_TIMEOUT_MS = 2000;

/**
 * Stops a slot's process group. The contract with the app: after the HTTP drain, the process gets
 * SIGTERM and its own grace period (`stopTimeout`); an optional drain endpoint the app can answer
 * ("N jobs still running") is polled and shown in progress. In order:
 *
 * 1. The router no longer sends the slot requests; the agent gives short ones up to 1 s, then calls
 *    stop while the HTTP drain goes on (issue 12: an app that ends its SSE streams on SIGTERM must
 *    hear it before the drain times out and cuts them).
 * 2. SIGTERM to the whole group at once: that is the app's one standard cue to stop taking new
 *    work (queue consumers, schedulers) and finish what runs. Polling a drain endpoint *before*
 *    SIGTERM would need the app to learn "stop taking jobs" from a GET, which no app does unasked.
 * 3. During the grace (`stopTimeoutMs`, or `timeoutMs`), the drain endpoint, if the spec has one,
 *    is polled every `intervalMs` from SIGTERM on (the first poll one interval after it); each answer goes to `onProgress` and, when it
 *    changed, to the log and `onChange`. Polls stop once it reports done (nothing pending) or the
 *    process ends; an app that closes its HTTP server on SIGTERM simply shows as not answering.
 *    "Done" does not cut the grace short: the process still ends on its own.
 * 4. The grace covers the whole group: once the leader is gone, other members (an `npm start`'s
 *    node, a worker pool) keep the rest of it to finish their jobs.
 * 5. SIGKILL to the group when the grace runs out.
 */
export async function stopSlotProcess(ctx: SlotContext, slot: Slot, graceMs: number): Promise<SlotInfo> {
  // A restart that already got past its checks spawns first; then it is stopped like any process.
  await slot.launching?.catch(() => undefined);
  stopChecks(slot);
  clearTimeout(slot.restartTimer);
  slot.restartTimer = undefined;
  const proc = slot.proc;
  const pgid = proc?.pid;
  const sigtermAt = performance.now();
  const report = (phase: StopProgress['phase'], drain?: DrainStatus): void => {
    const progress: StopProgress = {
      instance: slot.info.instance,
      color: slot.info.color,
      phase,
      elapsedMs: Math.round(performance.now() - sigtermAt),
      graceMs,
      ...(drain === undefined ? {} : { drain: { ...drain } }),
    };
    for (const listener of slot.progressListeners) {
      try {
        listener(progress);
      } catch {
        // A progress display's bug must not break the stop.
      }
    }
  };

  if (proc !== undefined && !proc.exited) {
    // An adopted process is not our child: its exit poll must keep the loop alive until it is seen.
    proc.poll?.ref();
    await slot.log.note(`stopping: SIGTERM to process group ${pgid}, grace ${graceMs}ms`);
    ctx.setState(slot, 'stopping');
    signalGroup(pgid, 'SIGTERM');
    report('sigterm');
    const drain = slot.spec.drain;
    const polls = drain === undefined ? undefined : pollDrain(ctx, slot, drain, sigtermAt + graceMs, report);
    let gone = await settlesWithin(proc.whenExited, graceMs);
    if (gone) gone = await waitGroupGone(pgid, graceMs - (performance.now() - sigtermAt));
    polls?.stop();
    if (!gone) {
      await slot.log.note(`still running ${graceMs}ms after SIGTERM: SIGKILL to process group ${pgid}`);
      signalGroup(pgid, 'SIGKILL');
      report('sigkill');
      await settlesWithin(proc.whenExited, EXIT_AFTER_KILL_MS);
    }
  } else if (slot.info.state !== 'exited' && slot.info.state !== 'failed') {
    // Between a crash and its restart: nothing runs, but listeners still see the stop.
    ctx.setState(slot, 'stopping');
  }
  // Members of an exited or crashed group are orphans nobody else will stop.
  if (await groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
  if (proc !== undefined) clearInterval(proc.poll);
  await slot.log.note(`stopped (${describeExit(slot.info)})`);
  await slot.log.close();
  await forgetPid(slot);
  ctx.setState(slot, 'stopped');
  report('stopped', slot.info.drain);
  return snapshot(slot);
}

/** Polls the drain endpoint until it reports done, the deadline passes, or `stop` is called. */
function pollDrain(
  ctx: SlotContext,
  slot: Slot,
  drain: DrainSpec,
  deadline: number,
  report: (phase: 'draining', drain: DrainStatus) => void,
): { stop(): void } {
  const intervalMs = drain.intervalMs ?? DEFAULT_DRAIN_INTERVAL_MS;
  const timeoutMs = drain.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  let active = true;
  let timer: NodeJS.Timeout | undefined;
  // A poll still out when the stop ends is cut off and not reported: it says nothing about the app.
  const aborter = new AbortController();
  const tick = async (): Promise<void> => {
    const started = performance.now();
    if (!active || started >= deadline) return;
    const status = await probeDrain(slot.info.port, drain.path, timeoutMs, ctx.clock, aborter.signal);
    if (!active) return;
    const changed = !sameDrain(slot.info.drain, status);
    slot.info.drain = status;
    report('draining', status);
    if (changed) {
      void slot.log.note(`drain: ${describeDrain(drain.path, status)}`);
      ctx.emit(slot);
    }
    if (status.done) return;
    timer = setTimeout(() => void tick(), Math.max(0, intervalMs - (performance.now() - started)));
    timer.unref();
  };
  // The first poll waits an interval too: the app needs a moment to act on SIGTERM before its count means anything.
  timer = setTimeout(() => void tick(), intervalMs);
  timer.unref();
  return {
    stop() {
      active = false;
      clearTimeout(timer);
      aborter.abort();
    },
  };
}

function sameDrain(a: DrainStatus | undefined, b: DrainStatus): boolean {
  return (
    a !== undefined &&
    a.done === b.done &&
    a.pending === b.pending &&
    a.message === b.message &&
    a.status === b.status &&
    a.error === b.error
  );
}
