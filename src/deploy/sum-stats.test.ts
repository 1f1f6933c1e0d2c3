import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ColorStats, InstanceStats } from '../protocol/index.ts';
import { sumStats } from './sum-stats.ts';

const color = (over: Partial<ColorStats>): ColorStats => ({
  color: 'green',
  version: '2.0.0',
  deploymentId: 'd2',
  since: '2026-12-06T07:00:00.000Z',
  requests: 10,
  responses: { '2xx': 9, '5xx': 1 },
  inFlight: 1,
  latency: { bucketsMs: [5, 50], counts: [8, 1, 1], sumMs: 40, count: 10 },
  ...over,
});
const report = (at: string, colors: ColorStats[]): InstanceStats => ({ instance: 'shop', at, active: 'green', colors });

test('counters of one instance sum over its machines, per colour and deployment', () => {
  const sum = sumStats([
    report('2026-12-06T07:00:05.000Z', [color({}), color({ color: 'blue', version: '1.0.0', deploymentId: 'd1', requests: 3, responses: { '2xx': 3 } })]),
    report('2026-12-06T07:00:06.000Z', [color({ since: '2026-12-06T06:59:00.000Z', requests: 5, responses: { '2xx': 4, failed: 1 }, inFlight: 0, latency: { bucketsMs: [5, 50], counts: [5, 0, 0], sumMs: 10, count: 5 } })]),
  ])!;
  assert.equal(sum.at, '2026-12-06T07:00:06.000Z');
  const green = sum.colors.find((c) => c.color === 'green')!;
  assert.deepEqual(
    { requests: green.requests, responses: green.responses, inFlight: green.inFlight, since: green.since, latency: green.latency },
    { requests: 15, responses: { '2xx': 13, '5xx': 1, failed: 1 }, inFlight: 1, since: '2026-12-06T06:59:00.000Z', latency: { bucketsMs: [5, 50], counts: [13, 1, 1], sumMs: 50, count: 15 } },
  );
  assert.equal(sum.colors.find((c) => c.color === 'blue')!.requests, 3);
});

test('a machine still on another deployment of a colour is kept apart; no report, no counters', () => {
  const sum = sumStats([report('a', [color({})]), report('b', [color({ deploymentId: 'd0', version: '1.9.0' })])])!;
  assert.equal(sum.colors.length, 2);
  assert.equal(sumStats([]), undefined);
});
