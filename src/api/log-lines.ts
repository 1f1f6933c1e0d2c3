/** What every line of an instance's log stream is labelled with (issue 17; seed 003 wants logs by instance and version). */
export interface LogLabels {
  /** The machine the slot runs on; null while instances are not placed on machines (the one local agent). */
  machine: string | null;
  instance: string;
  app: string;
  /** The release the colour ran when the stream opened; null if the server has no slot record for it. */
  version: string | null;
  color: string;
}

/** One labelled line, as `GET /api/instances/{name}/logs?format=ndjson` answers it. */
export interface LogLine extends LogLabels {
  line: string;
}

/**
 * Longest line relayed in one piece, in UTF-16 code units: an app printing megabytes without a
 * newline must not grow the server's buffer without bound; the rest follows as further lines.
 */
export const MAX_LOG_LINE = 16 * 1024;

/**
 * Splits a byte stream into lines (without their `\n`; a `\r\n`'s `\r` dropped too), decoding
 * UTF-8 across chunk boundaries. A line longer than {@link MAX_LOG_LINE} is cut into pieces; an
 * unterminated last line is given as it is when the stream ends.
 */
export async function* splitLines(body: AsyncIterable<Uint8Array>, max = MAX_LOG_LINE): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = '';
  const drain = function* (final: boolean): Generator<string> {
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      yield* pieces(line.endsWith('\r') ? line.slice(0, -1) : line, max);
    }
    while (pending.length > max) {
      yield pending.slice(0, max);
      pending = pending.slice(max);
    }
    if (final && pending !== '') {
      yield pending;
      pending = '';
    }
  };
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    yield* drain(false);
  }
  pending += decoder.decode();
  yield* drain(true);
}

function* pieces(line: string, max: number): Generator<string> {
  if (line.length <= max) {
    yield line;
    return;
  }
  for (let i = 0; i < line.length; i += max) yield line.slice(i, i + max);
}

/** The NDJSON stream of an instance's log: one `LogLine` object per line of `body`. */
export async function* labelledLines(body: AsyncIterable<Uint8Array>, labels: LogLabels): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for await (const line of splitLines(body)) {
    const entry: LogLine = { ...labels, line };
    yield encoder.encode(`${JSON.stringify(entry)}\n`);
  }
}
