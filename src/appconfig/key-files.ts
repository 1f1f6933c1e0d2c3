import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CutoverError, writeKeyFile } from '../shared/index.ts';
import { KEY_BYTES, KEY_ID, newKey } from './key-ring.ts';

// The key ring's files: one `<id>.key` per key (base64 of 32 random bytes), in a directory the
// database never sees (default `<dataDir>/private/app-config-keys`), 0700 with 0600 files. A backup
// of the database alone, or a PostgreSQL dump, holds no key.

/** Reads every `<id>.key` in `dir`; a key readable by others or of the wrong length is refused. */
export function loadKeyRing(dir: string): Map<string, Buffer> {
  const ring = new Map<string, Buffer>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ring;
    throw error;
  }
  for (const name of names.sort()) {
    if (!name.endsWith('.key')) continue;
    const id = name.slice(0, -4);
    const path = join(dir, name);
    if (!KEY_ID.test(id)) throw keyFileError(path, 'its name is not a key id (letters, digits, "-" and "_")');
    if ((statSync(path).mode & 0o077) !== 0) throw keyFileError(path, 'other users may read it; chmod 600 it');
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== KEY_BYTES) throw keyFileError(path, `it must hold ${KEY_BYTES} bytes in base64`);
    ring.set(id, key);
  }
  return ring;
}

/** Writes a new random key as `<id>.key` (0600, fsynced; never replacing a file) and returns it. */
export function writeNewKey(dir: string, id: string): Buffer {
  if (!KEY_ID.test(id)) throw new CutoverError('VALIDATION_FAILED', `key id ${JSON.stringify(id.slice(0, 70))} must be letters, digits, "-" and "_" (at most 64)`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = newKey();
  writeKeyFile(join(dir, `${id}.key`), key);
  return key;
}

function keyFileError(path: string, why: string): CutoverError {
  return new CutoverError('SECRET_KEY_INVALID', `app-config key file ${path} cannot be used: ${why}`, { details: { path } });
}
