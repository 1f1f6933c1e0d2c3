import { constants, gunzipSync } from 'node:zlib';

/** Raw bytes read before the sniff decides; the gzip of a tar's first 512-byte header is far smaller. */
export const SNIFF_BYTES = 64 * 1024;

/** Whether a 512-byte block is a tar header: its checksum field matches its bytes (POSIX ustar, also v7 and GNU). */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  const field = block.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]{1,8}$/.test(field)) return false;
  const recorded = Number.parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    // The checksum is computed with its own field taken as eight spaces.
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return recorded === unsigned || recorded === signed;
}

/** The sniff's verdict: a .tgz, not one (and why), or more bytes needed. */
export type SniffResult = { kind: 'tgz' } | { kind: 'more' } | { kind: 'invalid'; problem: string };

/**
 * Whether the start of an upload is a .tgz:
 * gzip magic first, and the first 512 bytes it inflates to are a tar header. `head` is the first
 * {@link SNIFF_BYTES} of the body (all of it when `ended`). Catches a wrong file (a zip, a bare
 * tar, 300 MB of zeros) before it is stored, not when an agent first tries to unpack it.
 */
export function sniffTarGz(head: Buffer, ended: boolean): SniffResult {
  const invalid = (problem: string): SniffResult => ({ kind: 'invalid', problem });
  if (head.length < 2 && !ended) return { kind: 'more' };
  if (head.length < 2 || head[0] !== 0x1f || head[1] !== 0x8b) return invalid('is not gzip data (a .tgz starts with the bytes 1f 8b); pack the app with `cutover release publish` or `tar czf`');
  let inflated: Buffer;
  try {
    // SYNC_FLUSH inflates what this much input holds instead of failing on the missing rest.
    inflated = gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (err) {
    return invalid(`is not valid gzip data (${(err as Error).message})`);
  }
  if (inflated.length < 512) {
    if (!ended && head.length < SNIFF_BYTES) return { kind: 'more' };
    return invalid(inflated.length === 0 ? 'is an empty gzip stream, not a tar archive' : 'is gzip, but what it holds is shorter than one tar header');
  }
  const first = inflated.subarray(0, 512);
  if (first.every((b) => b === 0)) return invalid('is an empty tar archive');
  if (!isTarHeader(first)) return invalid('is gzip, but not of a tar archive (the first 512 bytes are not a tar header)');
  return { kind: 'tgz' };
}
