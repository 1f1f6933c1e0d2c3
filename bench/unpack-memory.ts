/**
 * The agent's memory while it unpacks an artifact of many files (review M5). See README.md
 * ("unpack-memory"). Starts the server's end of agent sessions in this process and a real
 * `cutover agent` process that dials it (`lib/dialled-agent.ts`), puts a 200,000-file .tgz in the
 * server's artifact store, and through the agent's session (`sessionRuntime`, as the deployer does
 * in a deployment's prepare and start steps) has the agent download it by digest and start a slot
 * of it: each instance unpacks its own copy when its slot starts. Samples the agent's RSS from
 * /proc every 50 ms until the start answers. Target: the agent grows by less than 50 MiB.
 *
 *   node bench/unpack-memory.ts [--files 200000]
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isCutoverError } from '../src/shared/index.ts';
import { EXAMPLE, waitFor } from '../src/testing/index.ts';
import { intFlag } from './lib/cutover-process.ts';
import { startDialledAgent } from './lib/dialled-agent.ts';
import { writeManyFilesTgz } from './lib/many-files-tgz.ts';

const files = intFlag('files', 200_000);
const MiB = 1024 * 1024;

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : Number.NaN;
}

/** The agent's unpacking children (not the slot it starts once the copy is made). */
async function unpackersOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const children = text.split(/\s+/).filter(Boolean).map(Number);
  const cmdlines = await Promise.all(children.map((c) => readFile(`/proc/${c}/cmdline`, 'utf8').catch(() => '')));
  return children.filter((_, i) => cmdlines[i]!.includes('unpack-child'));
}

const agent = await startDialledAgent();
try {
  const { pid, runtime } = agent;
  const tgz = join(agent.dataDir, 'many.tgz');
  const made = performance.now();
  const { digest, size } = await writeManyFilesTgz(tgz, files, join(EXAMPLE, 'app'));
  console.log(`archive: ${files} files, ${(size / MiB).toFixed(2)} MiB .tgz, written in ${Math.round(performance.now() - made)} ms`);
  await agent.putArtifact(tgz, digest);

  // Let the agent settle after its start, then take the baseline.
  await new Promise((r) => setTimeout(r, 2000));
  const before = await rssOf(pid);
  let peak = before;
  let childPeak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rssOf(pid));
      for (const child of await unpackersOf(pid)) childPeak = Math.max(childPeak, (await rssOf(child)) || 0);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const started = performance.now();
  // The agent downloads the artifact from the server over its session, hashing it as it arrives.
  await runtime.ensureArtifact('bench', digest, () => createReadStream(tgz));
  const downloadMs = performance.now() - started;
  console.log(`download over the session answered in ${(downloadMs / 1000).toFixed(1)} s (stored, digest checked)`);
  // The unpack: an instance's copy is made when its slot starts (slot-dirs.ts prepareSlot).
  await runtime.ensureInstance('bench', ['bench.test']);
  let outcome: string;
  let ok = true;
  try {
    const slot = await runtime.startSlot({
      instance: 'bench',
      color: 'blue',
      version: '1.0.0',
      digest,
      start: 'node server.js',
      env: {},
      health: { path: '/healthz', intervalMs: 100, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 },
      stopTimeoutMs: 2000,
      deploymentId: 'bench-unpack',
    });
    agent.track(slot.pid);
    outcome = `slot start answered (pid ${slot.pid}, port ${slot.port})`;
  } catch (error) {
    // slot.start has the protocol's default 30 s call timeout: a longer unpack outlives the call,
    // and the agent carries on. Sample on until its slot is there, so the peak covers the whole unpack.
    if (!isCutoverError(error) || error.code !== 'TIMEOUT') throw error;
    ok = false;
    outcome = `slot start: the call timed out (${error.message}); the agent went on unpacking, and its slot appeared`;
    await waitFor(
      'the blue slot once the unpack ends',
      async () => (await unpackersOf(pid)).length === 0 && (await runtime.describe('bench'))?.slots.some((s) => s.color === 'blue'),
      { timeoutMs: 900_000, intervalMs: 1000 },
    );
  }
  const tookMs = performance.now() - started;
  sampling = false;
  await sampler;
  await new Promise((r) => setTimeout(r, 2000));
  const after = await rssOf(pid);
  const growth = peak - before;
  console.log(`${outcome} ${(tookMs / 1000).toFixed(1)} s after the download began`);
  console.log(`agent RSS: before ${(before / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)}), 2 s after ${(after / MiB).toFixed(1)} MiB`);
  console.log(`unpacking child: peak RSS ${(childPeak / MiB).toFixed(1)} MiB (its own process, gone when it finishes)`);
  console.log(`target: the agent grows < 50 MiB → ${growth < 50 * MiB && ok ? 'met' : 'NOT met'}`);
  if (!ok) process.exitCode = 1;
} finally {
  const { leaked } = await agent.stop();
  if (leaked.length) console.error(`killed ${leaked.length} slot process(es) left after the agent's stop: ${leaked.join(', ')}`);
}
