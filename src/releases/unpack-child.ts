// The child process of `unpackInChild`: reads `{tgzFile, destDir, expectedDigest, limits, options}` as JSON
// on stdin, checks the digest and the budget, unpacks, and answers one JSON line on stdout
// (`{ok: true}`, or the error's `{code, message, details}`), exiting 0 or 1.
import { text } from 'node:stream/consumers';
import { isCutoverError } from '../shared/index.ts';
import { checkArtifact } from './unpack-budget.ts';
import type { UnpackLimits } from './unpack-budget.ts';
import { unpackArtifact } from './unpack-artifact.ts';
import type { UnpackOptions } from './unpack-artifact.ts';

const input = JSON.parse(await text(process.stdin)) as {
  tgzFile: string;
  destDir: string;
  expectedDigest: string;
  limits: UnpackLimits;
  options?: UnpackOptions;
};
try {
  await checkArtifact(input.tgzFile, input.expectedDigest, input.limits);
  await unpackArtifact(input.tgzFile, input.destDir, input.options ?? {});
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (err) {
  const e = isCutoverError(err) ? err.toJSON() : { code: 'ARTIFACT_INVALID', message: `Could not unpack artifact ${input.tgzFile}: ${(err as Error).message}`, details: {} };
  process.stdout.write(`${JSON.stringify(e)}\n`);
  process.exitCode = 1;
}
