import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRouter } from '../router/index.ts';
import { makeHostCert, makeTestCerts, opensslFingerprint, waitFor } from '../testing/index.ts';
import { createAgentEdgeTls, edgeCertsFile } from './agent-edge-tls.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('agent edge TLS', () => {
  let dir: string;
  let ca: string;
  const pem: Record<string, { cert: string; key: string; certFile: string; keyFile: string }> = {};
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cutover-agent-tls-'));
    ({ ca } = await makeTestCerts(dir));
    for (const [name, hosts] of [['shop', ['shop.example.com']], ['files1', ['www.example.com']], ['files2', ['www.example.com']]] as const) {
      const c = await makeHostCert(dir, name, ca, hosts);
      pem[name] = { cert: await readFile(c.cert, 'utf8'), key: await readFile(c.key, 'utf8'), certFile: c.cert, keyFile: c.key };
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const stateBaseIn = async (name: string) => {
    const d = join(dir, name, 'private');
    await mkdir(d, { recursive: true, mode: 0o700 });
    return join(d, 'state');
  };

  it("keeps the server's pairs sealed, serves them again after a restart, and refuses a set that does not load", async () => {
    const stateBase = await stateBaseIn('restart');
    const router = createRouter();
    const tls = createAgentEdgeTls({ router, stateBase, log: quiet });
    await tls.load();
    assert.deepEqual(tls.held(), []);
    const shop = { hosts: ['shop.example.com'], cert: pem.shop!.cert, key: pem.shop!.key, isDefault: false };
    const held = await tls.put([shop]);
    const fp = await opensslFingerprint(pem.shop!.certFile);
    assert.deepEqual(held.map((c) => [c.hosts, c.fingerprint, c.source]), [[['shop.example.com'], fp, 'server']]);
    const metric = /cutover_tls_certificate_expiry_seconds\{host="shop\.example\.com",default="false"\} (\d+)/.exec(tls.metricsText());
    assert.ok(metric && Number(metric[1]) > 80 * 86_400, 'seconds left in the metrics');

    const kept = await readFile(edgeCertsFile(stateBase), 'utf8');
    const body = pem.shop!.key.split('\n')[1]!;
    assert.ok(!kept.includes(body) && !kept.includes('PRIVATE KEY'), 'the key is sealed at rest');

    await assert.rejects(tls.put([{ ...shop, key: pem.files1!.key }]), /TLS_INVALID|does not match|key/);
    assert.deepEqual(tls.held().map((c) => c.fingerprint), [fp], 'the old set keeps serving');
    tls.close();

    const again = createAgentEdgeTls({ router: createRouter(), stateBase, log: quiet });
    await again.load();
    assert.deepEqual(again.held().map((c) => c.fingerprint), [fp], 'served again after a restart, without the server');
    again.close();
  });

  it('reloads the watched pair when both files change, and keeps the old one while they do not match', async () => {
    const stateBase = await stateBaseIn('watched');
    const live = join(dir, 'live');
    await mkdir(live, { recursive: true });
    const files = { cert: join(live, 'fullchain.pem'), key: join(live, 'privkey.pem') };
    await copyFile(pem.files1!.certFile, files.cert);
    await copyFile(pem.files1!.keyFile, files.key);
    const warnings: string[] = [];
    const tls = createAgentEdgeTls({ router: createRouter(), stateBase, files, log: { ...quiet, warn: (_o: object, m: string) => void warnings.push(m) }, pollMs: 50, settleMs: 100 });
    try {
      await tls.load();
      const fp1 = await opensslFingerprint(pem.files1!.certFile);
      const fp2 = await opensslFingerprint(pem.files2!.certFile);
      assert.deepEqual(tls.held().map((c) => [c.fingerprint, c.isDefault, c.source]), [[fp1, true, 'file']]);

      // Half a renewal: the new certificate with the old key. Refused, the old pair serves on.
      await writeFile(files.cert, pem.files2!.cert);
      await waitFor('the half-written pair refused', () => warnings.some((w) => /do not load/.test(w)));
      assert.deepEqual(tls.held().map((c) => c.fingerprint), [fp1]);

      await writeFile(files.key, pem.files2!.key);
      await waitFor('the renewed pair served', () => tls.held()[0]?.fingerprint === fp2);

      // A server certificate claims its host; the file pair stays the default.
      await tls.put([{ hosts: ['shop.example.com'], cert: pem.shop!.cert, key: pem.shop!.key, isDefault: true }]);
      assert.deepEqual(tls.held().map((c) => [c.isDefault, c.source]).sort(), [[false, 'server'], [true, 'file']]);
    } finally {
      tls.close();
    }
  });

  it('refuses to start with a watched key other users may read, or a pair that does not match', async () => {
    const stateBase = await stateBaseIn('refused');
    const d = join(dir, 'bad');
    await mkdir(d, { recursive: true });
    const files = { cert: join(d, 'cert.pem'), key: join(d, 'key.pem') };
    await writeFile(files.cert, pem.files1!.cert);
    await writeFile(files.key, pem.files1!.key, { mode: 0o644 });
    await assert.rejects(createAgentEdgeTls({ router: createRouter(), stateBase, files, log: quiet }).load(), /chmod 600/);
    await rm(files.key);
    await writeFile(files.key, pem.shop!.key, { mode: 0o600 });
    await assert.rejects(createAgentEdgeTls({ router: createRouter(), stateBase, files, log: quiet }).load(), /key does not match/);
    assert.deepEqual((await readdir(join(dir, 'refused', 'private'))).filter((f) => f.startsWith('edge-certs')), [], 'nothing written');
  });
});
