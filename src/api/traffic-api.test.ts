import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testReleaseSpec, waitFor } from '../testing/index.ts';
import { startHarness } from './test-harness.ts';
import type { Harness } from './test-harness.ts';

/** Polls a deployment through the API until `ok` holds (bounded). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON answers
function until(h: Harness, id: string, ok: (d: any) => boolean): Promise<any> {
  return waitFor(`deployment ${id} to get there`, async () => {
    const r = await h.call('viewer', 'GET', `/api/deployments/${id}`);
    return ok(r.body) ? r.body : undefined;
  });
}

const holdingAt = (step: string) => (d: { steps: { name: string; status: string }[] }) =>
  d.steps.some((s) => s.name === step && s.status === 'running');

async function withInstance(): Promise<Harness> {
  const h = await startHarness();
  for (const v of ['1.0.0', '1.1.0']) await h.release(v, testReleaseSpec(v));
  const created = await h.call('deployer', 'POST', '/api/instances', { name: 'web', app: 'shop', hosts: ['web.test'] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const first = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.0.0' });
  assert.equal(first.body.status, 'succeeded', JSON.stringify(first.body));
  return h;
}

test('a gradual cutover through the API: steps, a manual hold, resume; then an abort', async () => {
  const h = await withInstance();
  try {
    const started = await h.call('deployer', 'POST', '/api/instances/web/deploy', { version: '1.1.0', steps: [0, 100], pause: 'manual' });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.deepEqual(
      started.body.steps.map((s: { name: string }) => s.name),
      ['prepare', 'start', 'health', 'shift-0', 'flip', 'finalise'],
    );
    await until(h, started.body.id, holdingAt('shift-0'));
    assert.equal((await h.call('viewer', 'POST', `/api/deployments/${started.body.id}/resume`, {})).status, 403);
    const resumed = await h.call('deployer', 'POST', `/api/deployments/${started.body.id}/resume`, { reason: 'smoke tests passed' });
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    const done = await until(h, started.body.id, (d) => d.status !== 'running');
    assert.equal(done.status, 'succeeded');

    // 1.0.0 is warm now: a gradual flip back to it, aborted at its first step.
    const back = await h.call('deployer', 'POST', '/api/instances/web/deploy', { version: '1.0.0', steps: [20, 100], pause: 'manual' });
    assert.equal(back.body.strategy, 'flip-to-warm');
    await until(h, back.body.id, holdingAt('shift-20'));
    const abort = await h.call('deployer', 'POST', `/api/deployments/${back.body.id}/abort`, { reason: 'error spike' });
    assert.equal(abort.status, 202);
    const aborted = await until(h, back.body.id, (d) => d.status !== 'running');
    assert.equal(aborted.status, 'aborted');
    assert.equal(aborted.error.code, 'DEPLOYMENT_ABORTED');
    const status = await h.call('viewer', 'GET', '/api/instances/web');
    assert.equal(status.body.currentVersion, '1.1.0');
    assert.equal(status.body.slots.blue.status, 'warm', 'an aborted flip back leaves the warm slot warm');

    const again = await h.call('deployer', 'POST', `/api/deployments/${back.body.id}/abort`, {});
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'DEPLOYMENT_NOT_RUNNING');
    const audit = await h.call('viewer', 'GET', '/api/audit?instance=web');
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    for (const a of ['deployment.resume', 'deployment.abort', 'deploy.aborted']) assert.ok(actions.includes(a), a);
  } finally {
    await h.close();
  }
});

test('a bad rollout is refused naming the field, and changes nothing', async () => {
  const h = await withInstance();
  try {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ steps: [50, 10] }, /steps\[1\].*larger/],
      [{ steps: [10], pause: 'soon' }, /pause/],
      [{ pause: '1m' }, /need steps/],
      [{ steps: [100] }, /below 100/],
    ];
    for (const [extra, message] of cases) {
      const r = await h.call('deployer', 'POST', '/api/instances/web/deploy', { version: '1.1.0', ...extra });
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.match(JSON.stringify(r.body), message);
    }
    const list = await h.call('viewer', 'GET', '/api/instances/web/deployments');
    assert.equal(list.body.items.length, 1);
  } finally {
    await h.close();
  }
});

test('preview and maintenance switches reach the runtime and the audit log, never the token', async () => {
  const h = await withInstance();
  try {
    const open = await h.call('deployer', 'PUT', '/api/instances/web/preview', { reason: 'QA' });
    assert.equal(open.status, 200, JSON.stringify(open.body));
    assert.ok(open.body.token.length >= 16);
    assert.equal(open.body.header, 'x-cutover-preview');
    assert.match(open.body.path, /^\/\.well-known\/cutover\/preview\?token=/);
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/web/preview', { token: 'short' })).status, 400);
    assert.equal((await h.call('viewer', 'PUT', '/api/instances/web/preview', {})).status, 403);
    let status = await h.call('viewer', 'GET', '/api/instances/web');
    assert.equal(status.body.runtime.preview, true);
    assert.equal((await h.call('deployer', 'DELETE', '/api/instances/web/preview')).status, 200);

    const on = await h.call('deployer', 'PUT', '/api/instances/web/maintenance', { retryAfterSeconds: 120, reason: 'db upgrade' });
    assert.deepEqual(on.body, { instance: 'web', maintenance: true });
    status = await h.call('viewer', 'GET', '/api/instances/web');
    assert.equal(status.body.runtime.maintenance, true);
    assert.equal((await h.call('deployer', 'PUT', '/api/instances/nope/maintenance', {})).status, 404);
    assert.deepEqual((await h.call('deployer', 'DELETE', '/api/instances/web/maintenance')).body, { instance: 'web', maintenance: false });

    const audit = await h.call('viewer', 'GET', '/api/audit?instance=web');
    const text = JSON.stringify(audit.body);
    assert.ok(!text.includes(open.body.token), 'the token never reaches the audit log');
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    for (const a of ['instance.preview.open', 'instance.preview.close', 'instance.maintenance.on', 'instance.maintenance.off']) {
      assert.ok(actions.includes(a), a);
    }
  } finally {
    await h.close();
  }
});

test('skipTests needs an admin and a reason; it is then recorded and audited', async () => {
  const h = await withInstance();
  try {
    await h.release('1.2.0', testReleaseSpec('1.2.0', { tests: { smoke: { command: 'npm run smoke', timeoutMs: 60_000 } } }));
    const deployer = await h.call('deployer', 'POST', '/api/instances/web/deploy', { version: '1.2.0', skipTests: true, reason: 'hotfix' });
    assert.equal(deployer.status, 403, JSON.stringify(deployer.body));
    const noReason = await h.call('admin', 'POST', '/api/instances/web/deploy', { version: '1.2.0', skipTests: true });
    assert.equal(noReason.status, 400);
    assert.match(JSON.stringify(noReason.body), /reason/);
    assert.equal((await h.call('viewer', 'GET', '/api/instances/web/deployments')).body.items.length, 1, 'refusals change nothing');
    const ok = await h.call('admin', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.2.0', skipTests: true, reason: 'hotfix, smoke broken by #12' });
    assert.equal(ok.body.status, 'succeeded', JSON.stringify(ok.body));
    assert.equal(ok.body.skipTests, true);
    assert.ok(!ok.body.steps.some((s: { name: string }) => s.name === 'smoke'));
    const audit = await h.call('viewer', 'GET', '/api/audit?instance=web');
    const start = audit.body.items.find((e: { action: string; details: { to?: string } }) => e.action === 'deploy.start' && e.details.to === '1.2.0');
    assert.equal(start.details.skipTests, true);
    assert.equal(start.reason, 'hotfix, smoke broken by #12');
  } finally {
    await h.close();
  }
});
