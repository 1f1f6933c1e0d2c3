/**
 * The "before" router of a comparison: `src/` of an older commit, extracted with `git archive`
 * into `bench/.snapshots/<commit>/` (inside the repository, so `undici` and the other packages
 * resolve from the root `node_modules`). Kept between runs; git-ignored.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';

const root = new URL('../../', import.meta.url).pathname;

function git(args: string[]): string {
  const out = spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${out.stderr.trim()}`);
  return out.stdout.trim();
}

/** A router entry of another commit: its `src/router/index.ts` and `src/shared/index.ts`. */
export interface RouterSnapshot {
  commit: string;
  routerModule: string;
  sharedModule: string;
  /** Its `src/` compiled as the package build does (`dist/router/index.js`, built on first use). */
  built(): string;
}

/** Extracts `src/` of `rev` (once) and returns the paths of its router and shared entries. */
export async function routerSnapshot(rev: string): Promise<RouterSnapshot> {
  const commit = git(['rev-parse', '--verify', `${rev}^{commit}`]);
  const dir = `${root}bench/.snapshots/${commit.slice(0, 12)}/`;
  const done = `${dir}src/router/index.ts`;
  if (!existsSync(done)) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const tar = spawnSync('sh', ['-c', `git -C "$0" archive "$1" src | tar -x -C "$2"`, root, commit, dir]);
    if (tar.status !== 0 || !existsSync(done))
      throw new Error(`could not extract src/ of ${commit}: ${String(tar.stderr).trim()}`);
  }
  const built = (): string => {
    const entry = `${dir}dist/router/index.js`;
    if (existsSync(entry)) return entry;
    // The package build's compiler settings (tsconfig.build.json), over the snapshot's sources.
    const config = `${dir}tsconfig.json`;
    const base = `${root}tsconfig.build.json`;
    spawnSync('sh', ['-c', `printf '%s' "$1" > "$0"`, config, JSON.stringify({ extends: base, include: ['src'], exclude: ['src/**/*.test.ts'], compilerOptions: { rootDir: 'src', outDir: 'dist' } })]);
    const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', config, '--noCheck'], { encoding: 'utf8' });
    if (!existsSync(entry)) throw new Error(`could not build the snapshot of ${commit}: ${tsc.stdout}${tsc.stderr}`);
    // The browser helper ships beside the router (scripts/build.ts copies it the same way).
    cpSync(`${dir}src/router/browser`, `${dir}dist/router/browser`, { recursive: true });
    return entry;
  };
  return { commit, routerModule: done, sharedModule: `${dir}src/shared/index.ts`, built };
}

/**
 * The built package's router (`dist/`, built first with `npm run build`) and a JavaScript copy of
 * `router-child.ts`, so the child loads no TypeScript at all: Node then never loads its type
 * stripper (amaro), as an installed agent would not.
 */
export async function builtRouter(): Promise<{ routerModule: string; child: string }> {
  const build = spawnSync(process.execPath, [`${root}scripts/build.ts`], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr.trim()}`);
  const dir = `${root}bench/.snapshots/`;
  await mkdir(dir, { recursive: true });
  const source = await readFile(`${root}bench/lib/router-child.ts`, 'utf8');
  const child = `${dir}router-child.mjs`;
  await writeFile(child, stripTypeScriptTypes(source));
  return { routerModule: `${root}dist/router/index.js`, child };
}
