import type { TestEvent } from 'node:test/reporters';

/**
 * A `node --test` reporter (used beside `spec` by `npm test`): at the end of the run, prints how
 * long each end-to-end file took, then the ten slowest files, so CI shows where its time
 * goes. A file's time is the sum of its top-level tests (each file runs in its own process).
 */
export default async function* fileDurations(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const perFile = new Map<string, number>();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { file, nesting, details } = event.data;
    if (nesting !== 0 || !file) continue;
    const ms = (perFile.get(file) ?? 0) + (details.duration_ms ?? 0);
    perFile.set(file, ms);
  }
  const rel = (f: string) => f.replace(`${process.cwd()}/`, '');
  const rows = [...perFile].sort((a, b) => b[1] - a[1]);
  const e2e = rows.filter(([f]) => f.endsWith('.e2e.test.ts'));
  yield `\nend-to-end files (${e2e.length}):\n`;
  for (const [f, ms] of e2e) yield `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${rel(f)}\n`;
  yield `ten slowest files:\n`;
  for (const [f, ms] of rows.slice(0, 10)) yield `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${rel(f)}\n`;
}
