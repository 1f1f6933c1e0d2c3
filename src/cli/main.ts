#!/usr/bin/env node
import { versionAnswer } from './version-flag.ts';

// A reader that goes away (`cutover audit | head`) is not an error of ours: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const argv = process.argv.slice(2);
// `--version` is answered before the command tree loads (issue 22: start-up).
const code = versionAnswer(argv) ?? (await (await import('./program.ts')).runCli(argv));
// Long-running commands (up, server, agent, logs --follow) return only after they have stopped.
process.exitCode = code;
