import { CutoverError } from '../shared/index.ts';
import type { Color, FlipReason } from '../shared/index.ts';
import { judgeDesired } from '../protocol/index.ts';
import type {
  HealthResult,
  Runtime,
  RuntimeArtifact,
  RuntimeDesiredAnswer,
  RuntimeDesiredState,
  RuntimeInstance,
  RuntimeInstanceStats,
  RuntimeLocalRollback,
  RuntimeMaintenance,
  RuntimeSlotSpec,
  RuntimeTestResult,
  RuntimeTestSpec,
} from '../deploy/index.ts';

/**
 * An in-memory runtime for unit tests of the deployer: it keeps slots and the active colour,
 * records every call, and lets a test decide how health checks and calls turn out. It refuses
 * what the agent refuses: the `Runtime` contract suite (`runtime-contract.ts`) runs against both.
 */
export class FakeRuntime implements Runtime {
  calls: string[] = [];
  /** The reason of each flip, in order (`calls` keeps its old shape). */
  flipReasons: FlipReason[] = [];
  instances = new Map<string, RuntimeInstance>();
  artifacts = new Set<string>();
  /** Health outcome per version; default healthy. */
  health = new Map<string, HealthResult>();
  /** Makes the named method throw once. */
  failNext = new Map<string, Error>();
  /** Resolves a pending `waitHealthy` only when the test calls it, when set. */
  gate: Promise<void> | undefined;
  now = () => Date.now();

  #maybeFail(method: string) {
    const error = this.failNext.get(method);
    if (error) {
      this.failNext.delete(method);
      throw error;
    }
  }
  #get(name: string): RuntimeInstance {
    const i = this.instances.get(name);
    if (!i) throw new CutoverError('INSTANCE_NOT_FOUND', `the agent does not know instance "${name}"`, { details: { instance: name } });
    return i;
  }
  #slot(i: RuntimeInstance, color: Color) {
    return i.slots.find((s) => s.color === color);
  }

  async ensureArtifact(_instance: string, digest: string) {
    this.calls.push(`ensureArtifact ${digest}`);
    this.#maybeFail('ensureArtifact');
    this.artifacts.add(digest);
  }
  async ensureInstance(name: string, hosts: string[]) {
    this.calls.push(`ensureInstance ${name}`);
    const i = this.instances.get(name);
    if (i) i.hosts = hosts;
    else this.instances.set(name, { name, hosts, active: null, slots: [] });
  }
  /** Every spec `startSlot` was given, in order. */
  started: RuntimeSlotSpec[] = [];
  async startSlot(spec: RuntimeSlotSpec) {
    this.started.push(spec);
    this.calls.push(`start ${spec.instance} ${spec.color} ${spec.version}`);
    this.#maybeFail('startSlot');
    const i = this.#get(spec.instance);
    if (!this.artifacts.has(spec.digest)) {
      throw new CutoverError('ARTIFACT_NOT_FOUND', `the agent has no artifact ${spec.digest}; upload it first`);
    }
    // The agent stops what held the colour first, which it refuses for the serving colour.
    if (this.#slot(i, spec.color)) await this.stopSlot(spec.instance, spec.color);
    const ok = this.health.get(spec.version)?.ok ?? true;
    i.slots.push({ color: spec.color, version: spec.version, deploymentId: spec.deploymentId, state: ok ? 'healthy' : 'unhealthy', port: 1 });
    return { port: 1 };
  }
  /** The timeout of each `waitHealthy`, in order. */
  waitTimeouts: number[] = [];
  async waitHealthy(instance: string, color: Color, timeoutMs: number): Promise<HealthResult> {
    this.calls.push(`wait ${instance} ${color}`);
    this.waitTimeouts.push(timeoutMs);
    if (this.gate) await this.gate;
    const slot = this.instances.get(instance)?.slots.find((s) => s.color === color);
    if (!slot) return { ok: false, reason: 'stopped', message: `no ${color} slot of "${instance}" runs`, logTail: [] };
    return this.health.get(slot.version) ?? { ok: true, healthySince: this.now() };
  }
  async flip(instance: string, color: Color, expectVersion?: string, reason: FlipReason = 'forward') {
    this.calls.push(`flip ${instance} ${color}`);
    this.flipReasons.push(reason);
    this.#maybeFail('flip');
    const slot = this.#slot(this.#get(instance), color);
    if (!slot) throw new CutoverError('SLOT_NOT_FOUND', `instance "${instance}" has nothing in its ${color} slot to flip to`);
    if (expectVersion !== undefined && (slot?.version !== expectVersion || slot.state !== 'healthy')) {
      throw new CutoverError('SLOT_NOT_READY', `the ${color} slot does not serve ${expectVersion} healthy`);
    }
    const i = this.#get(instance);
    const leaving = i.active && i.active !== color ? this.#slot(i, i.active) : undefined;
    if (leaving) this.#left.set(instance, { color: leaving.color, version: leaving.version, deploymentId: leaving.deploymentId });
    i.active = color;
    delete i.shift;
    return { flippedAt: this.now() };
  }
  async shift(instance: string, color: Color, percent: number) {
    this.calls.push(`shift ${instance} ${color} ${percent}`);
    this.#maybeFail('shift');
    const i = this.#get(instance);
    const slot = this.#slot(i, color);
    if (!slot) throw new CutoverError('SLOT_NOT_FOUND', `instance "${instance}" has nothing in its ${color} slot to shift to`);
    if (i.active === color) throw new CutoverError('SLOT_ACTIVE', `the ${color} slot of "${instance}" already serves everyone; shift to the other colour`);
    if (slot.state !== 'healthy') throw new CutoverError('SLOT_NOT_READY', `the ${color} slot of "${instance}" is ${slot.state}, not healthy`);
    if (i.active === null) throw new CutoverError('SLOT_NOT_READY', `instance "${instance}" has no active colour serving yet to shift from`);
    i.shift = { color, percent };
    return { shiftedAt: this.now() };
  }
  async setPreview(instance: string, token: string | null) {
    this.calls.push(`preview ${instance} ${token === null ? 'off' : 'on'}`);
    this.#get(instance).preview = token !== null;
  }
  async setMaintenance(instance: string, maintenance: RuntimeMaintenance | null) {
    this.calls.push(`maintenance ${instance} ${maintenance === null ? 'off' : 'on'}`);
    this.#get(instance).maintenance = maintenance !== null;
  }
  async stopSlot(instance: string, color: Color) {
    this.calls.push(`stop ${instance} ${color}`);
    const i = this.instances.get(instance);
    if (!i) return;
    if (i.active === color || i.shift?.color === color) {
      throw new CutoverError('SLOT_ACTIVE', `the ${color} slot of "${instance}" receives traffic; flip away from it before stopping it`);
    }
    i.slots = i.slots.filter((s) => s.color !== color);
  }
  async removeInstance(instance: string) {
    this.calls.push(`remove ${instance}`);
    this.#maybeFail('removeInstance');
    this.instances.delete(instance);
  }
  /** The digest each running slot was started from (`instance/color` → digest). */
  #slotDigest(instance: string, color: Color): string | undefined {
    return this.started.findLast((s) => s.instance === instance && s.color === color)?.digest;
  }
  async listArtifacts(): Promise<RuntimeArtifact[]> {
    this.#maybeFail('listArtifacts');
    const used = new Set([...this.instances.values()].flatMap((i) => i.slots.map((s) => this.#slotDigest(i.name, s.color))));
    return [...this.artifacts].sort().map((digest) => ({ digest, size: 100, inUse: used.has(digest) }));
  }
  async deleteArtifact(digest: string) {
    this.calls.push(`deleteArtifact ${digest}`);
    this.#maybeFail('deleteArtifact');
    if ((await this.listArtifacts()).some((a) => a.digest === digest && a.inUse)) throw new CutoverError('SLOT_BUSY', `a slot runs ${digest}`);
    this.artifacts.delete(digest);
  }
  async describe(instance: string) {
    this.#maybeFail('describe');
    return this.instances.get(instance);
  }
  /** Counters a test sets per instance; `stats()` answers them. */
  counters = new Map<string, RuntimeInstanceStats>();
  async stats(instance: string): Promise<RuntimeInstanceStats | undefined> {
    this.#maybeFail('stats');
    const set = this.counters.get(instance);
    const i = this.instances.get(instance);
    if (set || !i) return set;
    // As the router: every registered colour, counting from zero.
    const since = new Date(this.now()).toISOString();
    const colors = i.slots.map((s) => ({
      color: s.color,
      version: s.version,
      deploymentId: s.deploymentId ?? null,
      since,
      requests: 0,
      responses: {},
      latency: { bucketsMs: [], counts: [] },
    }));
    return { instance, at: since, active: i.active, colors };
  }
  /** Every test `runTest` was given, in order. */
  tests: RuntimeTestSpec[] = [];
  /** How each kind of test ends (default: passes); `hang` keeps it running until cancelled. */
  testOutcome = new Map<RuntimeTestSpec['kind'], { exitCode: number; output?: string } | 'hang'>();
  #cancels = new Map<string, () => void>();
  async runTest(spec: RuntimeTestSpec): Promise<RuntimeTestResult> {
    this.tests.push(spec);
    this.calls.push(`test ${spec.instance} ${spec.kind}`);
    this.#maybeFail('runTest');
    this.#get(spec.instance); // INSTANCE_NOT_FOUND, as the agent answers
    const outcome = this.testOutcome.get(spec.kind) ?? { exitCode: 0 };
    const base = { signal: null, timedOut: false, durationMs: 5, outputBytes: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', previewUrl: 'http://fake' };
    if (outcome === 'hang') {
      await new Promise<void>((resolve) => this.#cancels.set(spec.instance, resolve));
      return { ...base, passed: false, exitCode: null, signal: 'SIGKILL', cancelled: true, output: '' };
    }
    return { ...base, passed: outcome.exitCode === 0, exitCode: outcome.exitCode, cancelled: false, output: outcome.output ?? '' };
  }
  async cancelTest(instance: string) {
    this.calls.push(`cancelTest ${instance}`);
    this.#cancels.get(instance)?.();
    this.#cancels.delete(instance);
  }
  /** Per instance: the slot the last flip left, as the agent keeps it (`left` in its state file). */
  #left = new Map<string, { color: Color; version: string; deploymentId: string | undefined }>();
  /** Local rollbacks not acknowledged yet: made by {@link rollBackLocally}, or put here by a test. */
  pendingLocal: RuntimeLocalRollback[] = [];
  #localIds = 0;
  /** Every id `ackLocalRollbacks` was given, in order. */
  acked: string[][] = [];
  async localRollbacks(): Promise<RuntimeLocalRollback[]> {
    this.#maybeFail('localRollbacks');
    return structuredClone(this.pendingLocal);
  }
  async ackLocalRollbacks(ids: string[]) {
    this.calls.push(`ackLocalRollbacks ${ids.join(',')}`);
    this.#maybeFail('ackLocalRollbacks');
    this.acked.push([...ids]);
    this.pendingLocal = this.pendingLocal.filter((a) => !ids.includes(a.id));
  }
  /** What `cutover local rollback` does on the agent: back to the slot the last flip left, if it is still that slot and healthy. */
  async rollBackLocally(instance: string): Promise<RuntimeLocalRollback> {
    const i = this.instances.get(instance);
    if (!i) throw new CutoverError('INSTANCE_NOT_FOUND', `the agent on this machine does not serve an instance named "${instance}"`);
    if (!i.active) throw new CutoverError('NOTHING_TO_ROLL_BACK', `instance "${instance}" serves nothing on this machine yet`);
    const from = { color: i.active, version: this.#slot(i, i.active)?.version ?? 'unknown' };
    const earlier = this.pendingLocal.findLast((a) => a.instance === instance);
    if (earlier && earlier.to.color === i.active) throw new CutoverError('ALREADY_ROLLED_BACK', `instance "${instance}" was already rolled back on this machine`);
    const left = this.#left.get(instance);
    const slot = left ? this.#slot(i, left.color) : undefined;
    if (!left || left.color === i.active || !slot || slot.deploymentId !== left.deploymentId) {
      throw new CutoverError('NOTHING_TO_ROLL_BACK', `instance "${instance}" has no warm slot to roll back to`);
    }
    if (slot.state !== 'healthy') throw new CutoverError('SLOT_NOT_READY', `the warm ${left.color} slot of "${instance}" is ${slot.state}, not healthy`);
    const action = { id: `lrb_${++this.#localIds}`, instance, from, to: { color: left.color, version: left.version }, at: this.now() };
    this.pendingLocal.push(action);
    await this.flip(instance, left.color, left.version, 'rollback');
    return structuredClone(action);
  }
  /** The desired-state document held (as the agent keeps it), and the machine name it joined as, if any. */
  desired: { number: number; document: RuntimeDesiredState } | undefined;
  machineName: string | undefined;
  async applyDesired(number: number, document: RuntimeDesiredState): Promise<RuntimeDesiredAnswer> {
    this.calls.push(`applyDesired ${document.machine} ${number}`);
    this.#maybeFail('applyDesired');
    const answer = judgeDesired(this.desired?.number, this.machineName, number, document);
    if (answer.accepted) this.desired = { number, document };
    return answer;
  }
  active(instance: string): Color | null {
    return this.instances.get(instance)?.active ?? null;
  }
}
