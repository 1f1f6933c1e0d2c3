import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cutover, cutoverText, load, manifest, portFlags, ports, startProcess, tempDir } from './helpers.ts';
import type { LoadResult } from './helpers.ts';

/**
 * The main job, as a user does it: `cutover up`, publish two releases, deploy, deploy again under
 * load, roll back under load. Zero failed requests; after each flip every new request gets the new version.
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let http: number;

before(async () => {
  data = await tempDir('e2e');
  const p = await ports();
  http = p.http;
  up = await startProcess(data.dir, ['up', ...portFlags(p)]);
});

after(async () => {
  await up?.stop();
  await data?.cleanup();
});

function assertFlipped(result: LoadResult, flippedAt: number, version: string) {
  const late = result.samples.filter((s) => s.sentAt > flippedAt);
  assert.ok(late.length > 0, 'requests were sent after the flip');
  const wrong = late.filter((s) => s.version !== version);
  assert.deepEqual(wrong, [], `every request sent after the flip is answered by ${version}`);
}

test('deploy and roll back under keep-alive load with zero failed requests', async () => {
  assert.ok(up.info.adminToken?.startsWith('cut_'), 'the first start shows the admin token once');
  for (const v of ['1.0.0', '1.1.0']) {
    const r = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, v)]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  }
  const created = await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test']);
  assert.equal(created.code, 0, created.stdout);

  const first = await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.equal(first.json.status, 'succeeded');

  const traffic = load(http, 'web.test', 16);
  await new Promise((r) => setTimeout(r, 300)); // let the load reach steady state on 1.0.0

  const deployed = await cutover(data.dir, ['deploy', 'web', '1.1.0', '--wait']);
  assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
  const flip1 = Date.parse(deployed.json.steps.find((s: { name: string }) => s.name === 'flip').detail.flippedAt as string);
  await new Promise((r) => setTimeout(r, 300));

  const rolledBack = await cutover(data.dir, ['rollback', 'web', '--wait', '--reason', 'e2e']);
  assert.equal(rolledBack.code, 0, rolledBack.stdout + rolledBack.stderr);
  assert.equal(rolledBack.json.strategy, 'flip-to-warm', 'a rollback inside the window is a flip to the warm slot');
  assert.equal(rolledBack.json.toVersion, '1.0.0');
  const flip2 = Date.parse(rolledBack.json.steps.find((s: { name: string }) => s.name === 'flip').detail.flippedAt as string);
  await new Promise((r) => setTimeout(r, 300));

  const result = await traffic.stop();
  assert.deepEqual(result.failed, [], 'zero failed requests');
  assert.ok(result.ok > 200, `enough load (${result.ok} requests)`);
  // Between the flips: a request sent before the second flip may still reach the router after it, so
  // only answers that arrived before it (routed before it, millisecond grain) must be 1.1.0.
  assertFlipped({ ...result, samples: result.samples.filter((s) => s.receivedAt < flip2 - 1) }, flip1, '1.1.0');
  assertFlipped(result, flip2, '1.0.0');
  const before1 = result.samples.filter((s) => s.sentAt < flip1 - 50);
  assert.ok(before1.length > 0 && before1.every((s) => s.version === '1.0.0'), 'before the first flip, 1.0.0 served');

  // A second rollback would go forward again, to the release just rolled back from: refused.
  const again = await cutoverText(data.dir, ['rollback', 'web']);
  assert.equal(again.code, 4, again.stdout + again.stderr);
  assert.match(again.stderr, /ALREADY_ROLLED_BACK.*already rolled back to 1\.0\.0; deploy 1\.1\.0 to go forward/);
  const never = await cutover(data.dir, ['rollback', 'web', '--to', '9.9.9']);
  assert.equal(never.json.error.code, 'VALIDATION_FAILED');
  assert.match(never.json.error.message, /never ran 9\.9\.9/);

  const status = await cutover(data.dir, ['status', 'web']);
  assert.equal(status.code, 0);
  assert.equal(status.json.currentVersion, '1.0.0');
  assert.equal(status.json.runtime.active, status.json.activeColor);
  assert.equal(status.json.slots[status.json.activeColor === 'blue' ? 'green' : 'blue'].status, 'warm');

  // Each line labelled with machine, instance, app@version and colour: text, NDJSON, or bare with --no-prefix.
  const active = status.json.activeColor as string;
  const logs = await cutoverText(data.dir, ['logs', 'web', '--tail', '5']);
  assert.equal(logs.code, 0, logs.stderr);
  // `up` joined its agent as a machine named after this host.
  const machine = up.info.machine as string;
  const label = `${machine} web hello@1.0.0 ${active} | `;
  const lines = logs.stdout.trimEnd().split('\n');
  assert.ok(lines.every((l) => l.startsWith(label)), logs.stdout);
  assert.ok(lines.some((l) => l.includes('hello 1.0.0')), 'logs show the active slot output');
  const json = await cutover(data.dir, ['logs', 'web', '--tail', '5']);
  const entries = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string | null>);
  assert.ok(entries.length > 0 && entries.every((e) => e.machine === machine && e.instance === 'web' && e.app === 'hello' && e.version === '1.0.0' && e.color === active), json.stdout);
  assert.deepEqual(entries.map((e) => e.line), lines.map((l) => l.slice(label.length)));
  const bare = await cutoverText(data.dir, ['logs', 'web', '--tail', '5', '--no-prefix']);
  assert.equal(bare.stdout, entries.map((e) => `${e.line}\n`).join(''));
});

test('deploy --if-needed is a no-op on the version that serves; -o yaml and -o wide print the same records', async () => {
  // After the test above: web serves 1.0.0 (rolled back), 1.1.0 is published.
  const history = await cutover(data.dir, ['history', 'web', '--all']);
  const audit = await cutover(data.dir, ['audit']);
  assert.equal(history.code, 0, history.stdout);

  const noop = await cutover(data.dir, ['deploy', 'web', '1.0.0', '--if-needed']);
  assert.equal(noop.code, 0, noop.stdout);
  assert.deepEqual(noop.json, { instance: 'web', version: '1.0.0', alreadyServes: true, deployment: null });
  const text = await cutoverText(data.dir, ['deploy', 'web', '1.0.0', '--if-needed']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /web already serves 1\.0\.0/);
  assert.equal((await cutover(data.dir, ['history', 'web', '--all'])).json.items.length, history.json.items.length, 'no deployment created');
  assert.equal((await cutover(data.dir, ['audit'])).json.items.length, audit.json.items.length, 'nothing audited');

  // Another version: --if-needed deploys as usual.
  const needed = await cutover(data.dir, ['deploy', 'web', '1.1.0', '--if-needed', '--wait']);
  assert.equal(needed.code, 0, needed.stdout);
  assert.equal(needed.json.toVersion, '1.1.0');
  // The version serves, but its app config changed since its live slot started: --if-needed
  // deploys the same version again with it, then has nothing left to do.
  assert.equal((await cutover(data.dir, ['app-config', 'set', '--instance', 'web', 'IF_NEEDED=1'])).code, 0);
  const pending = await cutover(data.dir, ['deploy', 'web', '1.1.0', '--if-needed', '--wait']);
  assert.equal(pending.code, 0, pending.stdout);
  assert.equal(pending.json.toVersion, '1.1.0');
  assert.notEqual(pending.json.configVersion, needed.json.configVersion);
  assert.equal((await cutover(data.dir, ['deploy', 'web', '1.1.0', '--if-needed'])).json.alreadyServes, true);

  // -o yaml: the --json document as YAML; -o wide: the table with more columns.
  const { parse } = await import('yaml');
  const yaml = await cutoverText(data.dir, ['-o', 'yaml', 'status', 'web']);
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.equal(parse(yaml.stdout).currentVersion, '1.1.0');
  const wide = await cutoverText(data.dir, ['history', 'web', '-o', 'wide']);
  assert.match(wide.stdout.split('\n')[0]!, /^STARTED .* REASON +SLOT +FINISHED +ERROR$/);
  for (const args of [['status'], ['instance', 'list'], ['release', 'list']]) {
    const table = (await cutoverText(data.dir, args)).stdout.split('\n')[0]!;
    const more = (await cutoverText(data.dir, [...args, '-o', 'wide'])).stdout.split('\n')[0]!;
    assert.ok(more.startsWith(table) && more.length > table.length, `-o wide adds columns to ${args.join(' ')}: ${more}`);
  }
  const bad = await cutoverText(data.dir, ['status', '-o', 'xml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Allowed choices are json, yaml, table, wide/);
});
