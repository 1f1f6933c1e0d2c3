/**
 * Profiling aid for rollback-latency: runs it with bench/profile/loop-probe.mjs loaded into every
 * Cutover process, then lines up each flip with the garbage-collection pauses and event-loop
 * stalls of the server and the agent that overlapped it. Usage: node profile/flip-stalls.ts [--n 50] [--no-poll]
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intFlag } from '../lib/cutover-process.ts';
import { runRollbackLatency } from '../rollback-latency.ts';

interface ProbeEvent {
  role: string;
  pid: number;
  type: 'gc' | 'stall';
  kind?: number;
  at: number;
  ms: number;
}

const dir = await mkdtemp(join(tmpdir(), 'cutover-probe-'));
try {
  const probe = fileURLToPath(new URL('./loop-probe.mjs', import.meta.url));
  // Children inherit the environment: `up`, the agent it spawns, and the slot processes.
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${probe}`.trim();
  process.env.CUTOVER_PROBE_DIR = dir;
  const result = await runRollbackLatency({
    n: intFlag('n', 50),
    warmup: intFlag('warmup', 4),
    poll: !process.argv.includes('--no-poll'),
  });
  delete process.env.NODE_OPTIONS;
  console.log(result.lines.join('\n'));

  const events: ProbeEvent[] = [];
  for (const f of await readdir(dir)) {
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n'))
      if (line) events.push(JSON.parse(line) as ProbeEvent);
  }
  const overlapping = (from: number, to: number) => events.filter((e) => e.at <= to && e.at + e.ms >= from);
  let hit = 0;
  console.log('\nflips (server figure ≥ 8 ms) and what overlapped them (role type ms):');
  for (const f of [...result.flips].sort((a, b) => b.serverMs - a.serverMs)) {
    const seen = overlapping(f.sentAt, Math.max(f.flippedAt, f.seenAt || 0));
    if (seen.length) hit++;
    if (f.serverMs < 8) continue;
    const what =
      seen
        .map((e) => `${e.role} ${e.type}${e.kind ? `(kind ${e.kind})` : ''} ${e.ms.toFixed(1)}`)
        .join(', ') || 'nothing recorded';
    console.log(
      `  ${String(f.serverMs).padStart(3)} ms [${Object.values(f.phases).slice(1, 5).join('+')}]: ${what}`,
    );
  }
  console.log(
    `${hit} of ${result.flips.length} flips overlapped a GC pause ≥ 1 ms or a loop stall ≥ 3 ms somewhere`,
  );
  const byRole = new Map<string, { gc: number[]; stall: number[] }>();
  for (const e of events) {
    const r = byRole.get(e.role) ?? { gc: [], stall: [] };
    r[e.type].push(e.ms);
    byRole.set(e.role, r);
  }
  for (const [role, r] of byRole) {
    const top = (xs: number[]) => (xs.length ? `${xs.length}, max ${Math.max(...xs).toFixed(1)} ms` : '0');
    console.log(`  ${role.padEnd(10)} gc≥1ms: ${top(r.gc)}; stalls≥3ms: ${top(r.stall)}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
