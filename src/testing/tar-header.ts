/**
 * One ustar header block, written byte by byte, so tests and benchmarks build archives fast and
 * with exactly the mode and type they say (as any client could upload), without `tar`.
 * `type`: '0' a regular file, '5' a directory; `mode` defaults to 0755 for a directory, else 0644.
 */
export function tarHeader(name: string, size: number, type: '0' | '5' = '0', mode = type === '5' ? 0o755 : 0o644): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(`${mode.toString(8).padStart(7, '0')}\0`, 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148); // the checksum's place holds spaces while the bytes are summed
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}
