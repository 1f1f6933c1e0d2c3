import { randomBytes } from 'node:crypto';
import { CutoverError } from '../shared/index.ts';
import type { Color, FlipReason } from '../shared/index.ts';
import type { AgentState, PersistedInstance, PersistedLocalRollback, PersistedPosition } from './agent-state.ts';

export type LocalRollbackPlan = { ok: true; from: PersistedPosition; to: PersistedPosition } | { ok: false; error: CutoverError };

/** What the planner is told about an instance: its record in the state file, and the supervisor's state of each slot. */
export interface LocalRollbackInput {
  name: string;
  instance: PersistedInstance | undefined;
  /** Every instance this agent serves (named when `name` is not one of them). */
  known: string[];
  /** The supervisor's state of each colour's slot (`healthy`, `restarting`…); absent: not running. */
  slotStates: Partial<Record<Color, string>>;
  /** Local rollbacks the server has not acknowledged yet. */
  pending: PersistedLocalRollback[];
}

const refuse = (code: 'INSTANCE_NOT_FOUND' | 'NOTHING_TO_ROLL_BACK' | 'ALREADY_ROLLED_BACK' | 'SLOT_NOT_READY', message: string, details: Record<string, unknown>): LocalRollbackPlan => ({
  ok: false,
  error: new CutoverError(code, message, { details }),
});

/**
 * Whether `cutover local rollback` may flip an instance, and from where to where (pure). It goes
 * back only to the slot the last flip left (`left`), still the same slot (same deployment id) and
 * healthy: a slot started since in that colour never served, so flipping to it would go forward
 * without the server. A second local rollback before the server has recorded the first is
 * refused: it would flip forward again.
 */
export function planLocalRollback(input: LocalRollbackInput): LocalRollbackPlan {
  const { name, instance } = input;
  if (!instance) {
    const list = input.known.length ? `it serves ${input.known.slice(0, 20).join(', ')}` : 'it serves no instance';
    return refuse('INSTANCE_NOT_FOUND', `the agent on this machine does not serve an instance named "${name}"; ${list}`, { instance: name });
  }
  if (!instance.active) return refuse('NOTHING_TO_ROLL_BACK', `instance "${name}" serves nothing on this machine yet; there is nothing to roll back`, { instance: name });
  const active = instance.active;
  const from = { color: active, version: instance.slots[active]?.version ?? 'unknown' };
  const earlier = input.pending.findLast((a) => a.instance === name);
  if (earlier && earlier.to.color === active) {
    return refuse(
      'ALREADY_ROLLED_BACK',
      `instance "${name}" was already rolled back on this machine at ${new Date(earlier.at).toISOString()} (from ${earlier.from.version} to ${earlier.to.version}); ` +
        'rolling back again would go forward. The server records that rollback when it is back; then deploy from the server',
      { instance: name, rollback: earlier.id },
    );
  }
  const left = instance.left;
  if (!left || left.color === active) {
    return refuse('NOTHING_TO_ROLL_BACK', `instance "${name}" has no earlier slot on this machine to roll back to (no flip has left one since the agent recorded it)`, { instance: name, current: from });
  }
  const slot = instance.slots[left.color];
  if (!slot || slot.deploymentId !== left.deploymentId) {
    const now = slot ? `now runs ${slot.version}, started since` : 'has been stopped';
    return refuse(
      'NOTHING_TO_ROLL_BACK',
      `instance "${name}" has no warm slot to roll back to: the ${left.color} slot that served ${left.version} ${now}. Roll back from the server once it is back (it can start ${left.version} again)`,
      { instance: name, color: left.color, version: left.version },
    );
  }
  const state = input.slotStates[left.color] ?? 'stopped';
  if (state !== 'healthy') {
    return refuse('SLOT_NOT_READY', `the warm ${left.color} slot of "${name}" (${left.version}) is ${state}, not healthy; nothing was changed`, {
      instance: name,
      color: left.color,
      version: left.version,
      state,
    });
  }
  return { ok: true, from, to: { color: left.color, version: left.version } };
}

export interface LocalRollbackDeps {
  state(): AgentState;
  /** The supervisor's state of a slot (`healthy`…), undefined when it does not run. */
  slotState(instance: string, color: Color): string | undefined;
  /** The agent's flip (persists the state, then moves traffic); with `expectVersion` it refuses a slot not serving it healthy. */
  flip(instance: string, color: Color, expectVersion: string, reason: FlipReason): Promise<{ flippedAt: number }>;
  save(): Promise<void>;
  now?: () => number;
  log: { warn(obj: object, msg: string): void };
}

/**
 * The agent's side of `cutover local rollback`: the flip to the warm slot without the server, the
 * record of it in the state file (written by the flip's own save, so the flip and its record land
 * together), and forgetting the records the server has acknowledged.
 */
export function createLocalRollbacks(deps: LocalRollbackDeps) {
  const now = deps.now ?? Date.now;
  const list = (): PersistedLocalRollback[] => deps.state().localRollbacks ?? [];
  const setList = (next: PersistedLocalRollback[]): void => {
    const state = deps.state();
    if (next.length) state.localRollbacks = next;
    else delete state.localRollbacks;
  };

  return {
    async rollback(name: string): Promise<PersistedLocalRollback> {
      const state = deps.state();
      const instance = state.instances[name];
      const slotStates: Partial<Record<Color, string>> = {};
      for (const color of ['blue', 'green'] as const) {
        const s = deps.slotState(name, color);
        if (s) slotStates[color] = s;
      }
      const plan = planLocalRollback({ name, instance, known: Object.keys(state.instances).sort(), slotStates, pending: list() });
      if (!plan.ok) throw plan.error;
      const action: PersistedLocalRollback = { id: `lrb_${randomBytes(6).toString('hex')}`, instance: name, from: plan.from, to: plan.to, at: now() };
      setList([...list(), action]);
      try {
        // The flip checks again, in the same tick as the switch, that the slot serves that version healthy.
        await deps.flip(name, plan.to.color, plan.to.version, 'rollback');
      } catch (error) {
        setList(list().filter((a) => a.id !== action.id));
        throw error;
      }
      deps.log.warn({ instance: name, from: plan.from, to: plan.to, rollback: action.id }, 'rolled back on this machine without the server; it records the rollback when it is back');
      return { ...action };
    },

    /** The local rollbacks the server has not acknowledged, oldest first. */
    pending: (): PersistedLocalRollback[] => list().map((a) => structuredClone(a)),

    /** Forgets acknowledged rollbacks (unknown ids are ignored); persisted before it resolves. */
    async acknowledge(ids: string[]): Promise<void> {
      const before = list();
      const next = before.filter((a) => !ids.includes(a.id));
      if (next.length === before.length) return;
      setList(next);
      try {
        await deps.save();
      } catch (error) {
        setList(before); // the server acknowledges again at its next round
        throw error;
      }
    },
  };
}

export type LocalRollbacks = ReturnType<typeof createLocalRollbacks>;
