import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failuresBetween, flipReport, machineFlip, versionsSince } from './probe-analysis.ts';
import type { MachineProbes, ProbeSample } from './probe-analysis.ts';

/** A 200 sent at `at` and answered 0.5 ms later by `version`. */
const ok = (at: number, version: string): ProbeSample => ({ sentAt: at, answeredAt: at + 0.5, status: 200, version });
const failed = (at: number, status = 0): ProbeSample => ({ sentAt: at, answeredAt: at + 1, status, version: status ? '' : 'ECONNREFUSED' });
/** A machine whose router answers `from` before `flipAt` and `to` from then on, a probe every ms in [0, 20). */
const flipping = (machine: string, flipAt: number, from = '1.0.0', to = '2.0.0'): MachineProbes => ({
  machine,
  skipped: 0,
  samples: Array.from({ length: 20 }, (_, t) => ok(t, t < flipAt ? from : to)),
});

test('a machine flip: the first new answer, the last old request before it, no flip back', () => {
  const flip = machineFlip(flipping('web-1', 7), '2.0.0');
  assert.equal(flip.firstNewAt, 7.5);
  assert.equal(flip.lastOldSentAt, 6);
  assert.equal(flip.oldAfterNew, 0);
  assert.equal(flip.lastVersion, '2.0.0');
  assert.equal(flip.ok, 20);
  assert.deepEqual(flip.failed, []);
});

test('samples out of order are read by send time; a flip back is counted', () => {
  const samples = [ok(5, '2.0.0'), ok(1, '1.0.0'), ok(9, '1.0.0'), ok(3, '2.0.0'), failed(4, 502)];
  const flip = machineFlip({ machine: 'web-1', skipped: 0, samples }, '2.0.0');
  assert.equal(flip.firstNewAt, 3.5);
  assert.equal(flip.lastOldSentAt, 1);
  assert.equal(flip.oldAfterNew, 1, 'the 1.0.0 answer to the request sent at 9 came after 2.0.0 had answered');
  assert.equal(flip.lastVersion, '1.0.0');
  assert.deepEqual(flip.failed.map((s) => s.status), [502]);
});

test('skew is the first new answer on the last machine minus that on the first', () => {
  const report = flipReport([flipping('web-1', 4), flipping('web-2', 12), flipping('web-3', 6)], '2.0.0');
  assert.equal(report.skewMs, 8);
  assert.deepEqual(report.missing, []);
  assert.deepEqual(report.machines.map((m) => m.firstNewAt), [4.5, 12.5, 6.5]);
});

test('a machine that never answered new leaves the skew unknown and is named', () => {
  const report = flipReport([flipping('web-1', 4), flipping('web-2', 99)], '2.0.0');
  assert.equal(report.skewMs, null);
  assert.deepEqual(report.missing, ['web-2']);
  assert.equal(flipReport([], '2.0.0').skewMs, null);
});

test('one machine: no skew', () => {
  assert.equal(flipReport([flipping('web-1', 3)], '2.0.0').skewMs, 0);
});

test('a run too long for Math.min(...xs) is still read', () => {
  const samples = Array.from({ length: 300_000 }, (_, t) => ok(t, t < 150_000 ? '1.0.0' : '2.0.0'));
  assert.equal(machineFlip({ machine: 'web-1', skipped: 0, samples }, '2.0.0').firstNewAt, 150_000.5);
});

test('versions since a moment: the last 200 of each machine sent from then on', () => {
  const a = flipping('web-1', 4);
  const b: MachineProbes = { machine: 'web-2', skipped: 0, samples: [ok(1, '2.0.0'), failed(15), ok(12, '1.0.0')] };
  assert.deepEqual(versionsSince([a, b], 10), { 'web-1': '2.0.0', 'web-2': '1.0.0' });
  assert.deepEqual(versionsSince([a, b], 13), { 'web-1': '2.0.0', 'web-2': '' });
});

test('failures between two moments, by send time', () => {
  const p: MachineProbes = { machine: 'web-1', skipped: 0, samples: [failed(1), ok(2, '1.0.0'), failed(5, 503), failed(9)] };
  assert.deepEqual(failuresBetween(p, 2, 9).map((s) => s.sentAt), [5]);
  assert.deepEqual(failuresBetween(p, 0).map((s) => s.sentAt), [1, 5, 9]);
});
