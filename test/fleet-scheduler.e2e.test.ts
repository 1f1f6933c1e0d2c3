import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, silentLogger } from '../src/shared/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { startServer } from '../src/main.ts';
import type { RunningServer } from '../src/main.ts';
import { cutover, freePort, manifest, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * The fleet scheduler with a real agent, real slot processes, the real API and CLI, and a manual
 * clock in the server (windows, waves, backoff and the failure budget are all about time):
 * a version promoted to `release` reaches the test sites in their window, then the live sites;
 * a version that fails its health check on the test sites halts at the budget, files a problem and
 * never reaches the live sites; a held instance stays put throughout.
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let agent: Awaited<ReturnType<typeof startProcess>>;
let server: RunningServer;
// 2026-11-23 12:00 UTC: outside the nightly windows below.
const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));

const cli = (args: string[]) => cutover(data.dir, args);
async function ok(args: string[]) {
  const r = await cli(args);
  assert.equal(r.code, 0, `cutover ${args.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.json;
}
const current = async (name: string) => (await ok(['instance', 'show', name])).currentVersion as string | null;
const settle = () => waitFor('deployments to finish', async () => ((await ok(['instance', 'list'])).items as { name: string }[]).length > 0 && (await noneRunning()), 30_000);
async function noneRunning(): Promise<boolean> {
  for (const name of ['t1', 't2', 'l1', 'l2']) {
    const d = (await ok(['instance', 'show', name])).lastDeployment as { status: string } | null;
    if (d?.status === 'running') return false;
  }
  return true;
}

before(async () => {
  data = await tempDir('fleet');
  agent = await startProcess(data.dir, ['agent', '--http-port', String(await freePort())]);
  const config = await loadConfig({
    defaults: { dataDir: data.dir, apiPort: await freePort(), fleetInterval: '1h', logLevel: 'silent' },
    env: {},
    flags: {},
  });
  server = await startServer(config, silentLogger, { clock });
  for (const [version, extra] of [
    ['1.0.0', ''],
    ['1.1.0', ''],
    ['1.2.0', 'deployTimeout: 1500ms\nenv:\n  FAIL_HEALTH: "1"\n'],
  ] as const) {
    await ok(['release', 'publish', await manifest(data.dir, version, extra)]);
  }
  await ok(['fleet', 'policy', '--waves', 'test:2,production', '--window', 'test=daily 01:00-05:00 Europe/London', '--window', 'production=daily 02:00-05:00 Europe/London', '--budget', '1', '--retries', '3', '--backoff', '10m']);
  for (const [name, env] of [['t1', 'test'], ['t2', 'test'], ['l1', 'production'], ['l2', 'production']] as const) {
    await ok(['instance', 'create', name, '--app', 'hello', '--host', `${name}.example.test`, '--environment', env, '--target-channel', 'release']);
  }
});

after(async () => {
  await server?.stop();
  await agent?.stop();
  await data?.cleanup();
});

test('versions reach test sites, then live sites, in their windows; a failing one halts at the budget; a held instance stays put', async () => {
  await ok(['channel', 'promote', '1.0.0', 'release']);
  // Outside every window: nothing moves, and `why` says when it will.
  let tick = await ok(['fleet', 'tick']);
  assert.deepEqual(tick.started, []);
  const why = await ok(['why', 't1']);
  assert.equal(why.decision.kind, 'waiting-window');
  assert.match(why.why, /01:00 Europe\/London/);
  assert.equal(why.when, '2026-11-24T01:00:00.000Z');

  // 01:30 London: the test window is open, the production one is not yet.
  clock.set(Date.parse('2026-11-24T01:30:00Z'));
  tick = await ok(['fleet', 'tick']);
  assert.deepEqual(tick.started.map((s: { instance: string }) => s.instance).sort(), ['t1', 't2']);
  await settle();
  assert.equal(await current('t1'), '1.0.0');
  assert.equal(await current('t2'), '1.0.0');
  assert.equal((await ok(['why', 'l1'])).decision.kind, 'waiting-window');

  // Hold l2 before the live window opens.
  await ok(['hold', 'l2', '--reason', 'customer data migration this week']);
  clock.set(Date.parse('2026-11-24T02:10:00Z'));
  tick = await ok(['fleet', 'tick']);
  assert.deepEqual(tick.started.map((s: { instance: string }) => s.instance), ['l1']);
  await settle();
  assert.equal(await current('l1'), '1.0.0');
  assert.equal(await current('l2'), null, 'the held instance stays put');
  assert.match((await ok(['why', 'l2'])).why, /held by admin/);

  // 1.1.0: test sites first; live sites wait for the test wave (2 successes), then follow.
  await ok(['channel', 'promote', '1.1.0', 'release']);
  clock.set(Date.parse('2026-11-25T02:10:00Z'));
  const plan = await ok(['plan']);
  const byName = new Map(plan.entries.map((e: { instance: string }) => [e.instance, e]));
  assert.equal((byName.get('t1') as { decision: { kind: string } }).decision.kind, 'upgrade');
  assert.equal((byName.get('l1') as { decision: { kind: string } }).decision.kind, 'waiting-wave');
  assert.equal((byName.get('l2') as { decision: { kind: string } }).decision.kind, 'held');
  tick = await ok(['fleet', 'tick']);
  assert.deepEqual(tick.started.map((s: { instance: string }) => s.instance).sort(), ['t1', 't2']);
  await settle();
  tick = await ok(['fleet', 'tick']);
  assert.deepEqual(tick.started.map((s: { instance: string }) => s.instance), ['l1']);
  await settle();
  assert.equal(await current('l1'), '1.1.0');
  assert.equal(await current('l2'), null);

  // 1.2.0 fails its health check on the test sites: both fail, the budget (more than 1) halts it.
  await ok(['channel', 'promote', '1.2.0', 'release']);
  clock.set(Date.parse('2026-11-26T02:10:00Z'));
  tick = await ok(['fleet', 'tick']);
  assert.deepEqual(tick.started.map((s: { instance: string }) => s.instance).sort(), ['t1', 't2']);
  await settle();
  assert.equal(await current('t1'), '1.1.0', 'a failed upgrade leaves the old release serving');
  tick = await ok(['fleet', 'tick']);
  assert.deepEqual(tick.halted.map((h: { version: string }) => h.version), ['1.2.0']);
  assert.deepEqual(tick.started, []);
  const problems = await ok(['problem', 'list', '--open']);
  assert.ok(problems.items.some((p: { version: string; source: string }) => p.version === '1.2.0' && p.source === 'scheduler'), JSON.stringify(problems));
  const l1 = await ok(['why', 'l1']);
  assert.equal(l1.decision.kind, 'halted');
  assert.match(l1.why, /halted/);
  // Later ticks, even after the retry backoff, never take 1.2.0 anywhere.
  clock.advance(3_600_000);
  tick = await ok(['fleet', 'tick']);
  assert.deepEqual(tick.started, []);
  assert.equal(await current('l1'), '1.1.0');
  assert.equal(await current('l2'), null);
  const halts = (await ok(['fleet', 'show'])).halts;
  assert.equal(halts.length, 1);
  const audit = await ok(['audit', '--action', 'fleet.halt']);
  assert.equal(audit.items.length, 1);

  // Releasing the hold makes l2 subject to the scheduler again: now it is the halt that stops it.
  const noReason = await cli(['hold', 'l2']);
  assert.equal(noReason.code, 2, 'a hold needs a reason');
  await ok(['hold', 'l2', '--release', '--reason', 'migration done']);
  assert.equal((await ok(['why', 'l2'])).decision.kind, 'halted');
  assert.deepEqual(await ok(['holds']), { items: [], next: null });
});

test('fleet policy: --max-parallel-per-machine; the old --max-parallel-per-host works with a warning on stderr, stdout stays the policy', async () => {
  const old = await cli(['fleet', 'policy', '--max-parallel-per-host', '1']);
  assert.equal(old.code, 0, old.stderr);
  assert.equal(old.json.maxParallelPerMachine, 1);
  assert.equal('maxParallelPerHost' in old.json, false);
  assert.equal('warnings' in old.json, false, 'stdout is the policy; warnings go to stderr');
  assert.match(old.stderr, /^warning: --max-parallel-per-host is deprecated: use --max-parallel-per-machine/m);

  const both = await cli(['fleet', 'policy', '--max-parallel-per-host', '1', '--max-parallel-per-machine', '3']);
  assert.equal(both.code, 2, both.stdout);
  assert.match(both.json.error.message, /--max-parallel-per-host 1 and --max-parallel-per-machine 3 disagree/);
  assert.equal((await ok(['fleet', 'show'])).policy.maxParallelPerMachine, 1, 'a refused change changes nothing');

  const now = await cli(['fleet', 'policy', '--max-parallel-per-machine', '2']);
  assert.equal(now.code, 0, now.stderr);
  assert.equal(now.json.maxParallelPerMachine, 2);
  assert.doesNotMatch(now.stderr, /warning/);
});
