import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cutover, cutoverText, freePort, manifest, startProcess, tempDir } from './helpers.ts';

/**
 * The control plane through the real CLI against a real `cutover server`: release diff, channels
 * and their promotion policy, problems, targets one by one and in bulk, the audit log, tokens.
 * No agent: nothing here deploys, so instances only carry targets.
 */
let data: Awaited<ReturnType<typeof tempDir>>;
let server: Awaited<ReturnType<typeof startProcess>>;
let api: string;

const DAY = 86_400_000;
const codes = (failures: { code: string }[]) => failures.map((f) => f.code).sort();

before(async () => {
  data = await tempDir('control');
  server = await startProcess(data.dir, ['server', '--api-port', String(await freePort())]);
  api = server.info.api;
  const releases: Record<string, string> = {
    '1.0.0': 'components:\n  - name: web\n    version: 1.0.0\n  - name: worker\n    version: 2.0.0\nfeatures:\n  - key: greeting\n    title: Greets the visitor\nnotes: First release.\n',
    '1.1.0':
      'components:\n  - name: web\n    version: 1.1.0\n  - name: worker\n    version: 2.0.0\nfeatures:\n  - key: greeting\n    title: Greets the visitor\n  - key: warm-greeting\n    title: Greets returning visitors warmly\nmigrations:\n  - id: 0001-visits\nnotes: A warmer greeting.\n',
    '1.2.0':
      'components:\n  - name: web\n    version: 1.2.0\n  - name: worker\n    version: 2.1.0\nfeatures:\n  - key: greeting\n    title: Greets the visitor by name\n  - key: warm-greeting\n    title: Greets returning visitors warmly\nmigrations:\n  - id: 0001-visits\n  - id: 0002-names\nnotes: Names.\n',
  };
  for (const [version, extra] of Object.entries(releases)) {
    const r = await cutover(data.dir, ['release', 'publish', await manifest(data.dir, version, extra)]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  }
});

after(async () => {
  await server?.stop();
  await data?.cleanup();
});

test('release diff lists features, components, migrations and the notes in between', async () => {
  const r = await cutover(data.dir, ['release', 'diff', '1.0.0', '1.2.0']);
  assert.equal(r.code, 0, r.stdout);
  assert.equal(r.json.direction, 'upgrade');
  assert.deepEqual(r.json.features.added.map((f: { key: string }) => f.key), ['warm-greeting']);
  assert.deepEqual(r.json.features.changed.map((f: { key: string }) => f.key), ['greeting']);
  assert.deepEqual(r.json.components.changed, [
    { name: 'web', from: '1.0.0', to: '1.2.0' },
    { name: 'worker', from: '2.0.0', to: '2.1.0' },
  ]);
  assert.deepEqual(r.json.migrations, { added: ['0001-visits', '0002-names'], removed: [] });
  assert.deepEqual(r.json.notes.map((n: { version: string }) => n.version), ['1.1.0', '1.2.0']);

  const text = await cutoverText(data.dir, ['release', 'diff', '1.2.0', '1.0.0', '--app', 'hello']);
  assert.equal(text.code, 0, text.stderr);
  for (const line of ['hello 1.2.0 → 1.0.0 (downgrade)', '- warm-greeting', '~ web 1.2.0 → 1.0.0', '- 0002-names', '1.1.0', 'A warmer greeting.']) {
    assert.ok(text.stdout.includes(line), `shows "${line}" in:\n${text.stdout}`);
  }
  const missing = await cutover(data.dir, ['release', 'diff', '1.0.0', '9.9.9']);
  assert.equal(missing.code, 3);
  assert.equal(missing.json.error.code, 'RELEASE_NOT_FOUND');
});

test('promotion: allowed on an open channel, refused by the stable soak with the eligible date', async () => {
  const toRelease = await cutover(data.dir, ['channel', 'promote', '1.2.0', 'release', '--reason', 'release candidate']);
  assert.equal(toRelease.code, 0, toRelease.stdout);
  assert.equal(toRelease.json.changed, true);
  assert.equal(toRelease.json.move.toVersion, '1.2.0');
  const again = await cutover(data.dir, ['channel', 'promote', '1.2.0', 'release']);
  assert.equal(again.json.changed, false, 'promoting to where it already points changes nothing');

  const startedAt = Date.now();
  const refused = await cutover(data.dir, ['channel', 'promote', '1.2.0', 'stable']);
  assert.equal(refused.code, 8);
  assert.equal(refused.json.error.code, 'POLICY_SOAK_NOT_MET');
  assert.match(refused.json.error.message, /^POLICY_SOAK_NOT_MET: 0 days of 14 on release; eligible \d{4}-\d\d-\d\dT\d\d:\d\dZ$/);
  const eligibleAt = Date.parse(refused.json.error.details.eligibleAt as string);
  assert.ok(Math.abs(eligibleAt - (startedAt + 14 * DAY)) < 60_000, 'eligible 14 days after it reached release');

  const text = await cutoverText(data.dir, ['channel', 'promote', '1.2.0', 'stable']);
  assert.equal(text.code, 8);
  assert.match(text.stderr, /refused: POLICY_SOAK_NOT_MET: 0 days of 14 on release; eligible \d{4}-\d\d-\d\dT\d\d:\d\dZ/);

  const check = await cutover(data.dir, ['channel', 'check', '1.2.0', 'stable']);
  assert.equal(check.code, 8, 'check exits 8 when the promotion would be refused');
  assert.deepEqual(codes(check.json.error.details.failures), ['POLICY_SOAK_NOT_MET']);
  const ok = await cutover(data.dir, ['channel', 'check', '1.2.0', 'beta']);
  assert.equal(ok.code, 0);
  assert.equal(ok.json.verdict.allowed, true);

  const stable = await cutover(data.dir, ['channel', 'show', 'stable']);
  assert.deepEqual(stable.json.pointers, [], 'a refusal moves nothing');
});

test('an open problem blocks a gated channel; resolving it unblocks that rule', async () => {
  const created = await cutover(data.dir, ['channel', 'create', 'gated', '--block-on-problems', '--no-allow-prerelease', '--description', 'for e2e']);
  assert.equal(created.code, 0, created.stdout);
  assert.deepEqual(created.json.policy, { soak: null, blockOnOpenProblems: true, allowPrerelease: false, autoPromote: false });
  const dup = await cutover(data.dir, ['channel', 'create', 'gated']);
  assert.equal(dup.code, 4);

  const reported = await cutover(data.dir, ['problem', 'report', '1.2.0', 'login loop on Safari', '--details', 'Safari 17 only']);
  assert.equal(reported.code, 0, reported.stdout);
  const id = reported.json.id as number;
  assert.equal(reported.json.status, 'open');

  const open = await cutover(data.dir, ['problem', 'list', '--open', '--version', '1.2.0']);
  assert.deepEqual(open.json.items.map((p: { id: number }) => p.id), [id]);

  const blocked = await cutover(data.dir, ['channel', 'promote', '1.2.0', 'gated']);
  assert.equal(blocked.code, 8);
  assert.equal(blocked.json.error.code, 'POLICY_OPEN_PROBLEMS');
  assert.equal(blocked.json.error.message, `POLICY_OPEN_PROBLEMS: #${id} "login loop on Safari"`);
  const stable = await cutover(data.dir, ['channel', 'check', '1.2.0', 'stable']);
  assert.deepEqual(codes(stable.json.error.details.failures), ['POLICY_OPEN_PROBLEMS', 'POLICY_SOAK_NOT_MET'], 'stable names every failed rule');

  const resolved = await cutover(data.dir, ['problem', 'resolve', String(id), '--reason', 'fixed in the CSS']);
  assert.equal(resolved.code, 0, resolved.stdout);
  assert.equal(resolved.json.status, 'resolved');
  const twice = await cutover(data.dir, ['problem', 'resolve', `#${id}`]);
  assert.equal(twice.code, 4);
  assert.equal(twice.json.error.code, 'PROBLEM_RESOLVED');
  const shown = await cutover(data.dir, ['problem', 'show', String(id)]);
  assert.equal(shown.json.resolution, 'fixed in the CSS');
  assert.deepEqual((await cutover(data.dir, ['problem', 'list', '--open'])).json, { items: [], next: null });

  const stableAfter = await cutover(data.dir, ['channel', 'check', '1.2.0', 'stable']);
  assert.deepEqual(codes(stableAfter.json.error.details.failures), ['POLICY_SOAK_NOT_MET'], 'only the soak is left');
  const promoted = await cutover(data.dir, ['channel', 'promote', '1.2.0', 'gated']);
  assert.equal(promoted.code, 0, promoted.stdout);

  const patched = await cutover(data.dir, ['channel', 'policy', 'gated', '--soak-on', 'beta', '--soak-days', '2', '--reason', 'e2e']);
  assert.equal(patched.code, 0, patched.stdout);
  assert.deepEqual(patched.json.policy, { soak: { channel: 'beta', days: 2 }, blockOnOpenProblems: true, allowPrerelease: false, autoPromote: false });
  const days = await cutover(data.dir, ['channel', 'policy', 'gated', '--soak-days', '3', '--no-block-on-problems']);
  assert.deepEqual(days.json.policy, { soak: { channel: 'beta', days: 3 }, blockOnOpenProblems: false, allowPrerelease: false, autoPromote: false }, 'the soak channel is kept');
  const noSoak = await cutover(data.dir, ['channel', 'policy', 'gated', '--no-soak']);
  assert.equal(noSoak.json.policy.soak, null);
  const nothing = await cutover(data.dir, ['channel', 'policy', 'gated']);
  assert.equal(nothing.code, 2);
});

test('--force needs --reason before anything is sent; an admin override is audited', async () => {
  const noReason = await cutover(data.dir, ['channel', 'promote', '1.2.0', 'stable', '--force']);
  assert.equal(noReason.code, 2);
  assert.equal(noReason.json.error.code, 'VALIDATION_FAILED');
  assert.match(noReason.json.error.message, /--reason/);

  const deployer = await cutover(data.dir, ['token', 'create', 'ci', '--role', 'deployer']);
  assert.equal(deployer.code, 0, deployer.stdout);
  const asDeployer = { CUTOVER_URL: api, CUTOVER_TOKEN: deployer.json.token as string };
  const notAdmin = await cutover(data.dir, ['channel', 'promote', '1.2.0', 'stable', '--force', '--reason', 'hotfix'], asDeployer);
  assert.equal(notAdmin.code, 5, 'only an admin may override');
  assert.equal(notAdmin.json.error.code, 'FORBIDDEN');

  const forced = await cutover(data.dir, ['channel', 'promote', '1.2.0', 'stable', '--force', '--reason', 'security fix, cannot wait']);
  assert.equal(forced.code, 0, forced.stdout);
  assert.equal(forced.json.forced, true);
  const stable = await cutoverText(data.dir, ['channel', 'show', 'stable']);
  assert.match(stable.stdout, /hello\s+- → 1\.2\.0\s+admin\s+security fix, cannot wait\s+FORCED/);

  const audit = await cutover(data.dir, ['audit', '--action', 'channel.promote.forced']);
  assert.equal(audit.code, 0, audit.stdout);
  assert.equal(audit.json.items.length, 1);
  assert.equal(audit.json.items[0].subject, 'stable');
  assert.equal(audit.json.items[0].reason, 'security fix, cannot wait');
  assert.equal(audit.json.items[0].actor, 'admin');
  assert.deepEqual(codes(audit.json.items[0].details.overridden), ['POLICY_SOAK_NOT_MET']);
});

test('targets: one instance, and in bulk with a preview that needs --yes', async () => {
  const create = (name: string, ...extra: string[]) => cutover(data.dir, ['instance', 'create', name, '--app', 'hello', '--host', `${name}.test`, ...extra]);
  for (const r of await Promise.all([
    create('acme-live', '--tenant', 'acme', '--target-version', '1.0.0'),
    create('acme-test', '--environment', 'test', '--tenant', 'acme', '--label', 'region=eu', '--label', 'tier=gold'),
    create('beta-test', '--environment', 'test', '--tenant', 'betaco', '--target-channel', 'release'),
  ])) {
    assert.equal(r.code, 0, r.stdout);
  }
  const both = await create('bad', '--target-version', '1.0.0', '--target-channel', 'beta');
  assert.equal(both.code, 2, 'a version and a channel target are exclusive');
  const shown = await cutover(data.dir, ['instance', 'show', 'acme-test']);
  assert.deepEqual(shown.json.labels, { region: 'eu', tier: 'gold' });
  assert.deepEqual(shown.json.resolvedTarget, { kind: 'none' });

  assert.equal((await cutover(data.dir, ['channel', 'promote', '1.1.0', 'beta'])).code, 0);
  const one = await cutover(data.dir, ['instance', 'target', 'acme-live', '--channel', 'stable', '--reason', 'follow stable']);
  assert.equal(one.code, 0, one.stdout);
  assert.deepEqual(one.json.resolvedTarget, { kind: 'channel', channel: 'stable', version: '1.2.0', onTarget: false });

  const targets = async () => (await cutover(data.dir, ['instance', 'list', '--all'])).json.items.map((i: { name: string; target: unknown }) => [i.name, i.target]);
  const before = await targets();
  const refused = await cutoverText(data.dir, ['instance', 'target', '--selector', 'environment=test', '--channel', 'beta']);
  assert.equal(refused.code, 2, 'no terminal and no --yes: refused');
  assert.match(refused.stdout, /2 instance\(s\) will change \(2 matched "environment=test"\)/);
  assert.match(refused.stdout, /acme-test\s+test\s+acme\s+- → channel:beta/);
  assert.match(refused.stderr, /add --yes/);
  const plan = await cutover(data.dir, ['instance', 'target', '--selector', 'environment=test', '--channel', 'beta']);
  assert.equal(plan.code, 0, '--json without --yes prints the plan');
  assert.equal(plan.json.applied, false);
  assert.deepEqual(plan.json.changes.map((c: { name: string }) => c.name).sort(), ['acme-test', 'beta-test']);
  assert.deepEqual(await targets(), before, 'nothing changed without --yes');

  const applied = await cutover(data.dir, ['instance', 'target', '--selector', 'environment=test', '--channel', 'beta', '--yes', '--reason', 'test sites on beta']);
  assert.equal(applied.code, 0, applied.stdout);
  assert.equal(applied.json.applied, true);
  const tests = await cutover(data.dir, ['instance', 'list', '--selector', 'environment=test']);
  assert.deepEqual(
    tests.json.items.map((i: { name: string; resolvedTarget: unknown }) => [i.name, i.resolvedTarget]),
    [
      ['acme-test', { kind: 'channel', channel: 'beta', version: '1.1.0', onTarget: false }],
      ['beta-test', { kind: 'channel', channel: 'beta', version: '1.1.0', onTarget: false }],
    ],
  );

  const page = await cutover(data.dir, ['instance', 'list', '--limit', '2']);
  assert.deepEqual([page.json.items.length, page.json.next], [2, 'acme-test']);
  const rest = await cutover(data.dir, ['instance', 'list', '--limit', '2', '--cursor', 'acme-test']);
  assert.deepEqual(rest.json.items.map((i: { name: string }) => i.name), ['beta-test']);
  const older = await cutover(data.dir, ['instance', 'list', '--limit', '2', '--after', 'acme-test']);
  assert.deepEqual(older.json, rest.json, '--after, the older name of --cursor, still pages');
  const all = await cutover(data.dir, ['instance', 'list', '--limit', '1', '--all']);
  assert.deepEqual(all.json.items.map((i: { name: string }) => i.name), ['acme-live', 'acme-test', 'beta-test']);
  const text = await cutoverText(data.dir, ['instance', 'list']);
  assert.match(text.stdout, /acme-test\s+hello\s+test\s+acme\s+channel:beta → 1\.1\.0\s+-\s+no/);

  const history = await cutover(data.dir, ['audit', '--instance', 'acme-test']);
  assert.ok(history.json.items.length >= 2, 'create and retarget');
  assert.ok(history.json.items.every((e: { instance: string }) => e.instance === 'acme-test'), 'only entries about acme-test');
  const retarget = history.json.items.find((e: { action: string }) => e.action === 'instance.target');
  assert.deepEqual([retarget.before, retarget.after, retarget.reason], [{ target: null }, { target: { channel: 'beta' } }, 'test sites on beta']);
});

test('audit filters by time and verify reports an intact chain', async () => {
  const recent = await cutover(data.dir, ['audit', '--since', '1h', '--limit', '5']);
  assert.equal(recent.code, 0, recent.stdout);
  assert.equal(recent.json.items.length, 5);
  // A full page has a `next`; --cursor NEXT reads the entries before it.
  const page1 = await cutover(data.dir, ['audit', '--limit', '2']);
  assert.equal(typeof page1.json.next, 'string');
  const page2 = await cutover(data.dir, ['audit', '--limit', '2', '--cursor', page1.json.next]);
  assert.deepEqual(
    [...page1.json.items, ...page2.json.items].map((e: { id: number }) => e.id),
    (await cutover(data.dir, ['audit', '--limit', '4'])).json.items.map((e: { id: number }) => e.id),
  );
  assert.match((await cutoverText(data.dir, ['audit', '--limit', '2'])).stdout, new RegExp(`more: add --cursor ${page1.json.next}`));
  const future = await cutover(data.dir, ['audit', '--since', new Date(Date.now() + DAY).toISOString()]);
  assert.deepEqual(future.json, { items: [], next: null });
  const bad = await cutover(data.dir, ['audit', '--since', 'yesterday']);
  assert.equal(bad.code, 2);

  const verify = await cutover(data.dir, ['audit', 'verify']);
  assert.equal(verify.code, 0, verify.stdout);
  assert.equal(verify.json.ok, true);
  assert.ok(verify.json.checked > 10);
  const text = await cutoverText(data.dir, ['audit', 'verify']);
  assert.match(text.stdout, /^audit log intact: \d+ entries, last #\d+ hash [0-9a-f]+/);
});

test('tokens: a viewer reads but cannot change; a revoked token stops working', async () => {
  const created = await cutover(data.dir, ['token', 'create', 'watcher', '--role', 'viewer']);
  assert.equal(created.code, 0, created.stdout);
  assert.match(created.json.token, /^cut_/);
  const viewer = { CUTOVER_URL: api, CUTOVER_TOKEN: created.json.token as string };

  assert.equal((await cutover(data.dir, ['channel', 'list'], viewer)).code, 0, 'a viewer reads');
  const report = await cutover(data.dir, ['problem', 'report', '1.1.0', 'should not be filed'], viewer);
  assert.equal(report.code, 5);
  assert.equal(report.json.error.code, 'FORBIDDEN');
  const retarget = await cutover(data.dir, ['instance', 'target', 'acme-live', '--version', '1.0.0'], viewer);
  assert.equal(retarget.code, 5);
  assert.equal((await cutover(data.dir, ['token', 'list'], viewer)).code, 5, 'listing tokens needs admin');

  const list = await cutover(data.dir, ['token', 'list']);
  const watcher = list.json.items.find((t: { name: string }) => t.name === 'watcher');
  assert.deepEqual([watcher.role, watcher.token, watcher.hash], ['viewer', undefined, undefined], 'never the token or its hash');
  const badRole = await cutover(data.dir, ['token', 'create', 'x', '--role', 'root']);
  assert.equal(badRole.code, 2);

  const revoked = await cutover(data.dir, ['token', 'revoke', 'watcher']);
  assert.equal(revoked.code, 0, revoked.stdout);
  const after = await cutover(data.dir, ['channel', 'list'], viewer);
  assert.equal(after.code, 5);
  assert.equal(after.json.error.code, 'UNAUTHORIZED');
  const audit = await cutover(data.dir, ['audit', '--action', 'token.revoke']);
  assert.equal(audit.json.items[0].subject, 'token:watcher');
});
