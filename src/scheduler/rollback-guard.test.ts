import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, testActor } from '../testing/index.ts';
import { webWithTwoReleases } from './test-web.ts';
import { createRollbackGuard } from './rollback-guard.ts';


test('a second automatic rollback of the same slot is refused, never a flip back to the bad release', async () => {
  const { store, clock, deployer } = await webWithTwoReleases();
  for (const version of ['1.0.0', '1.1.0']) await deployer.wait((await deployer.deploy({ instance: 'web', version, by: testActor('admin') })).id, 1000);
  const bad = (await store.getInstance('web'))!;
  const expect = { instance: 'web', color: bad.activeColor!, deploymentId: bad.slots[bad.activeColor!]!.deploymentId };
  const request = { instance: 'web', by: testActor('health', 'unhealthy') };

  const guard = createRollbackGuard({ store, deployer, clock });
  const [first, second] = await Promise.all([guard.rollback(expect, request), guard.rollback(expect, { ...request, by: testActor('analysis', 'unhealthy') })]);
  assert.equal(first.ok, true);
  assert.equal(second.ok, false);
  assert.ok(!second.ok && ['INSTANCE_LOCKED', 'MOVED'].includes(second.code), JSON.stringify(second));
  await deployer.idle();
  assert.equal((await store.getInstance('web'))!.currentVersion, '1.0.0');

  // Later, a watcher that judged the old state: the deployer alone would flip back to the warm 1.1.0.
  const late = await guard.rollback(expect, request);
  assert.deepEqual(late.ok ? 'rolled back' : late.code, 'MOVED');
  assert.equal((await store.getInstance('web'))!.currentVersion, '1.0.0');
  assert.equal((await store.listDeployments({ instance: 'web' })).filter((d) => d.kind === 'rollback').length, 1);
});

test('a deployment still running its verify test is stopped by the guard: its abort flips back to the warm slot, once', async () => {
  const tests = { verify: { command: 'npm run e2e', timeoutMs: 60_000 } };
  const { store, clock, runtime, deployer } = await webWithTwoReleases(tests);
  await deployer.wait((await deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') })).id, 1000);
  runtime.testOutcome.set('verify', 'hang');
  const d = await deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') });
  await waitFor('the verify test', () => runtime.tests.length > 0);
  assert.equal(runtime.active('web'), 'green', 'flipped, verifying');

  const guard = createRollbackGuard({ store, deployer, clock });
  const expect = { instance: 'web', color: 'green' as const, deploymentId: d.id };
  const outcome = await guard.rollback(expect, { instance: 'web', by: testActor('analysis', 'automatic rollback: 5xx') });
  assert.equal(outcome.ok, true);
  const settled = (await deployer.wait(d.id, 5000))!;
  assert.equal(settled.status, 'aborted');
  assert.equal(settled.rollback?.strategy, 'flip-to-warm');
  assert.equal(runtime.active('web'), 'blue');
  assert.equal((await store.getInstance('web'))!.currentVersion, '1.0.0');
  const again = await guard.rollback(expect, { instance: 'web', by: testActor('health', 'unhealthy') });
  assert.equal(again.ok ? 'rolled back' : again.code, 'MOVED');
});
