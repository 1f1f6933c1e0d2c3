import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { isCutoverError } from '../shared/index.ts';
import { bearerMatches, metricsExposureRefusal, readMetricsToken, startMetricsListener } from './metrics-listener.ts';

const TOKEN = 'mt-0123456789abcdef-secret';
const digest = (t: string) => createHash('sha256').update(t).digest();

test('a loopback metrics address needs no token; any other address needs one', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.equal(metricsExposureRefusal(host, false), undefined, host);
  for (const host of ['0.0.0.0', '::', '10.0.0.5', 'metrics.internal']) {
    const why = metricsExposureRefusal(host, false);
    assert.ok(why?.includes('CUTOVER_METRICS_TOKEN') && why.includes('--metrics-token-file') && why.includes(host), why);
    assert.equal(metricsExposureRefusal(host, true), undefined, host);
  }
});

test('only "Bearer <the token>" matches', () => {
  const d = digest(TOKEN);
  assert.equal(bearerMatches(`Bearer ${TOKEN}`, d), true);
  assert.equal(bearerMatches(`bearer ${TOKEN}`, d), true);
  for (const header of [undefined, '', TOKEN, `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, 'Bearer ', `Bearer ${TOKEN} extra`]) {
    assert.equal(bearerMatches(header, d), false, String(header));
  }
});

test('the token comes from the environment first, else the file (trimmed); a short one is refused without echoing it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-metrics-'));
  try {
    const file = join(dir, 'token');
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    assert.equal(await readMetricsToken(undefined, file), TOKEN);
    assert.equal(await readMetricsToken('from-the-environment-1234', file), 'from-the-environment-1234');
    assert.equal(await readMetricsToken(undefined, undefined), undefined);
    await writeFile(file, 'short-secret\n');
    await assert.rejects(readMetricsToken(undefined, file), (e: Error) => isCutoverError(e) && e.code === 'CONFIG_INVALID' && e.message.includes(file) && !e.message.includes('short-secret'));
    await assert.rejects(readMetricsToken('tiny', undefined), (e: Error) => isCutoverError(e) && e.message.includes('CUTOVER_METRICS_TOKEN') && !e.message.includes('tiny'));
    await assert.rejects(readMetricsToken(undefined, join(dir, 'missing')), (e: Error) => isCutoverError(e) && e.message.includes('ENOENT'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

async function get(port: number, path: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET') {
  const res = await request(`http://127.0.0.1:${port}${path}`, { method, headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

test('the listener serves GET /metrics only, with the token when one is set (401 without), and stops', async () => {
  let scrapes = 0;
  const metricsText = () => `cutover_requests_total{instance="web"} ${++scrapes}\n`;
  const open = await startMetricsListener({ host: '127.0.0.1', port: 0, token: undefined, metricsText, reusePort: false });
  const guarded = await startMetricsListener({ host: '127.0.0.1', port: 0, token: TOKEN, metricsText, reusePort: false });
  try {
    const plain = await get(open.port, '/metrics');
    assert.equal(plain.status, 200);
    assert.match(String(plain.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.equal(plain.text, 'cutover_requests_total{instance="web"} 1\n');

    const without = await get(guarded.port, '/metrics');
    assert.equal(without.status, 401);
    assert.match(String(without.headers['www-authenticate']), /^Bearer/);
    assert.equal((await get(guarded.port, '/metrics', { authorization: 'Bearer wrong-token-of-some-length' })).status, 401);
    assert.equal(scrapes, 1, 'a refused scrape reads no counters');
    const withToken = await get(guarded.port, '/metrics', { authorization: `Bearer ${TOKEN}` });
    assert.equal(withToken.status, 200);
    assert.equal(withToken.text, 'cutover_requests_total{instance="web"} 2\n');

    assert.equal((await get(open.port, '/v1/metrics')).status, 404);
    assert.equal((await get(open.port, '/')).status, 404);
    assert.equal((await get(open.port, '/metrics', {}, 'POST')).status, 405);
  } finally {
    await open.close();
    await guarded.close();
  }
  // A fresh connection (undici's pool would reuse the one the close just ended).
  await assert.rejects(
    new Promise((resolve, reject) => connect(open.port, '127.0.0.1').once('connect', resolve).once('error', reject)),
    /ECONNREFUSED/,
  );
});
