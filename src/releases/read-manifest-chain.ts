import path from 'node:path';
import { LineCounter, isMap, isScalar, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { NotReadable, readRegularFile } from './read-regular-file.ts';

/** Longest `extends` chain followed; deeper chains are almost certainly a mistake. */
const MAX_DEPTH = 16;

/** One parsed file of a manifest's `extends` chain. */
export interface ManifestFile {
  /** Absolute path. */
  file: string;
  doc: Document;
  lines: LineCounter;
  /** The file's mapping as plain data, with `artifact` already resolved against the file's directory. */
  data: Record<string, unknown>;
}

/** A problem found while reading the chain, located in the file that has it. */
export interface ChainIssue {
  path: string;
  message: string;
  file: string;
  line?: number;
  column?: number;
}

/** Shows a path relative to the working directory when it lies below it, absolute otherwise. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/**
 * Reads `file` and every file it `extends` (each path relative to the file declaring it),
 * most specific first. Stops at the first file that cannot be used and reports why: missing
 * file, YAML syntax errors (with line and column), not a mapping, or a cycle.
 */
export async function readManifestChain(file: string): Promise<{ chain: ManifestFile[]; issues: ChainIssue[] }> {
  const chain: ManifestFile[] = [];
  let current = path.resolve(file);
  for (;;) {
    const declaring = chain.at(-1);
    const result = await readOne(current, declaring);
    if ('issues' in result) return { chain, issues: result.issues };
    chain.push(result);
    const ext = result.data['extends'];
    if (ext === undefined || ext === null) return { chain, issues: [] };
    const at = locate(result, ['extends']);
    if (typeof ext !== 'string' || ext.trim() === '') {
      return { chain, issues: [{ path: 'extends', message: 'must be the path of an app config file, relative to this file', ...at }] };
    }
    const next = path.resolve(path.dirname(current), ext);
    const loop = chain.findIndex((f) => f.file === next);
    if (loop !== -1) {
      const cycle = [...chain.slice(loop).map((f) => displayPath(f.file)), displayPath(next)].join(' → ');
      return { chain, issues: [{ path: 'extends', message: `extends cycle: ${cycle}; remove one of the extends`, ...at }] };
    }
    if (chain.length >= MAX_DEPTH) {
      return { chain, issues: [{ path: 'extends', message: `extends chain is longer than ${MAX_DEPTH} files`, ...at }] };
    }
    current = next;
  }
}

async function readOne(file: string, declaring: ManifestFile | undefined): Promise<ManifestFile | { issues: ChainIssue[] }> {
  let text: string;
  try {
    text = await readRegularFile(file);
  } catch (err) {
    if (!(err instanceof NotReadable)) throw err;
    const reason = err.reason;
    if (!declaring) return { issues: [{ path: '', message: `${reason}: ${file}`, file }] };
    const at = locate(declaring, ['extends']);
    return { issues: [{ path: 'extends', message: `${reason}: ${file} (extended by ${displayPath(declaring.file)})`, ...at }] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const shown = displayPath(file);
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        const message = `YAML syntax error in ${shown} at line ${line}, column ${col}: ${e.message.split('\n')[0]}`;
        return { path: '', message, file, line, column: col };
      }),
    };
  }
  if (!isMap(doc.contents)) {
    const what = doc.contents === null ? 'is empty' : 'is not a mapping of keys';
    return { issues: [{ path: '', message: `${shown} ${what}; expected keys like app, version, artifact and start`, file }] };
  }
  let data: Record<string, unknown>;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  } catch (err) {
    return { issues: [{ path: '', message: `${shown}: ${(err as Error).message}`, file }] };
  }
  keepEnvSource(doc, data);
  const artifact = data['artifact'];
  if (typeof artifact === 'string' && artifact.trim() !== '') data['artifact'] = path.resolve(path.dirname(file), artifact);
  return { file, doc, lines, data };
}

// YAML reads `VERSION: 1.10` as the number 1.1 and `ID: 007` as 7. The process wants the text
// the user wrote, so non-string env values take their source text.
function keepEnvSource(doc: Document, data: Record<string, unknown>): void {
  const env = doc.get('env', true);
  const out = data['env'];
  if (!isMap(env) || out === null || typeof out !== 'object') return;
  for (const pair of env.items) {
    if (!isScalar(pair.key) || !isScalar(pair.value)) continue;
    const { value, source } = pair.value;
    if ((typeof value === 'number' || typeof value === 'boolean') && typeof source === 'string') {
      (out as Record<string, unknown>)[String(pair.key.value)] = source;
    }
  }
}

/**
 * Line and column of the node at `keys` in one file, if it is there. With `atKey`, the position
 * of the mapping key itself (for "unknown key" problems) rather than of its value.
 */
export function locate(f: ManifestFile, keys: readonly PropertyKey[], atKey = false): { file: string; line?: number; column?: number } {
  let node: unknown;
  if (atKey && keys.length > 0) {
    const parent = keys.length === 1 ? f.doc.contents : f.doc.getIn(keys.slice(0, -1) as unknown[], true);
    const last = keys.at(-1);
    if (isMap(parent)) node = parent.items.find((pair) => isScalar(pair.key) && String(pair.key.value) === String(last))?.key;
  } else if (keys.length > 0) {
    node = f.doc.getIn(keys as unknown[], true);
  }
  const range = node !== null && typeof node === 'object' && 'range' in node ? (node.range as [number, number, number] | undefined) : undefined;
  if (!range) return { file: f.file };
  const { line, col } = f.lines.linePos(range[0]);
  return { file: f.file, line, column: col };
}
