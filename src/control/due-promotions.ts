import { compareVersions } from '../releases/index.ts';
import type { ChannelMove, ChannelPointer, ChannelRecord, ProblemRecord } from '../store/index.ts';
import { evaluatePromotion } from './promotion-policy.ts';

/** What `duePromotions` decides from. Plain data; `now` is the only time it knows. */
export interface DuePromotionsInput {
  apps: readonly string[];
  channels: readonly ChannelRecord[];
  /** Where every channel points, all apps. */
  pointers: readonly ChannelPointer[];
  /** Every channel move, all apps, oldest first. */
  moves: readonly ChannelMove[];
  /** Open problems, all apps (resolved ones are ignored). */
  openProblems: readonly ProblemRecord[];
  now: number;
}

/** One promotion the scheduler should make now: `channel` moves from `from` to `version` for `app`. */
export interface DuePromotion {
  app: string;
  channel: string;
  version: string;
  from: string | null;
}

/**
 * The automatic promotions due at `now`, in the order of `apps`, then of `channels`. For each app
 * and each channel with `policy.autoPromote` and a soak channel, the candidate is the version the
 * soak channel points at; it is due when the channel does not point at it yet, it is newer (semver)
 * than what the channel points at (a channel is never moved backwards automatically), and the
 * channel's policy allows it now. Pure: the scheduler promotes each one through the normal,
 * audited promotion, which checks the policy again.
 */
export function duePromotions(input: DuePromotionsInput): DuePromotion[] {
  const auto = input.channels.filter((c) => c.policy.autoPromote === true && c.policy.soak !== null);
  if (auto.length === 0) return [];
  const pointers = new Map<string, Map<string, string>>();
  for (const p of input.pointers) {
    let byChannel = pointers.get(p.app);
    if (!byChannel) pointers.set(p.app, (byChannel = new Map()));
    byChannel.set(p.channel, p.version);
  }
  // Grouped once: evaluatePromotion scans every move and problem it is given.
  const movesByApp = groupByApp(input.moves);
  const problemsByApp = groupByApp(input.openProblems.filter((p) => p.status === 'open'));

  const due: DuePromotion[] = [];
  for (const app of input.apps) {
    const byChannel = pointers.get(app);
    for (const channel of auto) {
      const soak = channel.policy.soak;
      const candidate = soak ? byChannel?.get(soak.channel) : undefined;
      if (candidate === undefined) continue;
      const from = byChannel?.get(channel.name) ?? null;
      if (from === candidate) continue;
      if (from !== null && compareVersions(candidate, from) <= 0) continue;
      const verdict = evaluatePromotion({
        app,
        version: candidate,
        channel,
        moves: movesByApp.get(app) ?? [],
        openProblems: problemsByApp.get(app) ?? [],
        now: input.now,
      });
      if (verdict.allowed) due.push({ app, channel: channel.name, version: candidate, from });
    }
  }
  return due;
}

function groupByApp<T extends { app: string }>(items: readonly T[]): Map<string, T[]> {
  const byApp = new Map<string, T[]>();
  for (const item of items) {
    const list = byApp.get(item.app);
    if (list) list.push(item);
    else byApp.set(item.app, [item]);
  }
  return byApp;
}
