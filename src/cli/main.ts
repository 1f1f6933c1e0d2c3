#!/usr/bin/env node
import { existsSync } from 'node:fs';
import module from 'node:module';
import { cliCacheDir } from '../config/env.ts';

// V8's compiled code of our modules and commander's, kept between runs in the user's cache
// directory: compiling is most of a short CLI call's CPU time (issue 22, docs/benchmarks.md).
// Enabled before the rest is imported, so every import below is dynamic: a static one would be
// compiled before this line runs. Not inherited by child processes (slots never see it). Only a
// directory that exists (bin/cutover makes it): Node 24 spins forever creating one it cannot.
const cache = cliCacheDir();
if (existsSync(cache)) module.enableCompileCache?.(cache);

// A reader that goes away (`cutover audit | head`) is not an error of ours: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const argv = process.argv.slice(2);
// `--version` is answered before the command tree loads (issue 22: start-up).
const { versionAnswer } = await import('./version-flag.ts');
const code = versionAnswer(argv) ?? (await (await import('./program.ts')).runCli(argv));
// Long-running commands (up, server, agent, logs --follow) return only after they have stopped.
process.exitCode = code;
