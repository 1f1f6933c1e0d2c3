import assert from 'node:assert/strict';
import type { ChannelPolicy, DeploymentRecord } from '../types.ts';
import { assertChainEndsWith } from './audit-assertions.ts';
import { channel, deployment, entry, instance } from './fixtures.ts';
import type { WithStore } from './fixtures.ts';

const LONDON = 'daily 01:00-04:00 Europe/London';
const WEEKEND = 'weekly sat 02:00-05:00 UTC';

/**
 * Fields the fleet scheduler added to existing records: an instance's maintenance window, the
 * deployment filters by actor and time, and the channel policy's `autoPromote`.
 */
export function fleetFieldsContract(withStore: WithStore) {
  withStore('an instance window is inserted, read back and listed; null when not set', async (store) => {
    await store.insertInstance(
      instance('a', { window: LONDON, tenant: 'acme', target: { channel: 'stable' } }),
    );
    await store.insertInstance(instance('b'));
    assert.deepEqual(
      await store.getInstance('a'),
      instance('a', { window: LONDON, tenant: 'acme', target: { channel: 'stable' } }),
    );
    assert.equal((await store.getInstance('b'))!.window, null);
    assert.deepEqual(
      (await store.listInstances()).map((i) => [i.name, i.window]),
      [
        ['a', LONDON],
        ['b', null],
      ],
    );
  });

  withStore('updateInstanceSpecs sets the window only when the change names it', async (store) => {
    await store.insertInstance(instance('a', { window: LONDON }));
    await store.insertInstance(instance('b'));
    await store.updateInstanceSpecs([{ name: 'a', labels: { tier: 'gold' } }], 20, []);
    assert.equal((await store.getInstance('a'))!.window, LONDON, 'a change without `window` keeps it');
    const audit = [entry(30, { action: 'instance.window', instance: 'b', before: null, after: WEEKEND })];
    const res = await store.updateInstanceSpecs(
      [
        { name: 'b', window: WEEKEND },
        { name: 'a', window: null },
        // A later change of the same instance without `window` keeps the earlier one's.
        { name: 'b', tenant: 'acme' },
      ],
      30,
      audit,
    );
    assert.deepEqual(res, { missing: [] });
    assert.deepEqual(
      await store.getInstance('a'),
      instance('a', { labels: { tier: 'gold' }, updatedAt: 30 }),
    );
    assert.deepEqual(
      await store.getInstance('b'),
      instance('b', { window: WEEKEND, tenant: 'acme', updatedAt: 30 }),
    );
    await assertChainEndsWith(store, audit);
    const missing = await store.updateInstanceSpecs([{ name: 'a', window: LONDON }, { name: 'ghost' }], 40, [
      entry(40),
    ]);
    assert.deepEqual(missing, { missing: ['ghost'] });
    assert.equal(
      (await store.getInstance('a'))!.window,
      null,
      'a change with a missing instance sets no window',
    );
  });

  withStore('saveInstanceState of a stale copy keeps a window set since', async (store) => {
    await store.insertInstance(instance('a', { window: LONDON }));
    await store.insertInstance(instance('b'));
    const staleA = (await store.getInstance('a'))!;
    const staleB = (await store.getInstance('b'))!;
    await store.updateInstanceSpecs(
      [
        { name: 'a', window: WEEKEND },
        { name: 'b', window: LONDON },
      ],
      50,
      [],
    );
    for (const stale of [staleA, staleB]) {
      stale.currentVersion = '1.0.0';
      stale.activeColor = 'blue';
      stale.slots.blue = { version: '1.0.0', status: 'live', deploymentId: 'd1' };
      stale.updatedAt = 60;
      await store.saveInstanceState(stale);
    }
    const runtime = {
      currentVersion: '1.0.0',
      activeColor: 'blue' as const,
      slots: { blue: { version: '1.0.0', status: 'live' as const, deploymentId: 'd1' }, green: null },
      updatedAt: 60,
    };
    assert.deepEqual(await store.getInstance('a'), instance('a', { window: WEEKEND, ...runtime }));
    assert.deepEqual(await store.getInstance('b'), instance('b', { window: LONDON, ...runtime }));
    const copy = (await store.getInstance('a'))!;
    copy.window = 'evil';
    await store.saveInstanceState(copy);
    assert.equal(
      (await store.getInstance('a'))!.window,
      WEEKEND,
      'saveInstanceState never writes the window',
    );
  });

  withStore(
    'listDeployments filters by actor (exact) and since (inclusive), with the other filters',
    async (store) => {
      const d = (
        id: string,
        inst: string,
        at: number,
        actor: string,
        over: Partial<DeploymentRecord> = {},
      ) => ({
        ...deployment(id, inst, at),
        actor,
        ...over,
      });
      await store.insertDeployment(d('d1', 'a', 10, 'alice'));
      await store.insertDeployment(d('d2', 'a', 20, 'bob'));
      await store.insertDeployment(d('d3', 'b', 30, 'alice'));
      await store.insertDeployment(d('d4', 'b', 40, 'Alice'));
      await store.insertDeployment(d('d5', 'a', 50, 'alice', { status: 'succeeded' }));
      await store.insertDeployment(d('d6', 'a', 30, 'scheduler'));
      const ids = async (f: Parameters<typeof store.listDeployments>[0]) =>
        (await store.listDeployments(f)).map((x) => x.id);
      assert.deepEqual(await ids({ actor: 'alice' }), ['d5', 'd3', 'd1']);
      assert.deepEqual(await ids({ actor: 'Alice' }), ['d4'], 'case matters');
      assert.deepEqual(await ids({ actor: 'ali' }), [], 'exact, not a prefix');
      assert.deepEqual(
        await ids({ since: 30 }),
        ['d5', 'd4', 'd6', 'd3'],
        'since is inclusive; ties newest inserted first',
      );
      assert.deepEqual(await ids({ since: 31 }), ['d5', 'd4']);
      assert.deepEqual(await ids({ since: 51 }), []);
      assert.deepEqual(await ids({ actor: 'alice', since: 20 }), ['d5', 'd3']);
      assert.deepEqual(await ids({ actor: 'alice', since: 20, instance: 'a' }), ['d5']);
      assert.deepEqual(await ids({ actor: 'alice', status: 'running' }), ['d3', 'd1']);
      assert.deepEqual(await ids({ actor: 'alice', limit: 2 }), ['d5', 'd3']);
      assert.deepEqual(await ids({ since: 0, limit: 0 }), []);
      // The actor filter follows the stored record, not what it was when inserted.
      const d2 = (await store.getDeployment('d2'))!;
      await store.updateDeployment({ ...d2, actor: 'carol', status: 'failed' });
      assert.deepEqual(await ids({ actor: 'carol' }), ['d2']);
      assert.deepEqual(await ids({ actor: 'bob' }), []);
    },
  );

  withStore(
    'a channel policy keeps autoPromote; a policy without it reads back without it',
    async (store) => {
      const auto: ChannelPolicy = {
        soak: { channel: 'release', days: 14 },
        blockOnOpenProblems: true,
        allowPrerelease: false,
        autoPromote: true,
      };
      await store.insertChannel(channel('stable', { builtIn: true, policy: auto }));
      await store.insertChannel(channel('beta'));
      assert.deepEqual(await store.getChannel('stable'), channel('stable', { builtIn: true, policy: auto }));
      assert.equal((await store.listChannels()).find((c) => c.name === 'stable')!.policy.autoPromote, true);
      const beta = (await store.getChannel('beta'))!;
      assert.equal('autoPromote' in beta.policy, false, 'absent stays absent (callers read it as false)');
      await store.updateChannel({ ...beta, policy: { ...beta.policy, autoPromote: false }, updatedAt: 5 });
      assert.equal((await store.getChannel('beta'))!.policy.autoPromote, false);
      await store.updateChannel(
        channel('stable', { builtIn: true, policy: { ...auto, autoPromote: false }, updatedAt: 6 }),
      );
      assert.equal((await store.getChannel('stable'))!.policy.autoPromote, false);
    },
  );
}
