import { testActor } from '../testing/index.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../store/index.ts';
import { deployerTestbed } from './test-deployer.ts';

const setup = () => deployerTestbed();

async function unchanged(store: Store, fn: () => Promise<unknown>, code: string) {
  const before = JSON.stringify([await store.listInstances(), await store.listDeployments(), await store.getLock('web')]);
  await assert.rejects(fn(), (e: { code: string }) => e.code === code);
  const after = JSON.stringify([await store.listInstances(), await store.listDeployments(), await store.getLock('web')]);
  assert.equal(after, before, 'a refused request changes nothing');
}

test('deploy, deploy again, roll back to the warm slot', async () => {
  const { store, runtime, deployer, run } = await setup();
  const first = await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  assert.equal(first.status, 'succeeded');
  assert.equal(runtime.active('web'), 'blue');
  const second = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') }));
  assert.equal(second.status, 'succeeded');
  assert.equal(runtime.active('web'), 'green');
  let web = (await store.getInstance('web'))!;
  assert.equal(web.currentVersion, '1.1.0');
  assert.equal(web.slots.blue?.status, 'warm');

  runtime.calls = [];
  const back = await run(deployer.rollback({ instance: 'web', by: testActor('admin', 'bad') }));
  assert.equal(back.status, 'succeeded');
  assert.equal(back.strategy, 'flip-to-warm');
  assert.deepEqual(runtime.calls, ['flip web blue'], 'a warm rollback is only a flip');
  // The runtime is told it is a rollback (skew protection and WebSockets of green end at once).
  assert.deepEqual(runtime.flipReasons, ['forward', 'forward', 'rollback']);
  web = (await store.getInstance('web'))!;
  assert.equal(web.currentVersion, '1.0.0');
  assert.equal(web.activeColor, 'blue');
  assert.equal(web.slots.green?.status, 'warm');
  assert.equal(await store.getLock('web'), undefined, 'lock released');
  const actions = (await store.listAudit({ subject: 'web' })).map((e) => e.action).reverse();
  assert.deepEqual(actions, ['deploy.start', 'deploy.succeeded', 'deploy.start', 'deploy.succeeded', 'rollback.start', 'rollback.succeeded']);
});

test('every step is recorded with its timing', async () => {
  const { deployer, run } = await setup();
  const d = await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  assert.deepEqual(
    d.steps.map((s) => [s.name, s.status]),
    [
      ['prepare', 'done'],
      ['start', 'done'],
      ['health', 'done'],
      ['flip', 'done'],
      ['finalise', 'done'],
    ],
  );
  assert.ok(d.steps.every((s) => typeof s.startedAt === 'number' && typeof s.finishedAt === 'number'));
  assert.equal(d.steps[3]!.detail?.overheadMs, 0);
});

test('an unhealthy release fails before the flip: the old slot serves, the new one is stopped', async () => {
  const { store, runtime, deployer, run } = await setup();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('admin') }));
  runtime.health.set('1.1.0', { ok: false, reason: 'timeout', message: 'GET / → 500', logTail: ['boom'] });
  const d = await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('admin') }));
  assert.equal(d.status, 'failed');
  assert.equal(d.error?.code, 'DEPLOYMENT_FAILED');
  assert.match(d.error!.message, /GET \/ → 500/);
  assert.deepEqual(d.error?.details?.logTail, ['boom']);
  assert.equal(runtime.active('web'), 'blue');
  assert.ok(runtime.calls.includes('stop web green'));
  const web = (await store.getInstance('web'))!;
  assert.equal(web.currentVersion, '1.0.0');
  assert.equal(web.slots.green, null);
  assert.equal(await store.getLock('web'), undefined);
});

test('a second deployment while one runs is refused naming the holder, and changes nothing', async () => {
  const { store, runtime, deployer } = await setup();
  let open!: () => void;
  runtime.gate = new Promise((r) => (open = r));
  const first = await deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('alice') });
  while (!runtime.calls.includes('wait web blue')) await new Promise((r) => setImmediate(r));
  const before = await store.listDeployments();
  await assert.rejects(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('bob') }), (e: Error & { code: string }) => {
    assert.equal(e.code, 'INSTANCE_LOCKED');
    assert.match(e.message, new RegExp(`alice \\(${first.id}\\)`));
    return true;
  });
  assert.deepEqual(await store.listDeployments(), before);
  open();
  assert.equal((await deployer.wait(first.id, 5000))?.status, 'succeeded');
});

test('unknown instance, unknown version, same version and nothing to roll back change nothing', async () => {
  const { store, deployer, run } = await setup();
  await unchanged(store, () => deployer.deploy({ instance: 'nope', version: '1.0.0', by: testActor('a') }), 'INSTANCE_NOT_FOUND');
  await unchanged(store, () => deployer.deploy({ instance: 'web', version: '9.9.9', by: testActor('a') }), 'RELEASE_NOT_FOUND');
  await unchanged(store, () => deployer.rollback({ instance: 'web', by: testActor('a') }), 'NOTHING_TO_ROLL_BACK');
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('a') }));
  await unchanged(store, () => deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('a') }), 'ALREADY_ON_VERSION');
});

test('after the window, warm slots are stopped and rollback redeploys the previous version', async () => {
  const { store, runtime, clock, deployer, run } = await setup();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('a') }));
  await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('a') }));
  assert.equal(await deployer.stopExpiredWarmSlots(), 0);
  clock.advance(60_000);
  assert.equal(await deployer.stopExpiredWarmSlots(), 1);
  assert.equal((await store.getInstance('web'))!.slots.blue, null);
  const back = await run(deployer.rollback({ instance: 'web', by: testActor('a') }));
  assert.equal(back.strategy, 'start-and-flip');
  assert.equal(back.toVersion, '1.0.0');
  assert.equal(back.status, 'succeeded');
  assert.equal(runtime.active('web'), 'blue');
});

test('a rollback to a warm slot that is no longer healthy fails and changes nothing', async () => {
  const { store, runtime, deployer, run } = await setup();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('a') }));
  await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('a') }));
  runtime.instances.get('web')!.slots.find((s) => s.color === 'blue')!.state = 'unhealthy';
  const back = await run(deployer.rollback({ instance: 'web', by: testActor('a') }));
  assert.equal(back.status, 'failed');
  assert.match(back.error!.message, /1\.0\.0 healthy.*deploy 1\.0\.0 instead/i);
  assert.equal(runtime.active('web'), 'green');
  const web = (await store.getInstance('web'))!;
  assert.equal(web.currentVersion, '1.1.0');
  assert.equal(web.slots.blue?.status, 'warm', 'the warm slot record is left as it was');
});

test('a second rollback is refused and changes nothing; rollback --to goes to a version the instance ran', async () => {
  const { store, runtime, deployer, run } = await setup();
  await run(deployer.deploy({ instance: 'web', version: '1.0.0', by: testActor('a') }));
  await run(deployer.deploy({ instance: 'web', version: '1.1.0', by: testActor('a') }));
  await run(deployer.deploy({ instance: 'web', version: '1.2.0', by: testActor('a') }));
  const back = await run(deployer.rollback({ instance: 'web', by: testActor('a') }));
  assert.deepEqual([back.status, back.toVersion, back.strategy], ['succeeded', '1.1.0', 'flip-to-warm']);
  await unchanged(store, () => deployer.rollback({ instance: 'web', by: testActor('a') }), 'ALREADY_ROLLED_BACK');
  await unchanged(store, () => deployer.rollback({ instance: 'web', by: testActor('a'), to: '0.1.0' }), 'VALIDATION_FAILED');
  const further = await run(deployer.rollback({ instance: 'web', by: testActor('a'), to: '1.0.0' }));
  assert.deepEqual([further.status, further.kind, further.toVersion], ['succeeded', 'rollback', '1.0.0']);
  assert.equal(runtime.instances.get('web')!.slots.find((s) => s.color === runtime.active('web'))!.version, '1.0.0');
});
