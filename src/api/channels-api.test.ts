import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY, startHarness } from './test-harness.ts';

test('promotion to stable needs 14 days on release and no open problem; refusals say what is left', async () => {
  const h = await startHarness(Date.parse('2026-11-01T10:00:00Z'));
  try {
    await h.release('1.0.0');
    await h.release('1.1.0');
    const channels = (await h.call('viewer', 'GET', '/api/channels')).body.items.map((c: { name: string }) => c.name);
    assert.deepEqual(channels.sort(), ['alpha', 'beta', 'release', 'stable']);

    const onRelease = await h.call('deployer', 'POST', '/api/channels/release/promote', { version: '1.0.0', reason: 'rc passed' });
    assert.equal(onRelease.status, 200, JSON.stringify(onRelease.body));
    assert.equal(onRelease.body.changed, true);

    h.clock.advance(9 * DAY);
    const early = await h.call('deployer', 'POST', '/api/channels/stable/promote', { version: '1.0.0' });
    assert.equal(early.status, 422);
    assert.equal(early.body.code, 'POLICY_SOAK_NOT_MET');
    assert.equal(early.body.message, 'POLICY_SOAK_NOT_MET: 9 days of 14 on release; eligible 2026-11-15T10:00Z');
    assert.equal(early.body.details.eligibleAt, '2026-11-15T10:00:00.000Z');
    const check = await h.call('viewer', 'GET', '/api/channels/stable/check?version=1.0.0');
    assert.equal(check.body.verdict.allowed, false);

    // A problem blocks too, and both rules are reported.
    const problem = await h.call('deployer', 'POST', '/api/problems', { version: '1.0.0', title: 'login loop on Safari' });
    assert.equal(problem.status, 201);
    const both = await h.call('deployer', 'POST', '/api/channels/stable/promote', { version: '1.0.0' });
    assert.equal(both.body.code, 'POLICY_SOAK_NOT_MET');
    assert.deepEqual(
      both.body.details.failures.map((f: { code: string }) => f.code),
      ['POLICY_SOAK_NOT_MET', 'POLICY_OPEN_PROBLEMS'],
    );

    h.clock.advance(5 * DAY);
    const blocked = await h.call('deployer', 'POST', '/api/channels/stable/promote', { version: '1.0.0' });
    assert.equal(blocked.status, 422);
    assert.equal(blocked.body.code, 'POLICY_OPEN_PROBLEMS');
    assert.equal(blocked.body.message, `POLICY_OPEN_PROBLEMS: #${problem.body.id} "login loop on Safari"`);

    const resolved = await h.call('deployer', 'POST', `/api/problems/${problem.body.id}/resolve`, { reason: 'fixed in the CDN config' });
    assert.equal(resolved.body.status, 'resolved');
    assert.equal((await h.call('deployer', 'POST', `/api/problems/${problem.body.id}/resolve`, {})).body.code, 'PROBLEM_RESOLVED');
    const ok = await h.call('deployer', 'POST', '/api/channels/stable/promote', { version: '1.0.0' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.current, null);
    assert.equal(ok.body.move.toVersion, '1.0.0');
    const again = await h.call('deployer', 'POST', '/api/channels/stable/promote', { version: '1.0.0' });
    assert.equal(again.body.changed, false, 'promoting to where it already points changes nothing');

    const history = (await h.call('viewer', 'GET', '/api/channels/stable')).body.history;
    assert.equal(history.length, 1);
    assert.equal(history[0].actor, 'a-deployer');
  } finally {
    await h.close();
  }
});

test('only an admin overrides the policy, only with a reason, and the override is audited', async () => {
  const h = await startHarness();
  try {
    await h.release('2.0.0');
    const deployer = await h.call('deployer', 'POST', '/api/channels/stable/promote', { version: '2.0.0', force: true, reason: 'hotfix' });
    assert.equal(deployer.status, 403);
    const noReason = await h.call('admin', 'POST', '/api/channels/stable/promote', { version: '2.0.0', force: true });
    assert.equal(noReason.status, 400);
    assert.match(noReason.body.message, /--force needs --reason/);
    assert.equal((await h.call('viewer', 'GET', '/api/channels/stable')).body.pointers.length, 0, 'refusals change nothing');

    const forced = await h.call('admin', 'POST', '/api/channels/stable/promote', { version: '2.0.0', force: true, reason: 'security fix, customers waiting' }, { 'x-request-id': 'req-42' });
    assert.equal(forced.status, 200, JSON.stringify(forced.body));
    assert.equal(forced.body.forced, true);
    assert.equal(forced.headers.get('x-request-id'), 'req-42');
    const [entry] = (await h.call('viewer', 'GET', '/api/audit?action=channel.promote.forced')).body.items;
    assert.equal(entry.actor, 'admin');
    assert.equal(entry.reason, 'security fix, customers waiting');
    assert.equal(entry.requestId, 'req-42');
    assert.deepEqual(entry.before, { version: null });
    assert.deepEqual(entry.after, { version: '2.0.0' });
    assert.deepEqual(entry.details.overridden.map((o: { code: string }) => o.code), ['POLICY_SOAK_NOT_MET']);
  } finally {
    await h.close();
  }
});

test('stable refuses pre-releases; custom channels get their own policy; bad input names the field', async () => {
  const h = await startHarness();
  try {
    await h.release('1.2.0-beta.2');
    const pre = await h.call('deployer', 'POST', '/api/channels/stable/promote', { version: '1.2.0-beta.2' });
    assert.ok(pre.body.details.failures.some((f: { code: string }) => f.code === 'POLICY_PRERELEASE'));
    assert.equal((await h.call('deployer', 'POST', '/api/channels/beta/promote', { version: '1.2.0-beta.2' })).status, 200);

    assert.equal((await h.call('deployer', 'POST', '/api/channels', { name: 'early-access' })).status, 403);
    const created = await h.call('admin', 'POST', '/api/channels', { name: 'early-access', description: 'design partners', policy: { soak: { channel: 'beta', days: 2 } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await h.call('admin', 'POST', '/api/channels', { name: 'early-access' })).body.code, 'CHANNEL_EXISTS');
    assert.equal((await h.call('admin', 'POST', '/api/channels', { name: 'x', policy: { soak: { channel: 'nope', days: 1 } } })).body.code, 'CHANNEL_NOT_FOUND');
    const refused = await h.call('deployer', 'POST', '/api/channels/early-access/promote', { version: '1.2.0-beta.2' });
    assert.match(refused.body.message, /^POLICY_SOAK_NOT_MET: 0 days of 2 on beta; eligible /);
    h.clock.advance(2 * 86_400_000);
    assert.equal((await h.call('deployer', 'POST', '/api/channels/early-access/promote', { version: '1.2.0-beta.2' })).status, 200);

    const patched = await h.call('admin', 'PATCH', '/api/channels/stable', { policy: { soak: { channel: 'release', days: 7 } }, reason: 'faster cadence' });
    assert.equal(patched.body.policy.soak.days, 7);
    assert.equal(patched.body.policy.blockOnOpenProblems, true, 'unnamed policy fields keep their value');
    const [audit] = (await h.call('viewer', 'GET', '/api/audit?action=channel.update')).body.items;
    assert.equal(audit.before.policy.soak.days, 14);
    assert.equal(audit.after.policy.soak.days, 7);

    assert.equal((await h.call('deployer', 'POST', '/api/channels/nope/promote', { version: '1.2.0-beta.2' })).body.code, 'CHANNEL_NOT_FOUND');
    assert.equal((await h.call('deployer', 'POST', '/api/channels/beta/promote', { version: '9.9.9' })).body.code, 'RELEASE_NOT_FOUND');
    assert.equal((await h.call('deployer', 'POST', '/api/problems', { version: '1.2.0-beta.2', title: '' })).body.code, 'VALIDATION_FAILED');
    assert.equal((await h.call('viewer', 'GET', '/api/problems/999')).body.code, 'PROBLEM_NOT_FOUND');
  } finally {
    await h.close();
  }
});
