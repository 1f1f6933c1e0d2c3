import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:http';
import { execFile } from 'node:child_process';
import { CLI, cutover, cutoverText, load, manifest, portFlags, ports, startProcess, tempDir } from './helpers.ts';
import { filesUnder, processesHolding } from '../src/testing/index.ts';

/**
 * App config and secrets as a user runs them (issue 20), with `cutover up` and the example app: a
 * release that requires a key is refused until it is set; a secret given from a file reaches the
 * app (it serves the value's SHA-256) and nothing else: no command line, no other process's
 * environment, no file of the data directory, no API answer or audit entry. Then, under load, a
 * config change deployed blue-green and rolled back, with zero failed requests.
 */
const HOST = 'acme.test';
const SECRET = `postgres://shop:planted-${createHash('sha256').update(String(process.pid)).digest('hex').slice(0, 16)}@db/shop`;
const sha = (v: string) => createHash('sha256').update(v).digest('hex');

let data: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let http: number;
const started = performance.now();

before(async () => {
  data = await tempDir('app-config');
  const p = await ports();
  http = p.http;
  up = await startProcess(data.dir, ['up', ...portFlags(p)], {}, { logs: true });
});

after(async () => {
  await up?.stop();
  await data?.cleanup();
  console.log(`# app-config e2e took ${Math.round(performance.now() - started)} ms`);
});

function configHash(key: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: http, path: `/api/config-hash?key=${key}`, headers: { host: HOST }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve((JSON.parse(body) as { sha256: string | null }).sha256));
    });
    req.on('error', reject).end();
  });
}

/** `cutover secret set …` with the value on stdin, as `cutover secret set KEY < file` gives it. */
function secretFromStdin(dir: string, args: string[], value: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, '--data-dir', dir, '--json', 'secret', 'set', ...args], { env: { ...process.env, CUTOVER_URL: '', CUTOVER_TOKEN: '' } }, (error, stdout) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout }),
    );
    child.stdin!.end(value);
  });
}

test('a secret reaches its slots and nothing else; a config change deploys blue-green under load and rolls back, warm and cold', async () => {
  const published = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, '1.0.0', 'requires: [DATABASE_URL]\nenv:\n  CURRENCY: USD\n')]);
  assert.equal(published.code, 0, published.stderr + published.stdout);
  assert.equal((await cutover(data.dir, ['instance', 'create', 'acme-live', '--app', 'hello', '--host', HOST, '--environment', 'production'])).code, 0);

  const refused = await cutover(data.dir, ['deploy', 'acme-live', '1.0.0', '--wait']);
  assert.equal(refused.json.error.code, 'APP_CONFIG_MISSING', refused.stdout);
  assert.match(refused.json.error.message, /DATABASE_URL: not set in release env, app hello, environment production/);

  const onArgv = await cutover(data.dir, ['secret', 'set', '--instance', 'acme-live', `DATABASE_URL=${SECRET}`]);
  assert.equal(onArgv.code, 2);
  assert.match(onArgv.json.error.message, /never taken on the command line/);
  const plainUrl = await cutover(data.dir, ['app-config', 'set', '--instance', 'acme-live', `DATABASE_URL=${SECRET}`]);
  assert.match(plainUrl.json.error.message, /secret set/);
  assert.ok(!plainUrl.stdout.includes(SECRET) && !plainUrl.stderr.includes(SECRET), 'the refusal does not quote it');

  const file = join(data.dir, 'db-url.txt');
  await writeFile(file, `${SECRET}\n`, { mode: 0o600 });
  const set = await cutover(data.dir, ['secret', 'set', '--instance', 'acme-live', 'DATABASE_URL', '--from-file', file]);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  assert.match(set.json.after, /^secret [0-9a-f]{12}$/);
  assert.equal((await cutover(data.dir, ['app-config', 'set', '--environment', 'production', 'LOG_LEVEL=warn'])).code, 0);

  const first = await cutover(data.dir, ['deploy', 'acme-live', '1.0.0', '--wait']);
  assert.equal(first.json.status, 'succeeded', first.stdout);
  assert.equal(await configHash('DATABASE_URL'), sha(SECRET), 'the app received the value (one trailing newline dropped)');
  assert.equal(await configHash('CURRENCY'), sha('USD'));

  // Nowhere else: command lines, other processes' environments, the data directory, answers, audit.
  const holding = await processesHolding(SECRET);
  assert.ok(holding.some((p) => p.instance === 'acme-live'), 'the slot has it');
  assert.deepEqual(holding.filter((p) => p.where === 'cmdline' || p.instance !== 'acme-live'), [], 'no command line, no other process');
  for (const f of await filesUnder(data.dir)) {
    if (f === file) continue;
    assert.ok(!(await readFile(f)).includes(Buffer.from(SECRET)), `${f} holds the secret in clear`);
  }
  const answers = await Promise.all([
    cutover(data.dir, ['app-config', 'show', 'acme-live']),
    cutover(data.dir, ['app-config', 'diff', 'acme-live']),
    cutover(data.dir, ['status', 'acme-live']),
    cutover(data.dir, ['history', 'acme-live', '--all']),
    cutover(data.dir, ['audit']),
  ]);
  for (const a of answers) assert.ok(!a.stdout.includes(SECRET) && !a.stdout.includes('planted-'), a.stdout.slice(0, 200));
  const shown = answers[0].json.entries as { key: string; layer: string; value: string | null; fingerprint: string | null }[];
  assert.deepEqual(shown.map((e) => [e.key, e.layer]), [['CURRENCY', 'release env'], ['DATABASE_URL', 'instance acme-live'], ['LOG_LEVEL', 'environment production']]);
  assert.equal(shown[1]!.value, null);
  assert.match(shown[1]!.fingerprint!, /^[0-9a-f]{12}$/);

  // A change, deployed blue-green under load with zero failed requests; then rolled back.
  assert.equal((await cutover(data.dir, ['app-config', 'set', '--instance', 'acme-live', 'CURRENCY=EUR'])).code, 0);
  const fromStdin = await secretFromStdin(data.dir, ['--environment', 'production', 'API_KEY'], 'stdin-key\r\n');
  assert.equal(fromStdin.code, 0, fromStdin.stdout);
  const diff = await cutoverText(data.dir, ['app-config', 'diff', 'acme-live']);
  assert.match(diff.stdout, /CURRENCY\s+changed\s+USD\s+EUR/);
  const traffic = load(http, HOST, 8);
  await new Promise((r) => setTimeout(r, 200));
  const configOnly = await cutover(data.dir, ['deploy', 'acme-live', '--app-config-only', '--wait']);
  assert.equal(configOnly.json.status, 'succeeded', configOnly.stdout);
  assert.equal(configOnly.json.strategy, 'start-and-flip');
  assert.equal(await configHash('CURRENCY'), sha('EUR'));
  assert.equal(await configHash('API_KEY'), sha('stdin-key'), 'from stdin, one trailing CRLF dropped');
  const again = await cutover(data.dir, ['deploy', 'acme-live', '--app-config-only']);
  assert.equal(again.json.error.code, 'ALREADY_ON_VERSION');
  const back = await cutover(data.dir, ['rollback', 'acme-live', '--wait']);
  assert.equal(back.json.strategy, 'flip-to-warm');
  assert.equal(await configHash('CURRENCY'), sha('USD'), 'the old value is back');
  assert.equal(await configHash('API_KEY'), null, 'the warm pair had no API_KEY');
  assert.equal(await configHash('DATABASE_URL'), sha(SECRET));
  // A cold rollback: two releases later no slot holds 1.0.0 any more; rolling back to it starts it
  // again with the config its last deployment recorded (USD, no API_KEY), not today's.
  for (const v of ['1.1.0', '1.2.0']) {
    assert.equal((await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v, 'env:\n  CURRENCY: USD\n')])).code, 0);
    const forward = await cutover(data.dir, ['deploy', 'acme-live', v, '--wait']);
    assert.equal(forward.json.status, 'succeeded', forward.stdout);
  }
  assert.equal(await configHash('CURRENCY'), sha('EUR'), 'forward deployments take the current config');
  const cold = await cutover(data.dir, ['rollback', 'acme-live', '--to', '1.0.0', '--wait']);
  assert.equal(cold.json.status, 'succeeded', cold.stdout);
  assert.equal(cold.json.strategy, 'start-and-flip', 'cold: no slot held 1.0.0');
  assert.equal(await configHash('CURRENCY'), sha('USD'), 'the old values are back after a cold rollback too');
  assert.equal(await configHash('API_KEY'), null);
  assert.equal(await configHash('DATABASE_URL'), sha(SECRET));
  await new Promise((r) => setTimeout(r, 200));
  const result = await traffic.stop();
  assert.deepEqual(result.failed, [], 'zero failed requests');
  assert.ok(result.ok > 50, `enough load (${result.ok} requests)`);
  // The server's and the agent's log lines, at debug, hold it nowhere either.
  const logs = up.logs?.() ?? '';
  assert.ok(logs.includes('"level":20') || logs.includes('"level":30'), 'logs were captured');
  assert.ok(!logs.includes(SECRET) && !logs.includes('planted-'), 'no log line holds the secret');
});
