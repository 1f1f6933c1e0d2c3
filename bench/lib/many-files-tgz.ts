/**
 * Writes a .tgz of `files` empty files in directories of 1,000 (the review's M5 archive: 200,000
 * files make ~1.2 MB), plus the example app's files so it is a real artifact. Tar headers are
 * written by hand (ustar), streamed through gzip: fast, and the bench holds no archive in memory.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { tarHeader } from '../../src/testing/index.ts';

export async function writeManyFilesTgz(file: string, files: number, appDir: string): Promise<{ digest: string; size: number }> {
  async function* entries() {
    for (const name of (await readdir(appDir)).sort()) {
      const body = await readFile(join(appDir, name));
      yield tarHeader(name, body.length, '0');
      yield body;
      yield Buffer.alloc((512 - (body.length % 512)) % 512);
    }
    for (let d = 0; d * 1000 < files; d++) {
      yield tarHeader(`d${d}/`, 0, '5');
      const batch: Buffer[] = [];
      for (let i = d * 1000; i < Math.min(files, (d + 1) * 1000); i++) batch.push(tarHeader(`d${d}/f${i}`, 0, '0'));
      yield Buffer.concat(batch);
    }
    yield Buffer.alloc(1024);
  }
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    Readable.from(entries()),
    createGzip(),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(file),
  );
  return { digest: `sha256:${hash.digest('hex')}`, size };
}
