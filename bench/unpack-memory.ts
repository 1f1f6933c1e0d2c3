/**
 * The agent's memory while it unpacks an artifact of many files (review M5). See README.md
 * ("unpack-memory"). Starts `cutover up`, pushes a 200,000-file .tgz to the agent's control API
 * (as the server does in a deployment's prepare step), and samples the agent's RSS from /proc
 * every 50 ms until the agent answers. Target: the agent grows by less than 50 MiB.
 *
 *   node bench/unpack-memory.ts [--files 200000]
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXAMPLE } from '../test/helpers.ts';
import { intFlag, startCutover } from './lib/cutover-process.ts';
import { writeManyFilesTgz } from './lib/many-files-tgz.ts';

const files = intFlag('files', 200_000);
const MiB = 1024 * 1024;

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : Number.NaN;
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
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
      for (const child of await childrenOf(pid)) childPeak = Math.max(childPeak, (await rssOf(child)) || 0);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const started = performance.now();
  const res = await fetch(`${url}/v1/artifacts/${digest}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' },
    body: createReadStream(tgz) as unknown as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  const answer = await res.text();
  const tookMs = performance.now() - started;
  sampling = false;
  await sampler;
  await new Promise((r) => setTimeout(r, 2000));
  const after = await rssOf(pid);
  const growth = peak - before;
  console.log(`agent answered ${res.status} ${answer.slice(0, 200)} in ${(tookMs / 1000).toFixed(1)} s`);
  console.log(`agent RSS: before ${(before / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)}), 2 s after ${(after / MiB).toFixed(1)} MiB`);
  console.log(`unpacking child: peak RSS ${(childPeak / MiB).toFixed(1)} MiB (its own process, gone when it finishes)`);
  console.log(`target: the agent grows < 50 MiB → ${growth < 50 * MiB && res.ok ? 'met' : 'NOT met'}`);
  if (!res.ok) process.exitCode = 1;
} finally {
  await c.stop();
}
