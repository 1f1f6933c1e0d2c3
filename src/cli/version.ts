import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { siblingModule } from '../shared/index.ts';

/**
 * Where this copy of Cutover runs from. The same relative paths hold in a clone (src/cli/*.ts, run
 * by type stripping) and in the installed package (dist/cli/*.js, built by scripts/build.ts): the
 * package root is two levels up either way.
 */
const here = import.meta.url;
/** `.ts` in a clone, `.js` in the built package: sibling entry files carry the same extension. */
const ext = here.endsWith('.ts') ? '.ts' : '.js';

/** The CLI's entry file (`src/cli/main.ts` or `dist/cli/main.js`): what `up` runs the agent from. */
export function cliEntry(): string {
  return siblingModule(here, './main');
}

/** The package's root directory (holds package.json and bin/cutover). */
export function packageRoot(): string {
  return fileURLToPath(new URL('../../', here));
}

export interface BuildInfo {
  /** The product version from package.json (server, agent and CLI share it). */
  version: string;
  /** The Node.js runtime this process runs on. */
  node: string;
  /** Absolute path of that Node.js binary. */
  nodePath: string;
  /** `source` in a clone (TypeScript run directly), `package` when installed from the built package. */
  build: 'source' | 'package';
  /** The package's root directory. */
  root: string;
}

/** What `cutover --version --json` prints. */
export function buildInfo(): BuildInfo {
  const pkg = createRequire(here)('../../package.json') as { version: string };
  return {
    version: pkg.version,
    node: process.versions.node,
    nodePath: process.execPath,
    build: ext === '.ts' ? 'source' : 'package',
    root: packageRoot().replace(/\/$/, ''),
  };
}
