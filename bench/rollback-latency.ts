/**
 * Rollback to a warm slot: how long from the API request until the router answers with the other
 * version. See README.md ("rollback-latency") for what is measured and why.
 */
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import { apiCall, deployCall, intFlag, settled, step, withCutover } from './lib/cutover-process.ts';
import type { BenchCutover } from './lib/cutover-process.ts';
import { header, row, summarise, verdict } from './lib/stats.ts';
import type { Summary } from './lib/stats.ts';

export const ROLLBACK_TARGET_MS = 10;
const HOST = 'web.test';
const OLD = '1.0.0';
const NEW = '1.1.0';

export interface RollbackOptions {
  /** Measured flips (half rollbacks, half "deploy 1.1.0" back to the warm slot). */
  n: number;
  /** Flips run first and not counted (JIT, first fsyncs, connection set-up). */
  warmup: number;
  /**
   * false: no router polling, server-side figures only. The tight poll loop takes a core of a
   * small machine (bench + router + app); this shows how much of the server figure that costs.
   */
  poll: boolean;
}

export interface RollbackResult {
  n: number;
  /** Client: POST sent → first router response carrying the other version received. */
  client: Summary;
  /** Client: POST sent → the request that first got the other version was sent (lower bound). */
  clientSent: Summary;
  /** Server: flip step `detail.flippedAt` − deployment `createdAt`. */
  server: Summary;
  /** Where the time goes, per phase (ms, millisecond-grain server timestamps). */
  phases: Record<string, Summary>;
  /** Router requests per flip while the poller ran. */
  polls: Summary;
  /** POST sent → its 202 received. */
  postResponse: Summary;
  /** Per measured flip: epoch ms of the POST, of the deployment's creation, of the flip, of the first new answer. */
  flips: {
    id: string;
    sentAt: number;
    createdAt: number;
    flippedAt: number;
    seenAt: number;
    serverMs: number;
    phases: Record<string, number>;
  }[];
  lines: string[];
}

const epoch = (t: number) => performance.timeOrigin + t;

/**
 * Sends GETs back to back on one kept-alive connection until an answer carries `target`. Calls
 * `ready` after the first answer, which must still be the other version.
 */
async function pollUntil(router: Client, target: string, ready: () => void, isStopped: () => boolean) {
  let polls = 0;
  for (;;) {
    if (isStopped()) throw new Error('poller stopped');
    const sentAt = performance.now();
    const res = await router.request({ method: 'GET', path: '/api/version', headers: { host: HOST } });
    await res.body.dump();
    const receivedAt = performance.now();
    const version = String(res.headers['x-app-version']);
    if (res.statusCode !== 200) throw new Error(`the router answered ${res.statusCode} during a flip`);
    polls++;
    if (version === target) {
      if (polls === 1) throw new Error(`the router already served ${target} before the flip was requested`);
      return { sentAt, receivedAt, polls };
    }
    if (polls === 1) ready();
  }
}

async function flipOnce(
  c: BenchCutover,
  router: Client,
  kind: 'rollback' | 'deploy',
  isStopped: () => boolean,
  poll: boolean,
) {
  const target = kind === 'rollback' ? OLD : NEW;
  let ready!: () => void;
  const polling = new Promise<void>((r) => (ready = r));
  const none = { sentAt: Number.NaN, receivedAt: Number.NaN, polls: Number.NaN };
  const watch = poll ? pollUntil(router, target, ready, isStopped) : Promise.resolve(none);
  watch.catch(() => undefined); // awaited below; avoid an unhandled rejection if the POST fails first
  if (poll) await Promise.race([polling, watch]);
  const path = kind === 'rollback' ? '/api/instances/web/rollback' : '/api/instances/web/deploy';
  const body = JSON.stringify(kind === 'rollback' ? { reason: 'bench' } : { version: NEW });
  const t0 = performance.now();
  const post = c.api
    .request({
      method: 'POST',
      path,
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
      body,
    })
    .then(async (res) => {
      const text = await res.body.text();
      const at = performance.now();
      if (res.statusCode !== 202) throw new Error(`POST ${path} → ${res.statusCode}: ${text}`);
      return { at, d: JSON.parse(text) as { id: string } };
    });
  const [seen, answer] = await Promise.all([watch, post]);
  const d = await settled(c, answer.d.id);
  if (d.strategy !== 'flip-to-warm')
    throw new Error(`${kind} ${d.id} was ${d.strategy}, not a flip to the warm slot`);
  return { t0, seen, postAt: answer.at, d };
}

/** Runs the benchmark against a fresh Cutover and returns the figures and a printable report. */
export async function runRollbackLatency(options: RollbackOptions): Promise<RollbackResult> {
  return withCutover({ name: 'rollback-latency', deadlineMs: 120_000 + options.n * 2_000 }, async (c) => {
    await c.publish([OLD, NEW]);
    const created = await c.cli(['instance', 'create', 'web', '--app', 'hello', '--host', HOST]);
    if (created.code !== 0) throw new Error(`instance create failed: ${created.stdout}${created.stderr}`);
    for (const v of [OLD, NEW]) {
      const d = await deployCall(c, '/api/instances/web/deploy?wait=60000', { version: v });
      if (d.status !== 'succeeded') throw new Error(`deploying ${v} failed: ${JSON.stringify(d.error)}`);
      c.track(step(d, 'start').detail?.pid);
    }
    await apiCall(c, 'GET', '/api/health');

    const router = new Client(c.routerUrl, { keepAliveTimeout: 60_000, pipelining: 1 });
    let stopped = false;
    const samples: {
      id: string;
      sentAt: number;
      createdAt: number;
      flippedAt: number;
      seenAt: number;
      client: number;
      clientSent: number;
      server: number;
      post: number;
      polls: number;
      phases: Record<string, number>;
    }[] = [];
    try {
      for (let i = 0; i < options.warmup + options.n; i++) {
        const kind = i % 2 === 0 ? 'rollback' : 'deploy';
        const { t0, seen, postAt, d } = await flipOnce(c, router, kind, () => stopped, options.poll);
        if (i < options.warmup) continue;
        const flip = step(d, 'flip');
        const flippedAt = flip.detail?.flippedAt ?? Number.NaN;
        samples.push({
          id: d.id,
          sentAt: epoch(t0),
          createdAt: d.createdAt,
          flippedAt,
          seenAt: epoch(seen.receivedAt),
          client: seen.receivedAt - t0,
          clientSent: seen.sentAt - t0,
          server: flippedAt - d.createdAt,
          post: postAt - t0,
          polls: seen.polls,
          phases: {
            'client send → createdAt (HTTP, auth, plan, insert)': d.createdAt - epoch(t0),
            'createdAt → flip start (lock, save)': (flip.startedAt ?? 0) - d.createdAt,
            'flip start → flippedAt (agent call)': flippedAt - (flip.startedAt ?? 0),
            'flippedAt → first new answer received': epoch(seen.receivedAt) - flippedAt,
          },
        });
      }
    } finally {
      stopped = true;
      await router.close().catch(() => undefined);
    }

    const pick = (f: (s: (typeof samples)[number]) => number) => summarise(samples.map(f));
    const phaseNames = Object.keys(samples[0]?.phases ?? {});
    const result: RollbackResult = {
      n: samples.length,
      client: pick((s) => s.client),
      clientSent: pick((s) => s.clientSent),
      server: pick((s) => s.server),
      postResponse: pick((s) => s.post),
      polls: pick((s) => s.polls),
      phases: Object.fromEntries(phaseNames.map((p) => [p, pick((s) => s.phases[p] ?? Number.NaN)])),
      flips: samples.map((s) => ({
        id: s.id,
        sentAt: s.sentAt,
        createdAt: s.createdAt,
        flippedAt: s.flippedAt,
        seenAt: s.seenAt,
        serverMs: s.server,
        phases: s.phases,
      })),
      lines: [],
    };
    result.lines = [
      `rollback-latency: ${result.n} flips to the warm slot (alternating rollback / deploy ${NEW}), ${options.warmup} warm-up flips not counted` +
        (options.poll ? '' : '; router polling OFF (server-side figures only)'),
      header(),
      row('client: POST sent → new version received', result.client),
      row('client: POST sent → that request sent', result.clientSent),
      row('server: flippedAt − createdAt', result.server, 0),
      row('client: POST sent → 202 received', result.postResponse),
      row('router polls per flip (count)', result.polls, 0),
      'where the time goes (server timestamps, 1 ms grain):',
      ...phaseNames.map((p) => row(`  ${p}`, result.phases[p]!, 0)),
      'the three slowest flips (server figure), by phase:',
      ...[...samples]
        .sort((a, b) => b.server - a.server)
        .slice(0, 3)
        .map(
          (s) =>
            `  ${s.server} ms = ${phaseNames
              .slice(1, 3)
              .map((p) => s.phases[p])
              .join(' + ')} (lock/save + flip call, which checks the warm slot)`,
        ),
      `target ≤ ${ROLLBACK_TARGET_MS} ms: client ${verdict(result.client, ROLLBACK_TARGET_MS)}; server ${verdict(result.server, ROLLBACK_TARGET_MS)}`,
    ];
    return result;
  });
}

if (import.meta.main) {
  const result = await runRollbackLatency({
    n: intFlag('n', 50),
    warmup: intFlag('warmup', 4),
    poll: !process.argv.includes('--no-poll'),
  });
  console.log(result.lines.join('\n'));
}
