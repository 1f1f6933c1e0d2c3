import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tempDir } from './cli-process.ts';
import { flipReport } from './probe-analysis.ts';
import { startProber } from './prober.ts';
import { waitFor } from './wait-for.ts';

/** A stand-in router on loopback: answers with `x-app-version` of `version()`, and the Host it got. */
async function fakeRouter(version: () => string) {
  const hosts = new Set<string>();
  const server = createServer((req, res) => {
    hosts.add(String(req.headers.host));
    res.writeHead(200, { 'x-app-version': version() });
    res.end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hosts, close: () => server.close() };
}

test('the prober probes each router with the host, reports the latest answers, and reads back what it saw', async () => {
  const dir = await tempDir('prober');
  let current = '1.0.0';
  const a = await fakeRouter(() => current);
  const b = await fakeRouter(() => current);
  try {
    const prober = await startProber({
      targets: [
        { machine: 'web-1', url: a.url, host: 'shop.test' },
        { machine: 'web-2', url: b.url, host: 'shop.test' },
      ],
      intervalMs: 2,
      durationMs: 60_000,
      dir: dir.dir,
    });
    await waitFor('both answered 1.0.0', () => prober.latest()['web-1']?.version === '1.0.0' && prober.latest()['web-2']?.version === '1.0.0', 10_000);
    const flippedAt = performance.timeOrigin + performance.now();
    current = '2.0.0';
    await waitFor('both answered 2.0.0', () => prober.latest()['web-1']?.version === '2.0.0' && prober.latest()['web-2']?.version === '2.0.0', 10_000);
    const seen = await prober.stop();
    assert.deepEqual(seen.map((m) => m.machine), ['web-1', 'web-2']);
    assert.deepEqual([...a.hosts, ...b.hosts], ['shop.test', 'shop.test']);
    const report = flipReport(seen, '2.0.0');
    assert.deepEqual(report.missing, []);
    for (const m of report.machines) {
      assert.deepEqual(m.failed, []);
      assert.equal(m.oldAfterNew, 0);
      assert.ok(m.firstNewAt! >= flippedAt, `${m.machine}: a new answer only after the switch`);
      assert.ok(m.lastOldSentAt! < m.firstNewAt!);
    }
  } finally {
    a.close();
    b.close();
    await dir.cleanup();
  }
});

test('a prober stops by itself at its count, and a router that refuses is counted as failed', async () => {
  const dir = await tempDir('prober');
  const up = await fakeRouter(() => '1.0.0');
  const down = await fakeRouter(() => '1.0.0');
  down.close(); // nothing listens there any more: every probe is refused
  try {
    const prober = await startProber({
      targets: [
        { machine: 'up', url: up.url, host: 'x.test' },
        { machine: 'down', url: down.url, host: 'x.test' },
      ],
      intervalMs: 1,
      durationMs: 60_000,
      maxRequests: 40,
      dir: dir.dir,
    });
    await prober.exited; // by itself: the count is reached long before the duration
    const seen = await prober.stop();
    const sent = seen.reduce((n, m) => n + m.samples.length, 0);
    assert.equal(sent, 40, 'the count, each probe answered or failed before it wrote them');
    const refused = seen.find((m) => m.machine === 'down')!;
    assert.ok(refused.samples.length > 0 && refused.samples.every((s) => s.status === 0 && /ECONNREFUSED/.test(s.version)), JSON.stringify(refused.samples.slice(0, 2)));
    assert.ok(seen.find((m) => m.machine === 'up')!.samples.every((s) => s.status === 200));
  } finally {
    up.close();
    await dir.cleanup();
  }
});
