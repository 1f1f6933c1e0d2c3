#!/usr/bin/env node
import { runCli } from './program.ts';

// A reader that goes away (`cutover audit | head`) is not an error of ours: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const code = await runCli(process.argv.slice(2));
// Long-running commands (up, server, agent, logs --follow) return only after they have stopped.
process.exitCode = code;
