import { createInterface } from 'node:readline/promises';
import { CutoverError } from '../shared/index.ts';

/**
 * Asks a yes/no question on the terminal; only "y" or "yes" is a yes. Without a terminal on stdin
 * nobody can answer, so it refuses with `hint` (e.g. "add --yes") rather than guess: a pipe or a
 * CI job must say what it wants on the command line.
 */
export async function confirm(question: string, hint: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new CutoverError('VALIDATION_FAILED', `nothing was changed: there is no terminal to ask "${question}" on; ${hint}`);
  }
  // The question goes to stderr so that stdout stays what the command printed.
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  // Ctrl-C (or Ctrl-D) at the prompt is a "no", not a hang on a question nobody will answer.
  const abort = new AbortController();
  rl.once('SIGINT', () => abort.abort());
  rl.once('close', () => abort.abort());
  try {
    const answer = await rl.question(`${question} [y/N] `, { signal: abort.signal });
    return /^\s*y(es)?\s*$/i.test(answer);
  } catch (error) {
    if ((error as Error).name === 'AbortError') return false;
    throw error;
  } finally {
    rl.close();
  }
}
