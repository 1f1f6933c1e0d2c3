import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { testInstance } from '../testing/index.ts';
import { splitLines } from './log-lines.ts';
import { logLabels } from './routes-logs.ts';
import { startHarness } from './test-harness.ts';

const bytes = (...parts: (string | number[])[]) => parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)));
async function lines(chunks: Uint8Array[], max?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const line of splitLines(Readable.from(chunks), max)) out.push(line);
  return out;
}

test('a byte stream is split into lines across chunks: UTF-8 split mid-character, CRLF, an unterminated last line', async () => {
  // "é" is 0xc3 0xa9: its two bytes arrive in different chunks.
  assert.deepEqual(await lines(bytes('caf', [0xc3], [0xa9, 0x0a], 'two\r\nthr', 'ee\n\nlast')), ['café', 'two', 'three', '', 'last']);
  assert.deepEqual(await lines(bytes('')), []);
  assert.deepEqual(await lines(bytes('a\n')), ['a']);
});

test('a line longer than the limit is relayed in pieces, so the server never buffers an endless line', async () => {
  assert.deepEqual(await lines(bytes('abcdefghij\nxy\n'), 4), ['abcd', 'efgh', 'ij', 'xy']);
  assert.deepEqual(await lines(bytes('abcde', 'fghij'), 4), ['abcd', 'efgh', 'ij']);
});

test('labels: the version is the one the streamed colour runs; none for a colour without a slot', () => {
  const instance = testInstance({ slots: { blue: { version: '1.0.0', status: 'warm', deploymentId: 'd1' }, green: { version: '1.1.0', status: 'live', deploymentId: 'd2' } } });
  assert.deepEqual(logLabels(instance, 'green', null), { machine: null, instance: 'web', app: 'shop', version: '1.1.0', color: 'green' });
  assert.deepEqual(logLabels(instance, 'blue', 'web-1'), { machine: 'web-1', instance: 'web', app: 'shop', version: '1.0.0', color: 'blue' });
  assert.equal(logLabels(testInstance(), 'blue', null).version, null);
});

test('GET /logs?format=ndjson labels each line with machine, instance, app, version and colour; text stays the raw bytes', async () => {
  const asked: unknown[] = [];
  const h = await startHarness(undefined, {
    openLogs: async (instance, query) => {
      asked.push({ instance, ...query });
      return { color: query.color ?? 'green', body: Readable.from(bytes('listening on 3000\nGET / 200', '\n')), machine: instance === 'web' ? 'web-1' : null };
    },
  });
  try {
    await h.store.insertInstance(
      testInstance({ activeColor: 'green', currentVersion: '1.1.0', slots: { blue: { version: '1.0.0', status: 'warm', deploymentId: 'd1' }, green: { version: '1.1.0', status: 'live', deploymentId: 'd2' } } }),
    );
    const res = await h.request('/api/instances/web/logs?format=ndjson&tail=5', { headers: { authorization: `Bearer ${h.tokens.viewer}` } });
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get('content-type')), /^application\/x-ndjson/);
    const got = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as unknown);
    const labels = { machine: 'web-1', instance: 'web', app: 'shop', version: '1.1.0', color: 'green' };
    assert.deepEqual(got, [{ ...labels, line: 'listening on 3000' }, { ...labels, line: 'GET / 200' }]);

    const blue = await h.request('/api/instances/web/logs?format=ndjson&color=blue', { headers: { authorization: `Bearer ${h.tokens.viewer}` } });
    assert.equal((JSON.parse((await blue.text()).split('\n')[0]!) as { version: string }).version, '1.0.0');

    const text = await h.request('/api/instances/web/logs', { headers: { authorization: `Bearer ${h.tokens.viewer}` } });
    assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await text.text(), 'listening on 3000\nGET / 200\n');
    assert.deepEqual(asked, [
      { instance: 'web', tail: 5, follow: false },
      { instance: 'web', color: 'blue', tail: 100, follow: false },
      { instance: 'web', tail: 100, follow: false },
    ]);

    const bad = await h.call('viewer', 'GET', '/api/instances/web/logs?format=yaml');
    assert.equal(bad.status, 400);
    assert.equal((await h.call('viewer', 'GET', '/api/instances/nope/logs?format=ndjson')).body.code, 'INSTANCE_NOT_FOUND');
    assert.equal((await h.call(null, 'GET', '/api/instances/web/logs?format=ndjson')).status, 401);
  } finally {
    await h.close();
  }
});
