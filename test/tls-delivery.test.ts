// Which machines get which edge certificates (issue 21, ADR 0029), through the real fleet runtime,
// control use cases and store: each connected machine's session (a fake that answers as an agent
// does) gets, after its desired state, the pairs of the hosts it serves, and no other; a change of
// hosts or a removal is pushed at once; the acknowledgements become `tls list`'s holding machines.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, systemClock } from '../src/shared/index.ts';
import { createMemoryStore } from '../src/store/index.ts';
import { listEdgeCertificateViews, removeEdgeCertificate, setEdgeCertificate } from '../src/control/index.ts';
import { createFleetRuntime } from '../src/link/index.ts';
import type { AgentLink } from '../src/link/index.ts';
import { makeHostCert, makeTestCerts, testActor, testInstance, waitFor } from '../src/testing/index.ts';

type Put = { certificates: { hosts: string[]; cert: string; key: string; isDefault: boolean }[] };

let dir: string;
const pairs: Record<string, { cert: string; key: string }> = {};
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cutover-tls-delivery-'));
  const { ca } = await makeTestCerts(dir);
  for (const [name, hosts] of [['a', ['a.test']], ['b', ['b.test']], ['wild', ['*.c.test']]] as const) {
    const c = await makeHostCert(dir, name, ca, hosts);
    pairs[name] = { cert: await readFile(c.cert, 'utf8'), key: await readFile(c.key, 'utf8') };
  }
});
after(() => rm(dir, { recursive: true, force: true }));

/** A machine's session as the fleet runtime sees it, answering as an agent would and keeping every `tls.put`. */
function fakeSession(machine: string) {
  const puts: Put[] = [];
  let held: unknown[] = [];
  return {
    puts,
    session: {
      closed: false,
      info: { machine },
      async call(name: string, request: unknown) {
        if (name === 'agent.state') return { isolation: 'none', protocol: 1, instances: [], ...(held.length ? { certificates: held } : {}) };
        if (name === 'machine.desired') return { accepted: true };
        if (name === 'tls.put') {
          puts.push(request as Put);
          held = (request as Put).certificates.map((c) => {
            const x = new X509Certificate(c.cert);
            return { hosts: c.hosts, fingerprint: x.fingerprint256.replaceAll(':', '').toLowerCase(), notAfter: new Date(x.validTo).toISOString(), isDefault: c.isDefault, source: 'server' };
          });
          return { certificates: held };
        }
        throw new Error(`unexpected ${name}`);
      },
    },
  };
}

test('each machine gets the certificates of the hosts it serves, at once on a change, and its acknowledgement is listed', async () => {
  const store = createMemoryStore();
  await store.insertInstance(testInstance({ name: 'shop', hosts: ['a.test'], placement: { machines: ['m1', 'm2'] } }));
  await store.insertInstance(testInstance({ name: 'blog', hosts: ['b.test', 'x.c.test'], placement: { machines: ['m2'] } }));
  await store.insertInstance(testInstance({ name: 'intranet', hosts: ['intra'], placement: { machines: ['m3'] } }));
  const ring = new Map([['k1', randomBytes(32)]]);
  const deps = { store, clock: systemClock, keyRing: () => ring };
  for (const [host, pair] of [['a.test', pairs.a!], ['b.test', pairs.b!], ['*.c.test', pairs.wild!]] as const) await setEdgeCertificate(deps, { host, ...pair }, testActor('admin'));

  const machines = { m1: fakeSession('m1'), m2: fakeSession('m2'), m3: fakeSession('m3') };
  const link = {
    sessionOf: (m: string) => machines[m as keyof typeof machines]?.session,
    connected: () => Object.keys(machines),
    lostAt: () => undefined,
  } as unknown as AgentLink;
  const fleet = createFleetRuntime({ store, clock: systemClock, log: silentLogger, link: () => link, localRollbacks: { rollbackWindowMs: 60_000, lockTtlMs: 10_000 }, keyRing: () => ring });
  try {
    await fleet.syncAll();
    const hostsOf = (put: Put | undefined) => put?.certificates.map((c) => c.hosts.join(',')).sort();
    assert.deepEqual(hostsOf(machines.m1.puts.at(-1)), ['a.test']);
    assert.deepEqual(hostsOf(machines.m2.puts.at(-1)), ['*.c.test', 'a.test', 'b.test']);
    assert.equal(machines.m3.puts.length, 0, 'a machine serving none of the hosts gets nothing');
    assert.equal(machines.m2.puts.at(-1)!.certificates.find((c) => c.hosts[0] === 'b.test')!.key, pairs.b!.key, 'the key opened for the session');

    let listed = await listEdgeCertificateViews(deps);
    assert.deepEqual(listed.map((c) => [c.host, c.machines, c.holding]), [
      ['*.c.test', ['m2'], ['m2']],
      ['a.test', ['m1', 'm2'], ['m1', 'm2']],
      ['b.test', ['m2'], ['m2']],
    ]);

    // Nothing changed: the next sync sends no certificates again.
    const before = machines.m2.puts.length;
    await fleet.syncAll();
    assert.equal(machines.m2.puts.length, before);

    // A removal and a host moving reach the machines at once (not at the next sync).
    await removeEdgeCertificate(deps, 'b.test', testActor('admin'));
    await store.updateInstanceSpecs([{ name: 'intranet', hosts: ['intra', 'y.c.test'] }], Date.now(), []);
    fleet.desiredChanged();
    await waitFor('m2 without b.test, m3 with the wildcard', () => hostsOf(machines.m2.puts.at(-1))?.join() === '*.c.test,a.test' && hostsOf(machines.m3.puts.at(-1))?.join() === '*.c.test');
    listed = await listEdgeCertificateViews(deps);
    assert.deepEqual(listed.map((c) => [c.host, c.machines]), [['*.c.test', ['m2', 'm3']], ['a.test', ['m1', 'm2']]]);
  } finally {
    fleet.stop();
  }
});
