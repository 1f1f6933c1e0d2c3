/**
 * The agent's memory while it unpacks an artifact of many files (review M5). See README.md
 * ("unpack-memory"). Starts `cutover up`, pushes a 200,000-file .tgz to the agent's control API
 * and starts a slot of it (as the server does in a deployment's prepare and start steps; each
 * instance unpacks its own copy when its slot starts), and samples the agent's RSS from /proc
 * every 50 ms until the start answers. Target: the agent grows by less than 50 MiB.
 *
 *   node bench/unpack-memory.ts [--files 200000]
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXAMPLE } from '../src/testing/index.ts';
import { intFlag, startCutover } from './lib/cutover-process.ts';
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

const c = await startCutover();
try {
  const agentDir = c.dataDir;
  const { pid } = JSON.parse(await readFile(join(agentDir, 'agent', 'agent.pid'), 'utf8')) as { pid: number };
  const { url } = JSON.parse(await readFile(join(agentDir, 'agent.json'), 'utf8')) as { url: string };
  const token = (await readFile(join(agentDir, 'agent-token'), 'utf8')).trim();
  const tgz = join(agentDir, 'many.tgz');
  const made = performance.now();
  const { digest, size } = await writeManyFilesTgz(tgz, files, join(EXAMPLE, 'app'));
  console.log(`archive: ${files} files, ${(size / MiB).toFixed(2)} MiB .tgz, written in ${Math.round(performance.now() - made)} ms`);

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
  const auth = { authorization: `Bearer ${token}` };
  const pushed = await fetch(`${url}/v1/artifacts/${digest}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/gzip' },
    body: createReadStream(tgz) as unknown as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  const pushAnswer = await pushed.text();
  const pushMs = performance.now() - started;
  console.log(`push answered ${pushed.status} ${pushAnswer.slice(0, 200)} in ${(pushMs / 1000).toFixed(1)} s (stored, digest checked)`);
  // The unpack: an instance's copy is made when its slot starts (slot-dirs.ts prepareSlot).
  const json = { ...auth, 'content-type': 'application/json' };
  const routed = await fetch(`${url}/v1/instances/bench`, { method: 'PUT', headers: json, body: JSON.stringify({ hosts: ['bench.test'] }) });
  if (!routed.ok) throw new Error(`PUT /v1/instances/bench: ${routed.status} ${await routed.text()}`);
  const res = await fetch(`${url}/v1/instances/bench/slots/blue/start`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({
      version: '1.0.0',
      digest,
      start: 'node server.js',
      env: {},
      health: { path: '/healthz', intervalMs: 100, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 },
      stopTimeoutMs: 2000,
      deploymentId: 'bench-unpack',
    }),
  });
  const answer = await res.text();
  const tookMs = performance.now() - started;
  sampling = false;
  await sampler;
  await new Promise((r) => setTimeout(r, 2000));
  const after = await rssOf(pid);
  const growth = peak - before;
  console.log(`slot start answered ${res.status} ${answer.slice(0, 200)} ${(tookMs / 1000).toFixed(1)} s after the push began`);
  console.log(`agent RSS: before ${(before / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)}), 2 s after ${(after / MiB).toFixed(1)} MiB`);
  console.log(`unpacking child: peak RSS ${(childPeak / MiB).toFixed(1)} MiB (its own process, gone when it finishes)`);
  console.log(`target: the agent grows < 50 MiB → ${growth < 50 * MiB && pushed.ok && res.ok ? 'met' : 'NOT met'}`);
  if (!pushed.ok || !res.ok) process.exitCode = 1;
} finally {
  await c.stop();
}
