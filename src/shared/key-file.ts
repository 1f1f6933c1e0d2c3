import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

/**
 * Writes a new key file: `key` as base64 and a newline, created exclusively (`EEXIST` when the file
 * is there: a key is never overwritten), mode 0600 from the first byte, fsynced before it is closed.
 * Synchronous: it runs once, as a process starts or an operator adds a key.
 */
export function writeKeyFile(path: string, key: Buffer): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
