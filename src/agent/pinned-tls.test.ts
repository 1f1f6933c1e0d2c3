import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { CutoverError, closeServer, listen } from '../shared/index.ts';
import { pinnedDispatcher } from './pinned-tls.ts';

test('a pinned dispatcher talks only to the server whose certificate has the pinned SHA-256, and sends nothing to another', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-pin-'));
  // A self-signed certificate: no CA would vouch for it, the pin alone does.
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=pin-test']);
  const cert = await readFile(join(dir, 'c.pem'), 'utf8');
  const requests: string[] = [];
  const server = createServer({ cert, key: await readFile(join(dir, 'k.pem'), 'utf8') }, (req, res) => {
    requests.push(req.url ?? '');
    res.end('ok');
  });
  const port = await listen(server, 0, '127.0.0.1');
  const right = pinnedDispatcher(new X509Certificate(cert).fingerprint256.replaceAll(':', '').toLowerCase());
  const wrong = pinnedDispatcher('ab'.repeat(32));
  try {
    const res = await request(`https://127.0.0.1:${port}/pinned`, { dispatcher: right });
    assert.equal(await res.body.text(), 'ok');
    await assert.rejects(request(`https://127.0.0.1:${port}/secret`, { dispatcher: wrong }), (e: unknown) => {
      assert.ok(e instanceof CutoverError && e.code === 'TLS_UNTRUSTED', String(e));
      assert.match(e.message, new RegExp(`but the join token pins ${'ab'.repeat(32)}; nothing was sent`));
      return true;
    });
    assert.deepEqual(requests, ['/pinned'], 'the wrong pin sent no request');
  } finally {
    await right.close();
    await wrong.close();
    await closeServer(server);
    await rm(dir, { recursive: true, force: true });
  }
});
