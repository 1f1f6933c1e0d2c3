import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TIMEOUT_MS, requestTimeout } from './api-client.ts';

const CLI = fileURLToPath(new URL('./main.ts', import.meta.url));

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, '--json', ...args], { env: { ...process.env, CUTOVER_TOKEN: 't', ...env }, timeout: 60_000 }, (error, stdout) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, ms: Date.now() - started }),
    );
  });
}

test('the request timeout: --timeout, else CUTOVER_TIMEOUT, else 30 s; a unit is required', () => {
  assert.equal(requestTimeout(undefined, undefined), DEFAULT_TIMEOUT_MS);
  assert.equal(requestTimeout('2m', '5s'), 120_000);
  assert.equal(requestTimeout(undefined, '5s'), 5000);
  assert.throws(() => requestTimeout('30', undefined), { code: 'VALIDATION_FAILED', message: '--timeout: "30" has no unit; write 30s or 30ms' });
  assert.throws(() => requestTimeout(undefined, '30'), { code: 'CONFIG_INVALID', message: /CUTOVER_TIMEOUT: "30" has no unit/ });
  assert.throws(() => requestTimeout('0', undefined), /more than 0/);
});

test('a server that accepts and never answers: the CLI gives up and names it; one that refuses is named too', async () => {
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s)); // accepts, reads, never answers
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const silent = await cli(['--timeout', '500ms', 'instance', 'list'], { CUTOVER_URL: url });
    assert.equal(silent.code, 6, silent.stdout);
    const e = JSON.parse(silent.stdout).error;
    assert.equal(e.code, 'SERVER_UNREACHABLE');
    assert.match(e.message, new RegExp(`server at ${url} did not answer GET /api/instances within 500ms.*--timeout`));
    const fromEnv = await cli(['status'], { CUTOVER_URL: url, CUTOVER_TIMEOUT: '300ms' });
    assert.equal(fromEnv.code, 6, fromEnv.stdout);
    assert.match(JSON.parse(fromEnv.stdout).error.message, /within 300ms/);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
  const refused = await cli(['--timeout', '5s', 'status'], { CUTOVER_URL: url });
  assert.equal(refused.code, 6);
  assert.match(JSON.parse(refused.stdout).error.message, new RegExp(`cannot reach the Cutover server at ${url}`));
  const bare = await cli(['status'], { CUTOVER_URL: url, CUTOVER_TIMEOUT: '30' });
  assert.equal(bare.code, 2, bare.stdout);
  assert.match(JSON.parse(bare.stdout).error.message, /"30" has no unit; write 30s or 30ms/);
});
