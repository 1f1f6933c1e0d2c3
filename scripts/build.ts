// Builds the package (ADR 0001, amended): tsc emits src/ → dist/ as JavaScript, then the files
// the code reads at run time beside itself (the browser helper, SQL migrations) are copied along.
// Run by `npm pack` (prepack); development and tests never use dist/.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');

/** Directories under src/ whose non-TypeScript files ship as they are. */
export const ASSET_DIRS: readonly string[] = [
  'router/browser',
  'store/sqlite/migrations',
  'store/postgres/migrations',
];

rmSync(dist, { recursive: true, force: true });
// --noCheck: `npm run typecheck` checks types; the build only emits (several times faster).
const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--noCheck'],
  { stdio: 'inherit' },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
for (const dir of ASSET_DIRS) {
  for (const file of readdirSync(join(root, 'src', dir))) {
    if (file.endsWith('.ts') && !file.endsWith('.d.ts')) continue;
    cpSync(join(root, 'src', dir, file), join(dist, dir, file));
  }
}
