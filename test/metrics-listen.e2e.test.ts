import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { request } from 'undici';
import { CLI, cutover, freePort, tempDir } from './helpers.ts';

/**
 * `cutover agent --metrics-listen`: a real agent process serving `GET /metrics` with a token given
 * in `CUTOVER_METRICS_TOKEN`; the token never in its command line nor its log (at debug level); the
 * listener goes with the agent; a network address without a token and a token flag are refused.
 */
const TOKEN = 'metrics-canary-7f3c9a1e5b2d4608';
let data: Awaited<ReturnType<typeof tempDir>>;
let agent: ChildProcess | undefined;
let log = '';
let info: { router: number; control: number; metrics: number };
const began = Date.now();

before(async () => {
  data = await tempDir('metrics');
  // As root, the agent wants its slot users able to pass through the temp directory.
  await chmod(data.dir, 0o711);
  const metricsPort = await freePort();
  agent = spawn(
    process.execPath,
    [CLI, '--data-dir', data.dir, '--json', 'agent', '--http-port', '0', '--metrics-listen', `127.0.0.1:${metricsPort}`, '--log-level', 'debug'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '', CUTOVER_METRICS_TOKEN: TOKEN } },
  );
  agent.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  let out = '';
  info = await new Promise((resolve, reject) => {
    agent!.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      try {
        resolve(JSON.parse(out) as typeof info);
      } catch {
        // not the whole line yet
      }
    });
    agent!.once('exit', (code) => reject(new Error(`the agent exited with ${code}: ${log}`)));
  });
});

after(async () => {
  if (agent && agent.exitCode === null && agent.signalCode === null) {
    agent.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
  }
  await data?.cleanup();
  console.log(`metrics-listen e2e: ${((Date.now() - began) / 1000).toFixed(1)} s`);
});

async function scrape(headers: Record<string, string> = {}) {
  const res = await request(`http://127.0.0.1:${info.metrics}/metrics`, { headers });
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() };
}

test('the agent serves /metrics on metricsListen with the token, 401 without; the token is in neither ps nor the log; it stops with the agent', async () => {
  assert.ok(info.metrics > 0, JSON.stringify(info));
  const ok = await scrape({ authorization: `Bearer ${TOKEN}` });
  assert.equal(ok.status, 200);
  assert.match(ok.type, /^text\/plain; version=0\.0\.4/);
  assert.equal((await scrape()).status, 401);
  assert.equal((await scrape({ authorization: 'Bearer not-the-metrics-token' })).status, 401);

  const cmdline = (await readFile(`/proc/${agent!.pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
  assert.ok(cmdline.includes('--metrics-listen') && !cmdline.includes(TOKEN), cmdline);
  assert.match(log, /"msg":"agent started"/);
  assert.ok(log.includes(`"metrics":"127.0.0.1:${info.metrics}"`) && log.includes('"metricsAuth":"token"'), log);

  agent!.kill('SIGTERM');
  const code = await new Promise((r) => agent!.once('exit', r));
  assert.equal(code, 0, log);
  assert.ok(!log.includes(TOKEN), 'the token is not in the agent log');
  await assert.rejects(
    new Promise((resolve, reject) => connect(info.metrics, '127.0.0.1').once('connect', resolve).once('error', reject)),
    /ECONNREFUSED/,
  );
});

test('a metrics address other machines reach, without a token, is refused before anything starts; a token flag too', async () => {
  const open = await cutover(data.dir, ['agent', '--http-port', '0', '--metrics-listen', '0.0.0.0:0']);
  assert.equal(open.json?.error?.code, 'CONFIG_INVALID', open.stdout + open.stderr);
  assert.match(open.json.error.message, /metricsListen 0\.0\.0\.0 is reachable from other machines and no metrics token is set/);
  const flag = await cutover(data.dir, ['agent', '--http-port', '0', '--metrics-listen', '127.0.0.1:0', '--metrics-token', TOKEN]);
  assert.equal(flag.json?.error?.code, 'VALIDATION_FAILED', flag.stdout + flag.stderr);
  assert.ok(!flag.stdout.includes(TOKEN) && !flag.stderr.includes(TOKEN));
});
