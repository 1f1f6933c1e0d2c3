import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { apiPath, deploymentId } from './api-path.ts';

const CLI = fileURLToPath(new URL('./main.ts', import.meta.url));

test('every segment is encoded: an argument cannot add a slash, a query or a fragment', () => {
  assert.equal(apiPath('instances', 'web', 'deploy'), '/api/instances/web/deploy');
  assert.equal(apiPath('instances', 'a/../b?x#y'), '/api/instances/a%2F..%2Fb%3Fx%23y');
  assert.equal(apiPath('problems', 12, 'resolve'), '/api/problems/12/resolve');
  for (const bad of ['', '.', '..']) assert.throws(() => apiPath('instances', bad), { code: 'VALIDATION_FAILED' });
});

test('a deployment id is dpl_ and 12 hex digits', () => {
  assert.equal(deploymentId('dpl_0123456789ab'), 'dpl_0123456789ab');
  for (const bad of ['dpl_x/../../instances/echo/rollback#', 'dpl_0123456789AB', 'dpl_0123456789a', 'dpl_0123456789abc', 'dpl_0123456789ab\n']) {
    assert.throws(() => deploymentId(bad), { code: 'VALIDATION_FAILED' }, bad);
  }
});

test('cutover abort and resume refuse a crafted deployment id and send nothing to the server', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(500, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const command of ['abort', 'resume']) {
      const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(
          process.execPath,
          [CLI, '--json', command, 'dpl_x/../../instances/echo/rollback#', '--reason', 'injected'],
          { env: { ...process.env, CUTOVER_URL: url, CUTOVER_TOKEN: 't' }, timeout: 60_000 },
          (error, stdout) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout }),
        );
      });
      assert.equal(r.code, 2, r.stdout);
      assert.equal(JSON.parse(r.stdout).error.code, 'VALIDATION_FAILED');
      assert.match(JSON.parse(r.stdout).error.message, /dpl_ followed by 12 hex digits/);
    }
    assert.deepEqual(seen, [], 'no request reached the server');
  } finally {
    server.close();
  }
});
