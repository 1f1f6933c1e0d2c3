// An artifact downloaded by digest from the server over the agent's session connection (ADR 0019),
// hashed while it arrives. An interrupted download leaves its bytes in `downloads/`; the next
// attempt asks only for the rest (`Range: bytes=N-`) and hashes the part it kept first.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import type { ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CutoverError } from '../shared/index.ts';

export interface Download {
  /** The whole artifact, checked against its digest, to read once. */
  stream: Readable;
  /** Removes the downloaded file once its reader is done. */
  done(): Promise<void>;
}

async function hashOf(file: string): Promise<ReturnType<typeof createHash>> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash;
}

/** One GET of the rest of the artifact, appended to `file`; resolves with the status. */
function fetchRest(
  client: ClientHttp2Session,
  credential: string,
  digest: string,
  file: string,
  have: number,
  hash: ReturnType<typeof createHash>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = client.request({
      ':method': 'GET',
      ':path': `/v1/agent/artifacts/${encodeURIComponent(digest)}`,
      authorization: `Bearer ${credential}`,
      ...(have > 0 ? { range: `bytes=${have}-` } : {}),
    });
    req.on('error', reject);
    req.once('response', (headers) => {
      const status = Number(headers[':status']);
      if (status !== 200 && status !== 206) {
        let text = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (text += c));
        req.once('end', () => {
          if (status === 416) return resolve(416);
          let e: { code?: string; message?: string } = {};
          try {
            e = JSON.parse(text) as typeof e;
          } catch {
            // the status says enough
          }
          reject(
            new CutoverError(
              (e.code as 'INTERNAL') ?? 'INTERNAL',
              e.message ?? `the server answered ${status} to the download of ${digest}`,
            ),
          );
        });
        return;
      }
      const out = createWriteStream(file, { flags: status === 206 ? 'a' : 'w', mode: 0o600 });
      req.on('data', (chunk: Buffer) => hash.update(chunk));
      req.pipe(out);
      out.once('finish', () => resolve(status));
      out.once('error', reject);
      // A lost link ends the stream early: what arrived stays for the next attempt.
      req.once('aborted', () =>
        reject(
          new CutoverError(
            'AGENT_UNREACHABLE',
            `the download of ${digest} was cut off; it resumes on the next attempt`,
          ),
        ),
      );
    });
  });
}

/** Downloads `digest` into `dir` (resuming what an earlier attempt left), checks it, and hands it over to read. */
export async function downloadArtifact(o: {
  client: ClientHttp2Session;
  credential: string;
  digest: string;
  dir: string;
}): Promise<Download> {
  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  const file = join(o.dir, `${o.digest.replace(':', '-')}.part`);
  let have = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  let hash = have > 0 ? await hashOf(file) : createHash('sha256');
  let status = await fetchRest(o.client, o.credential, o.digest, file, have, hash);
  if (status === 416 || (status === 200 && have > 0)) {
    // The kept part is longer than the artifact, or the server sent it whole: start over.
    have = 0;
    hash = createHash('sha256');
    if (status === 416) {
      await rm(file, { force: true });
      status = await fetchRest(o.client, o.credential, o.digest, file, 0, hash);
    } else hash = await hashOf(file);
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== o.digest) {
    await rm(file, { force: true });
    throw new CutoverError(
      'ARTIFACT_DIGEST_MISMATCH',
      `the artifact downloaded for ${o.digest} hashes to ${actual}; it was deleted and is downloaded again on the next attempt`,
      {
        details: { expected: o.digest, actual },
      },
    );
  }
  return { stream: createReadStream(file), done: () => rm(file, { force: true }) };
}
