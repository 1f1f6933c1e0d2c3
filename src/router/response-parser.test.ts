import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_HEAD_BYTES, ResponseParseError, ResponseParser } from './response-parser.ts';
import type { ResponseSink } from './response-parser.ts';

interface Seen {
  heads: { status: number; headers: string[]; reason: string }[];
  body: string;
  ends: boolean[];
}

function parser(): { p: ResponseParser; seen: Seen } {
  const seen: Seen = { heads: [], body: '', ends: [] };
  const sink: ResponseSink = {
    onHead: (status, headers, reason) => seen.heads.push({ status, headers, reason }),
    onBody: (chunk) => (seen.body += chunk.toString('latin1')),
    onEnd: (reusable) => seen.ends.push(reusable),
  };
  return { p: new ResponseParser(sink), seen };
}

/** Feeds `text` in pieces cut at `cuts` (offsets), returns the bytes used. */
function feed(p: ResponseParser, text: string, cuts: number[] = []): number {
  const bytes = Buffer.from(text, 'latin1');
  const at = [0, ...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length];
  let used = 0;
  for (let i = 0; i + 1 < at.length; i++) used += p.execute(bytes.subarray(at[i], at[i + 1]));
  return used;
}

const refused = (text: string, head = false) => {
  const { p } = parser();
  p.expect(head);
  assert.throws(() => feed(p, text), ResponseParseError, JSON.stringify(text));
};

describe('response parser', () => {
  it('reads a Content-Length response and says the connection is reusable', () => {
    const { p, seen } = parser();
    p.expect(false);
    const text = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';
    assert.equal(feed(p, text), text.length);
    assert.deepEqual(seen.heads, [
      { status: 200, headers: ['Content-Type', 'text/plain', 'Content-Length', '5'], reason: 'OK' },
    ]);
    assert.equal(seen.body, 'hello');
    assert.deepEqual(seen.ends, [true]);
    assert.equal(p.busy, false);
  });

  it('decodes chunked bodies, with extensions and trailers, cut anywhere', () => {
    const text =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n';
    fc.assert(
      fc.property(fc.array(fc.nat({ max: text.length }), { maxLength: 8 }), (cuts) => {
        const { p, seen } = parser();
        p.expect(false);
        assert.equal(feed(p, text, cuts), text.length);
        assert.equal(seen.body, 'hello 0123456789');
        assert.deepEqual(seen.ends, [true]);
      }),
    );
  });

  it('has no body for HEAD, 204 and 304, whatever the length says', () => {
    for (const [head, status] of [
      [true, 200],
      [false, 204],
      [false, 304],
    ] as const) {
      const { p, seen } = parser();
      p.expect(head);
      feed(p, `HTTP/1.1 ${status} X\r\nContent-Length: 10\r\n\r\n`);
      assert.equal(seen.body, '');
      assert.deepEqual(seen.ends, [true]);
    }
  });

  it('skips interim 1xx answers and reads the final one', () => {
    const { p, seen } = parser();
    p.expect(false);
    feed(
      p,
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    );
    assert.deepEqual(
      seen.heads.map((h) => h.status),
      [103, 200],
    );
    assert.equal(seen.body, 'ok');
    assert.deepEqual(seen.ends, [true]);
  });

  it('stops at a 101 and leaves the rest of the bytes to the caller', () => {
    const { p } = parser();
    p.expect(false);
    const head = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
    assert.equal(feed(p, `${head}\x81\x02hi`), head.length);
    assert.equal(p.status, 101);
  });

  it('reads a body without length until the connection closes, and never reuses it', () => {
    const { p, seen } = parser();
    p.expect(false);
    feed(p, 'HTTP/1.1 200 OK\r\n\r\nsome');
    feed(p, ' more');
    assert.equal(p.untilClose, true);
    assert.equal(p.finish(), true);
    assert.equal(seen.body, 'some more');
    assert.deepEqual(seen.ends, [false]);
  });

  it('does not reuse a connection the app closes (Connection: close, HTTP/1.0)', () => {
    for (const text of [
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n',
    ]) {
      const { p, seen } = parser();
      p.expect(false);
      feed(p, text);
      assert.deepEqual(seen.ends, [false], text);
    }
    const { p, seen } = parser();
    p.expect(false);
    feed(p, 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual(seen.ends, [true]);
  });

  it('reads the Keep-Alive timeout hint', () => {
    const { p } = parser();
    p.expect(false);
    feed(p, 'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n');
    assert.equal(p.keepAliveMs, 5000);
  });

  it('a connection that ends before the response did is not a complete response', () => {
    const { p, seen } = parser();
    p.expect(false);
    feed(p, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort');
    assert.equal(p.finish(), false);
    assert.deepEqual(seen.ends, []);
  });

  it('refuses whatever makes the end of a response ambiguous', () => {
    refused('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n');
    refused('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
    refused('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n');
    refused('HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n');
    refused('HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n');
    refused('HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n');
    refused('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    refused('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n');
    refused('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n');
    refused('HTTP/1.1 200 OK\r\nX: a\nContent-Length: 0\r\n\r\n');
    refused('HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n');
    refused('HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n');
    refused('HTTP/1.1 200 OK\r\nno colon\r\n\r\n');
    refused('HTTP/2 200 OK\r\n\r\n');
    refused('HTTP/1.1 20 OK\r\n\r\n');
    refused('garbage\r\n\r\n');
    refused(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}`);
  });

  it('two responses in a row on one connection', () => {
    const { p, seen } = parser();
    for (const body of ['one', 'two']) {
      p.expect(false);
      feed(p, `HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n${body}`);
    }
    assert.equal(seen.body, 'onetwo');
    assert.deepEqual(seen.ends, [true, true]);
  });
});
