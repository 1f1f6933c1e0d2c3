#!/usr/bin/env node
import { runCli } from './program.ts';

const code = await runCli(process.argv.slice(2));
// Long-running commands (up, server, agent, logs --follow) return only after they have stopped.
process.exitCode = code;
