import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './duration.ts';

test('parseDuration reads units and bare milliseconds', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('1.5m'), 90_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('14d'), 14 * 86_400_000);
  assert.equal(parseDuration('300'), 300);
  assert.equal(parseDuration(42), 42);
});

test('parseDuration refuses what it cannot read', () => {
  assert.equal(parseDuration('five seconds'), undefined);
  assert.equal(parseDuration('-1s'), undefined);
  assert.equal(parseDuration(-5), undefined);
  assert.equal(parseDuration('5 weeks'), undefined);
});

test('what a person types needs a unit, except zero', async () => {
  const { bareDurationHint, isBareDuration, parseDurationWithUnit } = await import('./duration.ts');
  assert.equal(parseDurationWithUnit('30s'), 30_000);
  assert.equal(parseDurationWithUnit('250ms'), 250);
  assert.equal(parseDurationWithUnit('0'), 0);
  assert.equal(parseDurationWithUnit(0), 0);
  assert.equal(parseDurationWithUnit('30'), undefined);
  assert.equal(parseDurationWithUnit(30), undefined);
  assert.equal(parseDurationWithUnit('1.5'), undefined);
  assert.ok(isBareDuration(' 5 '));
  assert.ok(!isBareDuration('5s'));
  assert.equal(bareDurationHint('30'), '"30" has no unit; write 30s or 30ms');
});
