import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';

/** Largest manifest or app config file read; real ones are a few kilobytes. */
export const MAX_MANIFEST_FILE_BYTES = 1024 * 1024;

/** Why a path cannot be read as a small regular file, in words for an error message. */
export class NotReadable extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

/** What a stat says a path is, for messages: "a character device", "a FIFO"… */
export function fileKindOf(s: { isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a regular file of at most `max` bytes as UTF-8. It is opened without blocking (a FIFO
 * would otherwise wait for a writer forever) and checked through the open handle before any
 * read, so a path swapped between a check and the read cannot slip through; `/dev/zero` or a
 * FIFO is refused before a byte is read, and a file that grows past `max` meanwhile is refused
 * after `max + 1` bytes.
 */
export async function readRegularFile(file: string, max = MAX_MANIFEST_FILE_BYTES): Promise<string> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A socket cannot be opened at all (ENXIO); say what it is rather than the errno.
    const s = await stat(file).catch(() => undefined);
    if (s && !s.isFile()) throw new NotReadable(`must be a regular file, but it is ${fileKindOf(s)}`);
    throw new NotReadable(code === 'ENOENT' ? 'file not found' : `cannot read file (${(err as Error).message})`);
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new NotReadable(`must be a regular file, but it is ${fileKindOf(s)}`);
    if (s.size > max) throw new NotReadable(`is ${s.size} bytes; a manifest file may be at most ${max} bytes`);
    const buffer = Buffer.alloc(max + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > max) throw new NotReadable(`is more than ${max} bytes; a manifest file may be at most ${max} bytes`);
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}
