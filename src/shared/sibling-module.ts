import { fileURLToPath } from 'node:url';

/**
 * The path of a module beside the caller, for spawning it as a process (`node <path>`): in a clone
 * the sources run as `.ts`, in the installed package they are built to `.js` (ADR 0016), and tsc
 * rewrites import specifiers but not the strings inside `new URL(…)`. Takes the caller's
 * `import.meta.url` and a relative name without extension: `siblingModule(import.meta.url, './unpack-child')`.
 */
export function siblingModule(metaUrl: string, relative: string): string {
  const ext = new URL(metaUrl).pathname.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`${relative}${ext}`, metaUrl));
}
