import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { certificatesFor, machinesServing } from './index.ts';

const instances = [
  { hosts: ['shop.example.com'], machines: ['m1', 'm2'] },
  { hosts: ['eu.example.com', 'api.other.org'], machines: ['m2', 'm3'] },
  { hosts: ['intranet'], machines: ['m4'] },
];

describe('machinesServing', () => {
  it('finds the machines of the instances naming the host', () => {
    assert.deepEqual(machinesServing({ host: 'shop.example.com', isDefault: false }, instances), ['m1', 'm2']);
    assert.deepEqual(machinesServing({ host: 'api.other.org', isDefault: false }, instances), ['m2', 'm3']);
  });
  it('a wildcard certificate serves every host it covers', () => {
    assert.deepEqual(machinesServing({ host: '*.example.com', isDefault: false }, instances), ['m1', 'm2', 'm3']);
  });
  it('a host no instance serves goes nowhere; the default goes everywhere', () => {
    assert.deepEqual(machinesServing({ host: 'nobody.example.net', isDefault: false }, instances), []);
    assert.deepEqual(machinesServing({ host: 'nobody.example.net', isDefault: true }, instances), ['m1', 'm2', 'm3', 'm4']);
  });
});

describe('certificatesFor', () => {
  const certs = [
    { host: 'shop.example.com', isDefault: false },
    { host: '*.example.com', isDefault: false },
    { host: 'api.other.org', isDefault: false },
    { host: 'fallback.example.net', isDefault: true },
  ];
  it('gives each machine the certificates of its hosts and the default', () => {
    assert.deepEqual(certificatesFor('m1', certs, instances).map((c) => c.host), ['shop.example.com', '*.example.com', 'fallback.example.net']);
    assert.deepEqual(certificatesFor('m3', certs, instances).map((c) => c.host), ['*.example.com', 'api.other.org', 'fallback.example.net']);
    assert.deepEqual(certificatesFor('m4', certs, instances).map((c) => c.host), ['fallback.example.net']);
    assert.deepEqual(certificatesFor('m9', certs, instances), []);
  });
});
