import type { StoredFile } from './artifact-store.ts';

/**
 * Which files of the server's artifact store to delete: artifacts no release references and
 * leftover temporary files of uploads that never finished, once older than `maxAgeMs` (age from
 * the upload, or the last re-upload of the same content). Referenced artifacts are kept whatever
 * their age. The grace gives CI the time between upload and publish, and a failed publish the
 * time to be retried without uploading again.
 */
export function artifactsToCollect(files: readonly StoredFile[], referenced: ReadonlySet<string>, now: number, maxAgeMs: number): StoredFile[] {
  return files.filter((f) => now - f.mtimeMs >= maxAgeMs && (f.digest === undefined || !referenced.has(f.digest)));
}
