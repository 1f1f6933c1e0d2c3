import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { bareDurationHint, invalidInput, isBareDuration } from '../shared/index.ts';
import type { FieldIssue } from '../shared/index.ts';
import { manifestSchema } from './manifest-schema.ts';
import type { LoadedManifest } from './manifest-schema.ts';
import { displayPath, locate, readManifestChain } from './read-manifest-chain.ts';
import type { ChainIssue, ManifestFile } from './read-manifest-chain.ts';
import { toFieldIssues } from './to-field-issues.ts';
import { fileKindOf } from './read-regular-file.ts';
import { DEFAULT_MAX_ARTIFACT_BYTES } from './artifact-limits.ts';
import { applyGitTag } from './git-tag.ts';
import type { TagInput } from './git-tag.ts';

/** A manifest problem with where it is: `details.issues` entries carry `file`, `line`, `column` when known. */
export interface ManifestIssue extends FieldIssue {
  file?: string;
  line?: number;
  column?: number;
}

export interface LoadManifestOptions extends TagInput {
  /** Accept an artifact outside the directories of the manifest's files (`--allow-artifact-outside`). */
  allowArtifactOutside?: boolean;
  /** Largest `.tgz` artifact file accepted; default {@link DEFAULT_MAX_ARTIFACT_BYTES}. */
  maxArtifactBytes?: number;
}

/**
 * Loads a release manifest: parses the YAML, follows `extends` (objects deep-merge with the
 * extending file winning; arrays and scalars replace), validates everything except the
 * artifact digest, applies defaults and converts durations to milliseconds.
 *
 * Throws one `MANIFEST_INVALID` error listing every problem by its YAML path, with the file,
 * line and column where it was found.
 */
export async function loadManifest(file: string, options: LoadManifestOptions = {}): Promise<LoadedManifest> {
  const { chain, issues: chainIssues } = await readManifestChain(file);
  if (chainIssues.length > 0) throw manifestError(file, chainIssues.map(withLocation));

  const merged = stripNulls(chain.reduceRight<Record<string, unknown>>((acc, f) => deepMerge(acc, f.data), {}));
  const tagged = applyGitTag(merged['version'], options);
  if ('version' in tagged && tagged.version !== undefined) merged['version'] = tagged.version;
  const result = manifestSchema.safeParse(merged);
  const issues: ManifestIssue[] = result.success
    ? []
    : toFieldIssues(result.error, manifestSchema)
        // With a tag problem, what the schema says about the version it could not set is noise.
        .filter(({ path }) => !('problem' in tagged && path === 'version'))
        .map(({ path, message, keys, unknownKey }) => withLocation({ path, message, ...where(chain, keys, unknownKey) }));
  if ('problem' in tagged) issues.unshift(withLocation({ path: 'version', message: tagged.problem, ...where(chain, ['version']) }));

  const artifact = merged['artifact'];
  if (typeof artifact === 'string' && artifact.trim() !== '') {
    const problem =
      (await artifactProblem(artifact, options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES)) ??
      (options.allowArtifactOutside ? undefined : await artifactOutside(artifact, chain));
    if (problem) issues.push(withLocation({ path: 'artifact', message: problem, ...where(chain, ['artifact']) }));
  }
  if (issues.length > 0 || !result.success) throw manifestError(file, issues);
  const warnings = bareDurations(merged).map((keys) => {
    const at = withLocation({ path: keys.join('.'), message: bareDurationHint(get(merged, keys) as number), ...where(chain, keys) });
    return `${at.path}: ${at.message}; read as milliseconds for now, a later version will refuse it`;
  });
  const loaded = !('tag' in tagged) || tagged.tag === undefined ? result.data : { ...result.data, spec: { ...result.data.spec, tag: tagged.tag } };
  return warnings.length ? { ...loaded, warnings } : loaded;
}

// The manifest's duration keys; a bare number there is milliseconds, which surprised people.
const DURATION_KEYS: readonly (readonly string[])[] = [['health', 'interval'], ['health', 'timeout'], ['deployTimeout'], ['stopTimeout'], ['drain', 'interval']];

function get(obj: Record<string, unknown>, keys: readonly string[]): unknown {
  let at: unknown = obj;
  for (const k of keys) at = isPlainObject(at) && Object.hasOwn(at, k) ? at[k] : undefined;
  return at;
}

/** The duration keys holding a number without a unit (zero excepted): warned about, not refused, in manifests. */
function bareDurations(merged: Record<string, unknown>): string[][] {
  return DURATION_KEYS.filter((keys) => {
    const v = get(merged, keys);
    return (typeof v === 'number' || typeof v === 'string') && isBareDuration(v);
  }).map((keys) => [...keys]);
}

function manifestError(file: string, issues: ManifestIssue[]) {
  return invalidInput('MANIFEST_INVALID', file, issues);
}

// The most specific file holding a node at `keys` is the one whose value won the merge.
function where(chain: ManifestFile[], keys: readonly PropertyKey[], atKey = false): { file?: string; line?: number; column?: number } {
  for (const f of chain) {
    const at = locate(f, keys, atKey);
    if (at.line !== undefined) return at;
  }
  return {};
}

function withLocation(issue: ManifestIssue | ChainIssue): ManifestIssue {
  if (issue.line === undefined || issue.file === undefined || issue.message.includes(`line ${issue.line}, column`)) return issue;
  return { ...issue, message: `${issue.message} (${displayPath(issue.file)}:${issue.line}:${issue.column})` };
}

async function artifactProblem(artifact: string, maxBytes: number): Promise<string | undefined> {
  try {
    const s = await stat(artifact);
    if (s.isDirectory()) return undefined;
    if (s.isFile() && /\.(tgz|tar\.gz)$/.test(artifact)) {
      return s.size > maxBytes ? `is ${s.size} bytes; an artifact may be at most ${maxBytes} bytes: ${artifact}` : undefined;
    }
    if (!s.isFile()) return `must be a directory or a .tgz/.tar.gz file, but it is ${fileKindOf(s)}: ${artifact}`;
    return `must be a directory or a .tgz/.tar.gz file: ${artifact}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `not found: ${artifact}`;
    return `cannot be read: ${artifact} (${(err as Error).message})`;
  }
}

/**
 * An artifact must lie inside the directory of one of the chain's files (the release file or
 * a file it extends), symlinks resolved: a manifest naming `/etc` or `../../..` would otherwise
 * upload whatever it points at, readable by every viewer who knows the digest.
 */
async function artifactOutside(artifact: string, chain: ManifestFile[]): Promise<string | undefined> {
  const real = await realpath(artifact);
  const dirs = await Promise.all(chain.map((f) => realpath(path.dirname(f.file)).catch(() => path.dirname(f.file))));
  if (dirs.some((dir) => real === dir || real.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep))) return undefined;
  const shown = [...new Set(dirs.map(displayPath))].join(', ');
  return `${artifact} is outside the manifest's directory (${shown}); move it there, or pass --allow-artifact-outside if that is really meant`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// A YAML key `__proto__` must stay an own (and therefore reported) key, never a prototype.
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Objects merge key by key (override wins); arrays and scalars replace. */
export function deepMerge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const prev = out[key];
    setOwn(out, key, isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value);
  }
  return out;
}

// `health:` with nothing under it (or only comments) means "use the defaults", and a null in an
// extending file unsets the inherited value. Env is left alone so `KEY:` is reported, not dropped.
function stripNulls(obj: Record<string, unknown>, inEnv = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (value === null && !inEnv) continue;
    setOwn(out, key, isPlainObject(value) && !inEnv ? stripNulls(value, key === 'env') : value);
  }
  return out;
}
