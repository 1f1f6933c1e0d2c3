// Loaded into every Cutover process of a profiling run with NODE_OPTIONS=--import=<this file>, so
// the benchmark can see garbage-collection pauses and event-loop stalls of the server and the
// agent without touching src/. It records epoch timestamps (to line up with deployment steps) and
// appends them as JSON lines to $CUTOVER_PROBE_DIR/<pid>.jsonl once a second and at exit.
import { appendFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { basename } from 'node:path';

const dir = process.env.CUTOVER_PROBE_DIR;
if (dir) {
  const role = process.argv.includes('agent')
    ? 'agent'
    : process.argv.includes('up')
      ? 'server'
      : basename(process.argv[1] ?? 'node');
  const file = `${dir}/${process.pid}.jsonl`;
  const epoch = (t) => performance.timeOrigin + t;
  let pending = [];
  const flush = () => {
    if (pending.length === 0) return;
    // Sync on purpose: it also runs in the exit handler, where async I/O would be lost.
    appendFileSync(file, pending.map((e) => JSON.stringify(e)).join('\n') + '\n');
    pending = [];
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration >= 1)
        pending.push({
          role,
          pid: process.pid,
          type: 'gc',
          kind: e.detail?.kind,
          at: epoch(e.startTime),
          ms: e.duration,
        });
    }
  }).observe({ entryTypes: ['gc'] });
  // A 2 ms tick: lateness beyond 3 ms means the loop was blocked (sync work, GC) or the process
  // did not get a CPU.
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const late = now - last - 2;
    if (late >= 3) pending.push({ role, pid: process.pid, type: 'stall', at: epoch(last + 2), ms: late });
    last = now;
  }, 2).unref();
  setInterval(flush, 1000).unref();
  process.on('exit', flush);
}
