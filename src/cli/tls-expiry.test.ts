import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expiryLines } from './tls-expiry.ts';

test('status warns of each certificate expiring soon, saying what to run', () => {
  const lines = expiryLines([
    { host: 'shop.example.com', notAfter: '2026-12-11T00:00:00.000Z', daysLeft: 5, fingerprint: 'ab' },
    { host: 'old.example.com', notAfter: '2026-12-01T00:00:00.000Z', daysLeft: -5, fingerprint: 'cd' },
    { host: 'one.example.com', notAfter: '2026-12-07T00:00:00.000Z', daysLeft: 1, fingerprint: 'ef' },
  ]).split('\n');
  assert.deepEqual(lines, [
    'warning: the TLS certificate of shop.example.com expires in 5 days (2026-12-11); set a renewed one with `cutover tls set shop.example.com`',
    'warning: the TLS certificate of old.example.com expired on 2026-12-01; set a renewed one with `cutover tls set old.example.com`',
    'warning: the TLS certificate of one.example.com expires in 1 day (2026-12-07); set a renewed one with `cutover tls set one.example.com`',
  ]);
  assert.equal(expiryLines([]), '');
});
