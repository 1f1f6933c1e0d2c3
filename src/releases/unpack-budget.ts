import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as tar from 'tar';
import { CutoverError, isCutoverError, siblingModule } from '../shared/index.ts';
import type { UnpackOptions } from './unpack-artifact.ts';

/** How much one artifact may unpack to, and the memory of the process that unpacks it. */
export interface UnpackLimits {
  /** Most tar entries (files, directories, links). */
  maxEntries: number;
  /** Most bytes of file content, summed from the entries' headers. */
  maxBytes: number;
  /** Heap limit of the unpacking child process, in MiB (`--max-old-space-size`). */
  maxHeapMiB: number;
}

/**
 * Sized for real apps: a large node_modules tree holds 100,000–200,000 files, plus their directories. node-tar keeps
 * per-entry state until the extract ends, about 3–4 KiB an entry (measured: 200,000 empty files
 * peak at ~800 MiB RSS), so the child's heap must fit the entry budget.
 */
export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxEntries: 250_000, maxBytes: 4 * 1024 ** 3, maxHeapMiB: 1536 };

/** Counts entries and their sizes; `add` returns the problem once the budget is spent. Pure state, no I/O. */
export function createUnpackBudget(limits: Pick<UnpackLimits, 'maxEntries' | 'maxBytes'>) {
  let entries = 0;
  let bytes = 0;
  return {
    add(size: number): string | undefined {
      entries++;
      bytes += Math.max(0, size);
      if (entries > limits.maxEntries) return `holds more than ${limits.maxEntries} entries (setting unpackMaxEntries)`;
      if (bytes > limits.maxBytes) return `unpacks to more than ${limits.maxBytes} bytes (setting unpackMaxSize)`;
      return undefined;
    },
    get entries() {
      return entries;
    },
    get bytes() {
      return bytes;
    },
  };
}

function mismatch(file: string, expected: string, actual: string): CutoverError {
  return new CutoverError(
    'ARTIFACT_DIGEST_MISMATCH',
    `Artifact file ${file} does not hash to ${expected} (it hashes to ${actual}): it was changed or damaged at rest; delete it so it is fetched again`,
    { details: { expected, actual } },
  );
}

/**
 * Reads the .tgz once, hashing the bytes as they stream and counting its entries against the
 * budget (entry bodies are skipped, nothing is written). Refuses with `ARTIFACT_DIGEST_MISMATCH`
 * when the bytes are not `expectedDigest`, and with `ARTIFACT_INVALID` past the budget, stopping
 * at the first entry over it.
 */
export async function checkArtifact(tgzFile: string, expectedDigest: string, limits: Pick<UnpackLimits, 'maxEntries' | 'maxBytes'>): Promise<void> {
  const hash = createHash('sha256');
  const budget = createUnpackBudget(limits);
  let failure: unknown;
  const parser = new tar.Parser({
    strict: true,
    onReadEntry(entry) {
      const problem = budget.add(entry.size ?? 0);
      if (problem && failure === undefined) failure = new CutoverError('ARTIFACT_INVALID', `Artifact ${expectedDigest} ${problem}; nothing was unpacked`);
      entry.resume();
    },
  });
  const ended = new Promise<void>((resolve) => {
    parser.on('end', () => resolve());
    parser.on('close', () => resolve());
    parser.on('error', (err: unknown) => {
      failure ??= err;
      resolve();
    });
  });
  try {
    // Written by hand: node-tar's Parser never signals the end the way stream.pipeline waits for.
    for await (const chunk of createReadStream(tgzFile) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      if (failure !== undefined) break;
      if (!parser.write(chunk)) await new Promise((resolve) => parser.once('drain', resolve));
    }
    parser.end();
    if (failure === undefined) await ended;
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) {
    if (isCutoverError(failure)) throw failure;
    throw new CutoverError('ARTIFACT_INVALID', `Could not unpack artifact ${tgzFile}: ${(failure as Error).message}; nothing was unpacked`, { cause: failure });
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== expectedDigest) throw mismatch(tgzFile, expectedDigest, actual);
}

// `.ts` in a clone, `.js` in the built package (ADR 0016).
const CHILD = siblingModule(import.meta.url, './unpack-child');

/**
 * Unpacks `tgzFile` to `destDir` in a child process with a heap limit, after checking its
 * digest and budget there (review M5: 200,000 empty files grew the agent by 1.7 GB, which it
 * kept). The agent's own memory does not grow with the archive; a child that runs out of its
 * heap dies alone. An existing `destDir` is the cache: it only ever appears by an atomic rename
 * after a verified unpack, so it is used without reading the .tgz again. `options` go to
 * `unpackArtifact` in the child (`group`: the child runs as the agent's user, root, so it may chown).
 */
export async function unpackInChild(
  tgzFile: string,
  destDir: string,
  expectedDigest: string,
  limits: UnpackLimits = DEFAULT_UNPACK_LIMITS,
  options: UnpackOptions = {},
): Promise<void> {
  if (await stat(destDir).then(() => true, () => false)) return;
  const child = spawn(process.execPath, [`--max-old-space-size=${Math.max(16, Math.floor(limits.maxHeapMiB))}`, CHILD], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Nothing from the agent's environment: the child needs none of it (and NODE_OPTIONS or a
    // test runner's variables would change how it runs).
    env: {},
  });
  child.stdin.end(JSON.stringify({ tgzFile, destDir, expectedDigest, limits, options }));
  let out = '';
  let err = '';
  // Only the ends are kept: the answer is one short line, and the tail of stderr explains a crash.
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out = (out + s).slice(-64 * 1024)));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4096)));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  });
  if (code === 0) return;
  let answer: { code?: string; message?: string; details?: Record<string, unknown> } = {};
  try {
    answer = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as typeof answer;
  } catch {
    // no answer: the child crashed
  }
  if (answer.code && answer.message) {
    throw new CutoverError(answer.code as 'ARTIFACT_INVALID', answer.message, { details: answer.details ?? {} });
  }
  const oom = /heap out of memory|Reached heap limit/.test(err);
  throw new CutoverError(
    'ARTIFACT_INVALID',
    oom
      ? `Unpacking ${tgzFile} ran out of its ${limits.maxHeapMiB} MiB heap (setting unpackMaxHeap); nothing was unpacked`
      : `Unpacking ${tgzFile} failed (exit ${code ?? signal}): ${err.trim().split('\n').at(-1) ?? ''}`,
  );
}
