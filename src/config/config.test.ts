import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnv, loadConfig } from './config.ts';

test('defaults < file < env < flags', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-config-'));
  try {
    const file = join(dir, 'cutover.yml');
    await writeFile(file, 'apiPort: 9000\nhttpPort: 9001\nrollbackWindow: 10m\n');
    const config = await loadConfig({ defaults: { apiPort: 1, logLevel: 'warn' }, file, env: { CUTOVER_HTTP_PORT: '9002' }, flags: { metricsListen: '127.0.0.1:9004' } });
    assert.equal(config.apiPort, 9000, 'the file beats command defaults');
    assert.equal(config.logLevel, 'warn', 'command defaults beat built-in ones');
    assert.equal(config.httpPort, 9002);
    assert.deepEqual(config.metricsListen, { host: '127.0.0.1', port: 9004 }, 'flags beat everything');
    assert.equal(config.rollbackWindow, 600_000);
    assert.equal(config.lockTtl, 30_000);
    assert.ok(Object.isFrozen(config));
    assert.equal(config.database, join(config.dataDir, 'private', 'cutover.db'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every bad setting is reported with where it came from', async () => {
  await assert.rejects(
    loadConfig({ env: { CUTOVER_API_PORT: 'eighty' }, flags: { rollbackWindow: 'soon', bogus: 1 } }),
    (e: Error & { code: string; details: { issues: { path: string; message: string }[] } }) => {
      assert.equal(e.code, 'CONFIG_INVALID');
      const paths = e.details.issues.map((i) => i.path).sort();
      assert.deepEqual(paths, ['', 'apiPort', 'rollbackWindow']);
      assert.match(e.message, /apiPort: .*\(from environment\)/);
      assert.match(e.message, /"soon" is not a duration/);
      assert.match(e.message, /bogus/);
      return true;
    },
  );
});

test('env names are derived from keys', () => {
  assert.deepEqual(configFromEnv({ CUTOVER_DATA_DIR: '/x', CUTOVER_ROLLBACK_WINDOW: '1m', OTHER: 'y' }), {
    dataDir: '/x',
    rollbackWindow: '1m',
  });
});

test('a bare number is not a duration in the file, the environment or a flag; zero is', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-config-'));
  try {
    const file = join(dir, 'cutover.yml');
    await writeFile(file, 'rollbackWindow: 30\n');
    await assert.rejects(
      loadConfig({ file, env: { CUTOVER_BAKE_WINDOW: '5' }, flags: { lockTtl: '10' } }),
      (e: Error & { details: { issues: { path: string; message: string }[] } }) => {
        const byPath = Object.fromEntries(e.details.issues.map((i) => [i.path, i.message]));
        assert.match(byPath.rollbackWindow!, /"30" has no unit; write 30s or 30ms \(from config file\)/);
        assert.match(byPath.bakeWindow!, /"5" has no unit; write 5s or 5ms \(from environment\)/);
        assert.match(byPath.lockTtl!, /"10" has no unit; write 10s or 10ms \(from flag\)/);
        return true;
      },
    );
    const config = await loadConfig({ env: { CUTOVER_BAKE_WINDOW: '0' }, flags: { skewGrace: 0 } });
    assert.equal(config.bakeWindow, 0);
    assert.equal(config.skewGrace, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("slots' PATH comes from the settings: by default the agent's Node first, then the system directories", async () => {
  const { defaultSlotPath } = await import('./config.ts');
  assert.equal(defaultSlotPath('/opt/node24/bin/node'), '/opt/node24/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  assert.equal(defaultSlotPath('/usr/bin/node'), '/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/bin');
  assert.equal((await loadConfig({ env: { PATH: '/home/someone/bin' } })).slotPath, defaultSlotPath());
  assert.equal((await loadConfig({ env: { CUTOVER_SLOT_PATH: '/opt/bin:/bin' } })).slotPath, '/opt/bin:/bin');
});

test('slot isolation settings: a uid range, a slot user, allowSharedUid', async () => {
  const defaults = await loadConfig({ env: {} });
  assert.deepEqual(defaults.slotUidRange, { first: 61000, last: 61999 });
  assert.equal(defaults.allowSharedUid, false);
  assert.equal(defaults.slotUser, undefined);
  const set = await loadConfig({ env: { CUTOVER_SLOT_UID_RANGE: '70000-70009', CUTOVER_ALLOW_SHARED_UID: 'true', CUTOVER_SLOT_USER: 'www-data' } });
  assert.deepEqual(set.slotUidRange, { first: 70000, last: 70009 });
  assert.equal(set.allowSharedUid, true);
  assert.equal(set.slotUser, 'www-data');
  for (const bad of ['0-100', '62000-61000', 'lots', '500-2000']) {
    await assert.rejects(loadConfig({ flags: { slotUidRange: bad } }), /slotUidRange: .*is not a uid range/);
  }
});

test('tlsCert and tlsKey go together; machine labels are key=value pairs', async () => {
  await assert.rejects(loadConfig({ flags: { tlsCert: '/etc/c.pem' } }), /tlsCert: tlsCert and tlsKey go together; set tlsKey \(--tls-key\) too, or neither \(from flag\)/);
  await assert.rejects(loadConfig({ env: { CUTOVER_TLS_KEY: '/etc/k.pem' } }), /tlsKey: .*set tlsCert \(--tls-cert\) too, or neither \(from environment\)/);
  const both = await loadConfig({ flags: { tlsCert: '/c', tlsKey: '/k', machineLabels: 'role=web, zone=eu-1' } });
  assert.deepEqual([both.tlsCert, both.tlsKey, both.machineLabels], ['/c', '/k', { role: 'web', zone: 'eu-1' }]);
  assert.deepEqual((await loadConfig({})).machineLabels, {});
  await assert.rejects(loadConfig({ flags: { machineLabels: 'Role=web' } }), /"Role=web" is not a label; write key=value/);
});

test('metricsListen is host:port (IPv6 in brackets); unset, there is no metrics listener', async () => {
  assert.equal((await loadConfig({})).metricsListen, undefined);
  assert.deepEqual((await loadConfig({ flags: { metricsListen: '127.0.0.1:9100' } })).metricsListen, { host: '127.0.0.1', port: 9100 });
  assert.deepEqual((await loadConfig({ env: { CUTOVER_METRICS_LISTEN: '[::1]:0' } })).metricsListen, { host: '::1', port: 0 });
  assert.deepEqual((await loadConfig({ flags: { metricsListen: 'metrics.internal:9100', metricsTokenFile: '/etc/t' } })).metricsListen, { host: 'metrics.internal', port: 9100 });
  for (const bad of ['9100', '127.0.0.1', '127.0.0.1:99999', '::1:9100', 'a b:1']) {
    await assert.rejects(loadConfig({ flags: { metricsListen: bad } }), /metricsListen: .*is not an address to listen on; write host:port/, bad);
  }
});

test('tlsCa needs tlsCert', async () => {
  await assert.rejects(loadConfig({ flags: { tlsCa: '/etc/ca.pem' } }), /tlsCa: tlsCa is the CA that signed tlsCert: set tlsCert and tlsKey/);
  assert.equal((await loadConfig({ flags: { tlsCert: '/c', tlsKey: '/k', tlsCa: '/ca' } })).tlsCa, '/ca');
});

test('the settings of the agent control port are refused by name, wherever they come from, saying what replaced them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-config-'));
  try {
    const file = join(dir, 'cutover.yml');
    await writeFile(file, 'agentUrl: http://127.0.0.1:7071\n');
    await assert.rejects(
      loadConfig({ file, env: { CUTOVER_AGENT_HOST: '127.0.0.1' }, flags: { agentPort: '7071' } }),
      (e: Error) => {
        assert.match(e.message, /agentUrl.*the server no longer dials agents: each agent dials the server .*from config file/s);
        assert.match(e.message, /agentHost.*no longer has a control port.*from environment CUTOVER_AGENT_HOST/s);
        assert.match(e.message, /agentPort.*metricsListen.*from flag/s);
        return true;
      },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the TLS listener: httpsPort, the watched pair together and only with it, redirect and HSTS with it, trusted proxies as CIDRs', async () => {
  const off = await loadConfig({});
  assert.equal(off.httpsPort, undefined);
  assert.deepEqual([off.redirectHttp, off.hsts, off.trustedProxies], [false, false, []]);
  const on = await loadConfig({
    env: { CUTOVER_HTTPS_PORT: '8443', CUTOVER_HSTS: 'true', CUTOVER_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.10,::1/128' },
    flags: { redirectHttp: true, tlsCertFile: '/etc/tls/fullchain.pem', tlsKeyFile: '/etc/tls/privkey.pem' },
  });
  assert.deepEqual([on.httpsPort, on.redirectHttp, on.hsts, on.tlsCertFile], [8443, true, true, '/etc/tls/fullchain.pem']);
  assert.deepEqual(on.trustedProxies, ['10.0.0.0/8', '192.168.1.10', '::1/128']);
  await assert.rejects(loadConfig({ flags: { httpsPort: 443, tlsCertFile: '/c' } }), /tlsCertFile: tlsCertFile and tlsKeyFile go together/);
  await assert.rejects(loadConfig({ flags: { tlsCertFile: '/c', tlsKeyFile: '/k' } }), /tlsCertFile: tlsCertFile needs the router's TLS listener: set httpsPort \(--https-port\) too/);
  await assert.rejects(loadConfig({ flags: { hsts: true } }), /hsts: hsts needs the router's TLS listener/);
  await assert.rejects(loadConfig({ flags: { trustedProxies: '10.0.0.0/33' } }), /trustedProxies: "10\.0\.0\.0\/33": the prefix length must be 0 to 32/);
  await assert.rejects(loadConfig({ env: { CUTOVER_TRUSTED_PROXIES: 'lb.internal' } }), /"lb\.internal" is not a CIDR/);
  assert.deepEqual([off.hstsMaxAge, off.hstsIncludeSubDomains], [365 * 86_400_000, false]);
  assert.equal((await loadConfig({ env: { CUTOVER_HSTS_MAX_AGE: '5m' } })).hstsMaxAge, 300_000);
  // The PROXY protocol, per listener, only with the proxies it is believed from.
  assert.deepEqual(off.proxyProtocol, []);
  const pp = await loadConfig({ env: { CUTOVER_PROXY_PROTOCOL: 'https, http' }, flags: { httpsPort: 443, trustedProxies: '10.0.0.0/8' } });
  assert.deepEqual(pp.proxyProtocol, ['https', 'http']);
  await assert.rejects(loadConfig({ flags: { proxyProtocol: 'http' } }), /proxyProtocol: proxyProtocol accepts the header only from trustedProxies/);
  await assert.rejects(loadConfig({ flags: { proxyProtocol: 'https', trustedProxies: '10.0.0.1' } }), /proxyProtocol names https, which needs the router's TLS listener/);
  await assert.rejects(loadConfig({ flags: { proxyProtocol: 'tcp', trustedProxies: '10.0.0.1' } }), /http, https or both .* not "tcp"/);
});
