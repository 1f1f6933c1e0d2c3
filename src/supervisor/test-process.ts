import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { inheritedEnv } from './slot-env.ts';
import { signalGroup } from './process-group.ts';
import type { TestProcessResult, TestProcessSpec } from './types.ts';

/** The part of a test's output that is kept: its last 64 KiB. */
export const TEST_OUTPUT_BYTES = 64 * 1024;
/** Shorter values are not masked: they would match ordinary words of the output. */
const MIN_SECRET_LENGTH = 4;

/** Replaces every occurrence of each secret (longest first) with `<masked>`. Pure. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  const values = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  let out = text;
  for (const value of values) out = out.split(value).join('<masked>');
  return out;
}

/**
 * The last `keep` bytes of what was written, masked. A secret may straddle the cut: the masking
 * runs over the kept bytes plus the longest secret's length before them, then the cut is made.
 */
export function keptOutput(chunks: Buffer[], keep: number, secrets: readonly string[]): string {
  const margin = Math.max(0, ...secrets.map((s) => Buffer.byteLength(s)));
  const all = Buffer.concat(chunks);
  const masked = Buffer.from(maskSecrets(all.subarray(Math.max(0, all.length - keep - margin)).toString('utf8'), secrets));
  return masked.subarray(Math.max(0, masked.length - keep)).toString('utf8');
}

/** The test's environment: the slots' minimal inherited variables, then exactly `env`. */
export function buildTestEnv(spec: Pick<TestProcessSpec, 'env' | 'user' | 'home'>, baseEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env = inheritedEnv(spec.user, baseEnv);
  if (spec.home !== undefined) env.HOME = spec.home;
  return { ...env, ...spec.env };
}

/**
 * Runs a test to its end in its own process group, as the slot's user. A timeout or an abort
 * kills the whole group (SIGKILL: a test has no state to save). Never throws for a failing test.
 */
export function runTestProcess(spec: TestProcessSpec, baseEnv: Readonly<Record<string, string | undefined>>): Promise<TestProcessResult> {
  const started = performance.now();
  const chunks: Buffer[] = [];
  let held = 0;
  let total = 0;
  let timedOut = false;
  let cancelled = false;
  const keepBytes = TEST_OUTPUT_BYTES + Math.max(0, ...spec.secrets.map((s) => Buffer.byteLength(s)));
  const collect = (chunk: Buffer) => {
    total += chunk.length;
    chunks.push(chunk);
    held += chunk.length;
    // Drop whole chunks from the front once the rest holds enough.
    while (chunks.length > 1 && held - chunks[0]!.length >= keepBytes) held -= chunks.shift()!.length;
  };
  const finish = (exitCode: number | null, signal: string | null, error?: string): TestProcessResult => {
    const output = keptOutput(chunks, TEST_OUTPUT_BYTES, spec.secrets);
    return {
      exitCode,
      signal,
      timedOut,
      cancelled,
      durationMs: Math.round(performance.now() - started),
      output,
      outputBytes: total,
      sha256: createHash('sha256').update(output).digest('hex'),
      ...(error === undefined ? {} : { error }),
    };
  };
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(spec.command, {
        shell: '/bin/sh',
        cwd: spec.cwd,
        env: buildTestEnv(spec, baseEnv),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(spec.user === undefined ? {} : { uid: spec.user.uid, gid: spec.user.gid }),
      });
    } catch (error) {
      resolve(finish(null, null, `could not start the test: ${(error as Error).message}`));
      return;
    }
    const kill = () => signalGroup(child.pid, 'SIGKILL');
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, spec.timeoutMs);
    timer.unref();
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    if (spec.signal?.aborted) onAbort();
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('error', (error) => {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
      resolve(finish(null, null, `could not start the test: ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
      // What the test started in its group must not outlive it (a server it left running).
      kill();
      // Output still in the pipes arrives before 'close'; a grandchild that left the group and
      // holds them open must not hold the result: give it a moment, then stop reading.
      const done = () => resolve(finish(code, signal));
      const grace = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        done();
      }, 500);
      grace.unref();
      child.once('close', () => {
        clearTimeout(grace);
        done();
      });
    });
  });
}
