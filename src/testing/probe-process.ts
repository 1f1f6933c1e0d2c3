// The prober's process (`startProber` in prober.ts spawns it, inside a network namespace when
// asked): one loop per router, each sending `GET <path>` with the instance's Host every
// `intervalMs`, bounded by a duration and a count, recording (sent, answered, status, version).
// Node builtins only, so it starts fast and loads nothing of Cutover.
//
// argv[2] is the JSON of its config. It prints `ready` once its loops run, then every 100 ms a line
// `last <json>`: each router's latest answer (sent time, status, version), for a test waiting until
// the machines settle. On SIGTERM, or when its bounds are reached, it writes every sample as JSON to
// `config.out` and prints `done`.
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

interface Target {
  machine: string;
  url: string;
  host: string;
}

interface Config {
  targets: Target[];
  intervalMs: number;
  durationMs: number;
  maxRequests: number;
  maxInFlight: number;
  timeoutMs: number;
  path: string;
  out: string;
}

/** [sentAt, answeredAt, status (0: no answer), version or the error's message]; times are epoch ms, µs grain. */
type Row = [number, number, number, string];

const config = JSON.parse(process.argv[2]!) as Config;
// Wall clock at process start plus monotonic time: comparable across processes of one machine.
const now = () => performance.timeOrigin + performance.now();
const rows = config.targets.map(() => [] as Row[]);
const skipped = config.targets.map(() => 0);
const inFlight = config.targets.map(() => 0);
let sent = 0;
let running = true;
const pending = new Set<Promise<void>>();

function probe(i: number, agent: Agent): Promise<void> {
  const target = config.targets[i]!;
  const url = new URL(target.url);
  const sentAt = now();
  inFlight[i]! += 1;
  return new Promise<void>((resolve) => {
    let settled = false;
    const done = (status: number, what: string) => {
      if (settled) return;
      settled = true;
      inFlight[i]! -= 1;
      rows[i]!.push([sentAt, now(), status, what]);
      resolve();
    };
    const req = request({ host: url.hostname, port: url.port, path: config.path, agent, headers: { host: target.host } }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0, String(res.headers['x-app-version'] ?? '')));
      res.on('error', (error) => done(0, error.message));
    });
    req.setTimeout(config.timeoutMs, () => req.destroy(new Error(`no answer in ${config.timeoutMs} ms`)));
    req.on('error', (error) => done(0, error.message));
    req.end();
  });
}

const agents = config.targets.map(() => new Agent({ keepAlive: true, maxSockets: config.maxInFlight }));
const timer = setInterval(() => {
  if (!running) return;
  for (let i = 0; i < config.targets.length; i++) {
    if (sent >= config.maxRequests) return void finish();
    // A router that answers slower than the interval gets at most maxInFlight requests at once;
    // the ticks it could not take are counted, not queued (a queue would hide the gap).
    if (inFlight[i]! >= config.maxInFlight) {
      skipped[i]! += 1;
      continue;
    }
    sent += 1;
    const p = probe(i, agents[i]!);
    pending.add(p);
    void p.then(() => pending.delete(p));
  }
}, config.intervalMs);

let finishing: Promise<void> | undefined;
function finish(): Promise<void> {
  finishing ??= (async () => {
    running = false;
    clearInterval(timer);
    clearInterval(report);
    await Promise.all(pending);
    for (const agent of agents) agent.destroy();
    const output = { targets: config.targets.map((t, i) => ({ ...t, skipped: skipped[i], rows: rows[i] })) };
    writeFileSync(config.out, JSON.stringify(output));
    process.stdout.write('done\n');
    process.exit(0);
  })();
  return finishing;
}

// The latest answer of each router (by send time), for `Prober.latest()`.
const report = setInterval(() => {
  const last = Object.fromEntries(
    config.targets.map((t, i) => {
      // Answers come back nearly in send order: the latest sent is among the last few answered.
      const r = rows[i]!.slice(-16).reduce<Row | undefined>((a, b) => (a === undefined || b[0] > a[0] ? b : a), undefined);
      return [t.machine, r ? { sentAt: r[0], status: r[2], version: r[3] } : null];
    }),
  );
  process.stdout.write(`last ${JSON.stringify(last)}\n`);
}, 100);
report.unref();

process.once('SIGTERM', () => void finish());
setTimeout(() => void finish(), config.durationMs).unref();
process.stdout.write('ready\n');
