// The contract of the `Runtime` port (src/deploy/runtime.ts), run against every implementation:
// the fake the deployer's unit tests use (testing/fake-runtime.test.ts) and the real agent over
// loopback through `createAgentClient` (agent/agent-runtime-contract.test.ts). It pins down what
// the deployer relies on beyond the port's types, so the fake cannot drift from the agent:
// - `stopSlot` refuses the serving colour; `startSlot` needs the instance and the artifact;
// - `shift` refuses the active colour, an unhealthy one and one without a slot;
// - `flip` with `expectVersion` refuses a slot that is not ready, and changes nothing;
// - `describe`/`stats` of an unknown instance are `undefined`, and `removeInstance` of one is a no-op;
// - `runTest` answers a result for a routed instance (a failing test is not a throw), and refuses an unknown one;
// - a local rollback (made on the machine) goes back only to the slot the last flip left, once,
//   is reported by `localRollbacks` until `ackLocalRollbacks` names it, and an ack is idempotent;
// - `applyDesired` keeps the highest number, accepts a repeat of it, and answers a lower one with `stale: holds N`;
// - every answer matches its message's schema in the agent protocol (src/protocol/).
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { after, before, suite, test } from 'node:test';
import type { Color } from '../shared/index.ts';
import type { Runtime, RuntimeLocalRollback, RuntimeSlotSpec } from '../deploy/index.ts';
import { MESSAGES, artifactReportSchema, localRollbackSchema } from '../protocol/index.ts';
import type { MessageName } from '../protocol/index.ts';

export interface RuntimeUnderTest {
  runtime: Runtime;
  /** An artifact the runtime can start slots from. */
  artifact: { digest: string; open(): Readable };
  /** The spec of a slot whose app gets healthy, or never does (`healthy: false`). */
  spec(instance: string, color: Color, version: string, healthy?: boolean): RuntimeSlotSpec;
  /** `cutover local rollback INSTANCE` on the runtime's machine (the agent: through its local socket). */
  rollBackLocally(instance: string): Promise<RuntimeLocalRollback>;
  stop(): Promise<void>;
}

/** Fails unless `answer` is what message `name` answers. */
function answers(name: MessageName, answer: unknown): void {
  const parsed = MESSAGES[name].answer.safeParse(answer);
  assert.ok(parsed.success, `${name}: ${JSON.stringify(answer)} does not match the protocol: ${parsed.error?.message}`);
}

const refusal = (code: string) => (error: unknown) => {
  assert.equal((error as { code?: string }).code, code, `expected ${code}, got ${(error as Error).message}`);
  return true;
};

/** Declares the contract tests for one implementation; `start` is called once for the suite. */
export function runtimeContract(name: string, start: () => Promise<RuntimeUnderTest>): void {
  suite(`Runtime contract: ${name}`, () => {
    let u: RuntimeUnderTest;
    let n = 0;
    before(async () => {
      u = await start();
    });
    after(async () => {
      await u?.stop();
    });

    /** A new instance routed on its own host, with the artifact in place. */
    async function routed(): Promise<string> {
      const instance = `contract-${++n}`;
      await u.runtime.ensureArtifact(instance, u.artifact.digest, () => u.artifact.open());
      await u.runtime.ensureInstance(instance, [`${instance}.test`]);
      return instance;
    }
    /** Starts a slot and, when it should be healthy, waits for it. */
    async function started(instance: string, color: Color, version: string, healthy = true): Promise<void> {
      answers('slot.start', await u.runtime.startSlot(u.spec(instance, color, version, healthy)));
      if (healthy) {
        const health = await u.runtime.waitHealthy(instance, color, 20_000);
        answers('slot.wait', health);
        assert.ok(health.ok, `${color} ${version} did not get healthy`);
      }
    }
    const describe = async (instance: string) => {
      const found = await u.runtime.describe(instance);
      assert.ok(found, `describe(${instance})`);
      answers('instance.describe', found);
      return found;
    };

    test('the happy path: route, artifact, start, health, flip, describe, stats, stop, remove', async () => {
      const instance = await routed();
      await started(instance, 'blue', '1.0.0');
      answers('instance.flip', await u.runtime.flip(instance, 'blue'));
      const serving = await describe(instance);
      assert.equal(serving.name, instance);
      assert.deepEqual(serving.hosts, [`${instance}.test`]);
      assert.equal(serving.active, 'blue');
      assert.deepEqual(
        serving.slots.map((s) => [s.color, s.version, s.state]),
        [['blue', '1.0.0', 'healthy']],
      );
      const stats = await u.runtime.stats(instance);
      answers('instance.stats', stats);
      assert.equal(stats?.instance, instance);
      assert.ok(stats?.colors.some((c) => c.color === 'blue' && c.version === '1.0.0'));

      await started(instance, 'green', '1.1.0');
      answers('instance.flip', await u.runtime.flip(instance, 'green', '1.1.0'));
      await u.runtime.stopSlot(instance, 'blue');
      const after = await describe(instance);
      assert.equal(after.active, 'green');
      assert.deepEqual(after.slots.map((s) => s.color), ['green']);

      const artifacts = await u.runtime.listArtifacts();
      for (const a of artifacts) assert.ok(artifactReportSchema.safeParse(a).success, JSON.stringify(a));
      assert.equal(artifacts.find((a) => a.digest === u.artifact.digest)?.inUse, true);
      await assert.rejects(u.runtime.deleteArtifact(u.artifact.digest), refusal('SLOT_BUSY'));

      await u.runtime.flip(instance, 'green', undefined, 'rollback');
      await u.runtime.removeInstance(instance);
      assert.equal(await u.runtime.describe(instance), undefined);
    });

    test('stopSlot refuses the active colour, and the slot keeps serving', async () => {
      const instance = await routed();
      await started(instance, 'blue', '1.0.0');
      await u.runtime.flip(instance, 'blue');
      await assert.rejects(u.runtime.stopSlot(instance, 'blue'), refusal('SLOT_ACTIVE'));
      // Starting into the serving colour would stop it first: refused the same way.
      await assert.rejects(u.runtime.startSlot(u.spec(instance, 'blue', '1.0.1')), refusal('SLOT_ACTIVE'));
      const still = await describe(instance);
      assert.equal(still.active, 'blue');
      assert.deepEqual(still.slots.map((s) => [s.color, s.version]), [['blue', '1.0.0']]);
      await u.runtime.removeInstance(instance);
    });

    test('startSlot needs the instance and the artifact', async () => {
      const instance = await routed();
      const missing = `sha256:${'0'.repeat(64)}`;
      await assert.rejects(u.runtime.startSlot({ ...u.spec(instance, 'blue', '1.0.0'), digest: missing }), refusal('ARTIFACT_NOT_FOUND'));
      await assert.rejects(u.runtime.startSlot(u.spec(`${instance}-unknown`, 'blue', '1.0.0')), refusal('INSTANCE_NOT_FOUND'));
      assert.deepEqual((await describe(instance)).slots, []);
      await u.runtime.removeInstance(instance);
    });

    test('shift refuses the active colour, an unhealthy colour and an empty one; a healthy idle one is shifted to', async () => {
      const instance = await routed();
      await started(instance, 'blue', '1.0.0');
      await assert.rejects(u.runtime.shift(instance, 'green', 10), refusal('SLOT_NOT_FOUND'));
      await u.runtime.flip(instance, 'blue');
      await assert.rejects(u.runtime.shift(instance, 'blue', 10), refusal('SLOT_ACTIVE'));
      await started(instance, 'green', '2.0.0-bad', false);
      await assert.rejects(u.runtime.shift(instance, 'green', 10), refusal('SLOT_NOT_READY'));
      await started(instance, 'green', '2.0.0');
      answers('instance.shift', await u.runtime.shift(instance, 'green', 25));
      assert.deepEqual((await describe(instance)).shift, { color: 'green', percent: 25 });
      // The colour shifted to receives traffic: it cannot be stopped until the shift is undone.
      await assert.rejects(u.runtime.stopSlot(instance, 'green'), refusal('SLOT_ACTIVE'));
      await u.runtime.flip(instance, 'green');
      const done = await describe(instance);
      assert.equal(done.active, 'green');
      assert.equal(done.shift, undefined);
      await u.runtime.removeInstance(instance);
    });

    test('flip with expectVersion refuses a slot that is not ready, and changes nothing', async () => {
      const instance = await routed();
      await assert.rejects(u.runtime.flip(instance, 'blue'), refusal('SLOT_NOT_FOUND'));
      await started(instance, 'blue', '1.0.0');
      await u.runtime.flip(instance, 'blue');
      await started(instance, 'green', '2.0.0-bad', false);
      const health = await u.runtime.waitHealthy(instance, 'green', 300);
      answers('slot.wait', health);
      assert.equal(health.ok, false);
      await assert.rejects(u.runtime.flip(instance, 'green', '2.0.0-bad'), refusal('SLOT_NOT_READY'));
      await assert.rejects(u.runtime.flip(instance, 'blue', '9.9.9'), refusal('SLOT_NOT_READY'));
      assert.equal((await describe(instance)).active, 'blue');
      await u.runtime.removeInstance(instance);
    });

    test('an unknown instance: describe and stats are undefined, removeInstance does nothing, a flip is refused', async () => {
      assert.equal(await u.runtime.describe('contract-unknown'), undefined);
      assert.equal(await u.runtime.stats('contract-unknown'), undefined);
      await u.runtime.removeInstance('contract-unknown');
      await assert.rejects(u.runtime.flip('contract-unknown', 'blue'), refusal('INSTANCE_NOT_FOUND'));
      await assert.rejects(u.runtime.setPreview('contract-unknown', null), refusal('INSTANCE_NOT_FOUND'));
      const run = { instance: 'contract-unknown', kind: 'smoke' as const, command: 'true', timeoutMs: 10_000, digest: u.artifact.digest, version: '1.0.0', deploymentId: 'd', previewToken: '' };
      await assert.rejects(u.runtime.runTest(run), refusal('INSTANCE_NOT_FOUND'));
      await u.runtime.cancelTest('contract-unknown');
    });

    test('a local rollback: only to the slot the last flip left, once; reported until acknowledged', async () => {
      const instance = await routed();
      await assert.rejects(u.rollBackLocally(`${instance}-unknown`), refusal('INSTANCE_NOT_FOUND'));
      await started(instance, 'blue', '1.0.0');
      await u.runtime.flip(instance, 'blue');
      await assert.rejects(u.rollBackLocally(instance), refusal('NOTHING_TO_ROLL_BACK'));
      await started(instance, 'green', '1.1.0');
      await u.runtime.flip(instance, 'green', '1.1.0');
      const action = await u.rollBackLocally(instance);
      assert.ok(localRollbackSchema.safeParse(action).success, JSON.stringify(action));
      assert.deepEqual([action.instance, action.from, action.to], [instance, { color: 'green', version: '1.1.0' }, { color: 'blue', version: '1.0.0' }]);
      assert.equal((await describe(instance)).active, 'blue');
      // Again would go forward, to the release just rolled back from.
      await assert.rejects(u.rollBackLocally(instance), refusal('ALREADY_ROLLED_BACK'));
      const pending = await u.runtime.localRollbacks();
      assert.deepEqual(pending.filter((a) => a.instance === instance), [action]);
      for (const a of pending) assert.ok(localRollbackSchema.safeParse(a).success, JSON.stringify(a));
      await u.runtime.ackLocalRollbacks([action.id, 'lrb_unknown']);
      await u.runtime.ackLocalRollbacks([action.id]);
      assert.deepEqual((await u.runtime.localRollbacks()).filter((a) => a.instance === instance), []);
      assert.equal((await describe(instance)).active, 'blue', 'an acknowledgement moves no traffic');
      await u.runtime.removeInstance(instance);
    });

    test('a local rollback refuses an unhealthy warm slot and one started since the flip left it, changing nothing', async () => {
      const instance = await routed();
      await started(instance, 'blue', '1.0.0-bad', false);
      await u.runtime.flip(instance, 'blue'); // no expectVersion: the runtime flips to it as it is
      await started(instance, 'green', '1.1.0');
      await u.runtime.flip(instance, 'green', '1.1.0');
      await assert.rejects(u.rollBackLocally(instance), refusal('SLOT_NOT_READY'));
      // A new release in the colour the flip left: it never served, so flipping to it would go forward.
      await started(instance, 'blue', '1.2.0');
      await assert.rejects(u.rollBackLocally(instance), refusal('NOTHING_TO_ROLL_BACK'));
      assert.equal((await describe(instance)).active, 'green');
      assert.deepEqual((await u.runtime.localRollbacks()).filter((a) => a.instance === instance), []);
      await u.runtime.removeInstance(instance);
    });

    test("a release's test of a routed instance: a result (not a throw) the protocol describes; cancel when none runs does nothing", async () => {
      const instance = 'contract-test';
      await u.runtime.ensureInstance(instance, ['contract-test.test']);
      await u.runtime.ensureArtifact(instance, u.artifact.digest, u.artifact.open);
      const result = await u.runtime.runTest({ instance, kind: 'smoke', command: 'true', timeoutMs: 10_000, digest: u.artifact.digest, version: '1.0.0', deploymentId: 'd', previewToken: '' });
      answers('instance.test', result);
      assert.equal(result.passed, true);
      assert.equal(result.exitCode, 0);
      await u.runtime.cancelTest(instance);
      await u.runtime.removeInstance(instance);
    });

    test('desired state: the highest number is kept, a repeat accepted, a lower number refused as stale (an answer, not a throw)', async () => {
      const document = { machine: 'contract-machine', instances: [{ name: 'contract-d', hosts: ['contract-d.test'], live: { version: '1.0.0', digest: u.artifact.digest, color: 'blue' as const }, warm: null, maintenance: false }] };
      const first = await u.runtime.applyDesired(5, document);
      answers('machine.desired', first);
      assert.deepEqual(first, { accepted: true });
      assert.deepEqual(await u.runtime.applyDesired(5, document), { accepted: true }, 'a repeat converges');
      assert.deepEqual(await u.runtime.applyDesired(7, { ...document, instances: [] }), { accepted: true });
      const stale = await u.runtime.applyDesired(6, document);
      answers('machine.desired', stale);
      assert.deepEqual(stale, { accepted: false, reason: 'stale: holds 7' });
    });
  });
}
