import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCutoverError } from '../../shared/index.ts';
import { auditTime } from './audit.ts';

const now = Date.parse('2026-11-20T10:00:00.000Z');

test('--since takes a duration ago or an ISO time, and sends ISO', () => {
  assert.equal(auditTime('24h', '--since', now), '2026-11-19T10:00:00.000Z');
  assert.equal(auditTime('7d', '--since', now), '2026-11-13T10:00:00.000Z');
  assert.equal(auditTime('90m', '--since', now), '2026-11-20T08:30:00.000Z');
  assert.equal(auditTime('2026-11-01T12:00:00Z', '--since', now), '2026-11-01T12:00:00.000Z');
  assert.equal(auditTime('2026-11-01', '--since', now), '2026-11-01T00:00:00.000Z');
  assert.equal(auditTime(undefined, '--since', now), undefined);
});

test('anything else is refused naming the flag and the accepted forms', () => {
  for (const bad of ['yesterday', '24', '-1h', '']) {
    assert.throws(
      () => auditTime(bad, '--until', now),
      (e: unknown) => isCutoverError(e) && e.code === 'VALIDATION_FAILED' && e.message.startsWith('--until must be an ISO time') && e.message.includes('24h'),
      bad,
    );
  }
});
