import { CutoverError } from '../shared/index.ts';

/** Default largest JSON request body: far above any real spec, far below what hurts the heap. */
export const DEFAULT_MAX_API_BODY = 1024 * 1024;

function tooLarge(limit: number): CutoverError {
  return new CutoverError(
    'BODY_TOO_LARGE',
    `the request body is larger than ${limit} bytes, the server's limit (setting maxApiBody); send less, or raise maxApiBody`,
    { details: { limit } },
  );
}

/**
 * Reads a request body as text, at most `limit` bytes. A declared `Content-Length` above the
 * limit is refused before anything is read; otherwise the stream is counted as it arrives and
 * cancelled at the first chunk past the limit, so a huge body never sits in memory (a body
 * sent chunked has no Content-Length to check up front).
 */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
