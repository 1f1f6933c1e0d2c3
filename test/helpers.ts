// What the end-to-end tests share. The CLI process helpers live in src/testing/ (the benchmarks
// use them too); they are re-exported here so a test imports all it needs from one place.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Pool } from 'undici';
import { isolateCliConfig } from '../src/testing/index.ts';

export {
  ROOT,
  CLI,
  EXAMPLE,
  alive,
  cutover,
  cutoverText,
  freePort,
  localToken,
  manifest,
  portFlags,
  ports,
  startProcess,
  tempDir,
  waitFor,
} from '../src/testing/index.ts';
export type { CliResult, Ports } from '../src/testing/index.ts';

/**
 * This test file's own contexts directory for the CLI (`$XDG_CONFIG_HOME`), made on import so
 * servers started in-process see it too.
 */
export const CONFIG_HOME = isolateCliConfig();

/**
 * Asserts that every directory above `file` lets other users through (a checkout under a 0700
 * /root does not), so a test that runs `file` as another uid fails naming the directory to fix
 * rather than with a puzzling start failure. `runs` says who runs it, for the message.
 */
export async function assertReachableByOthers(file: string, runs: string): Promise<void> {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const mode = (await stat(dir)).mode;
    assert.ok(
      (mode & 0o001) !== 0,
      `${dir} (mode ${(mode & 0o777).toString(8)}) must let other users through: ${runs} ${file}`,
    );
    if (dirname(dir) === dir) break;
  }
}

export interface LoadResult {
  ok: number;
  failed: { status?: number; error?: string; at: number }[];
  /** Per response: when its request was sent, when the answer arrived, and which version answered. */
  samples: { sentAt: number; receivedAt: number; version: string }[];
}

/**
 * Keeps `connections` keep-alive clients sending requests through the router until stopped.
 * Each client sends its next request as soon as the previous one completes.
 */
export function load(routerPort: number, host: string, connections = 16, path = '/api/version') {
  const pool = new Pool(`http://127.0.0.1:${routerPort}`, { connections, pipelining: 1 });
  const result: LoadResult = { ok: 0, failed: [], samples: [] };
  let running = true;
  const worker = async () => {
    while (running) {
      const sentAt = Date.now();
      try {
        const res = await pool.request({ method: 'GET', path, headers: { host } });
        const text = await res.body.text();
        if (res.statusCode !== 200) result.failed.push({ status: res.statusCode, error: text.slice(0, 200), at: sentAt });
        else {
          result.ok++;
          result.samples.push({ sentAt, receivedAt: Date.now(), version: String(res.headers['x-app-version']) });
        }
      } catch (error) {
        result.failed.push({ error: (error as Error).message, at: sentAt });
      }
    }
  };
  const workers = Array.from({ length: connections }, worker);
  return {
    result,
    async stop(): Promise<LoadResult> {
      running = false;
      await Promise.all(workers);
      await pool.close();
      return result;
    },
  };
}
