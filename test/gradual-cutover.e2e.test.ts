import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, request } from 'undici';
import { alive, cutover, manifest, portFlags, ports, startProcess, tempDir } from './helpers.ts';
import { waitFor } from '../src/testing/index.ts';

/**
 * The gradual cutover as a user drives it, with `cutover up` and the example app: weighted steps
 * under keep-alive load (sticky clients never go back), a manual hold with the preview route and an
 * abort, maintenance mode, and a bad `--steps` that changes nothing. Zero failed requests throughout.
 */
const HOST = 'web.test';
const STICKY = 'cutover_sticky_web';

let data: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let http: number;
let api: number;
let token: string;

interface Step {
  name: string;
  status: string;
  startedAt?: string;
  finishedAt?: string;
  detail?: Record<string, unknown>;
}

interface Deployment {
  id: string;
  status: string;
  strategy: string;
  toVersion: string;
  toColor: string;
  steps: Step[];
}

interface InstanceStatus {
  currentVersion: string | null;
  activeColor: string | null;
  slots: Record<string, { version: string; status: string } | undefined>;
  lastDeployment?: Deployment;
}

before(async () => {
  data = await tempDir('gradual');
  const p = await ports();
  http = p.http;
  api = p.api;
  up = await startProcess(data.dir, ['up', ...portFlags(p)]);
  token = up.info.adminToken as string;
  const published = await Promise.all(
    ['1.0.0', '1.1.0', '1.2.0'].map(async (v) => cutover(data.dir, ['release', 'publish', await manifest(data.dir, v)])),
  );
  for (const r of published) assert.equal(r.code, 0, r.stderr + r.stdout);
  const created = await cutover(data.dir, ['instance', 'create', 'web', '--app', 'hello', '--host', HOST]);
  assert.equal(created.code, 0, created.stdout);
  const first = await cutover(data.dir, ['deploy', 'web', '1.0.0', '--wait']);
  assert.equal(first.json?.status, 'succeeded', first.stdout + first.stderr);
});

after(async () => {
  await up?.stop();
  await data?.cleanup();
});

/** The instance as the API reports it (faster than a CLI process per poll). */
async function status(): Promise<InstanceStatus> {
  const res = await request(`http://127.0.0.1:${api}/api/instances/web`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.statusCode, 200);
  return (await res.body.json()) as InstanceStatus;
}

/** One request through the router as a fresh client: status, version header, body. */
async function once(headers: Record<string, string> = {}, path = '/api/version') {
  const res = await request(`http://127.0.0.1:${http}${path}`, { headers: { host: HOST, ...headers } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

interface Sample {
  /** `c<loop>.<n>` for a cookie client (a new one every few requests), `p<loop>` for a cookie-less loop. */
  client: string;
  sentAt: number;
  receivedAt: number;
  version: string;
  /** The sticky cookie value the request carried ('' when none). */
  sent: string;
  /** The sticky cookie value the answer set ('' when none). */
  set: string;
}

function stickyValue(header: string | string[] | undefined): string {
  for (const line of typeof header === 'string' ? [header] : (header ?? [])) {
    if (line.startsWith(`${STICKY}=`)) return line.slice(STICKY.length + 1).split(';')[0] ?? '';
  }
  return '';
}

/**
 * Keep-alive clients hitting the router until stopped: `cookieLoops` loops that each play a
 * browser keeping the sticky cookie (a new browser every `rotateEvery` requests, so new clients
 * arrive during every step), and `plainLoops` loops that never send a cookie.
 */
function traffic(cookieLoops: number, plainLoops: number, rotateEvery = 10) {
  const pool = new Pool(`http://127.0.0.1:${http}`, { connections: cookieLoops + plainLoops, pipelining: 1 });
  const samples: Sample[] = [];
  const failed: { client: string; at: number; status?: number; error?: string }[] = [];
  let running = true;
  const loop = async (index: number, cookies: boolean) => {
    let n = 0;
    let jar = '';
    while (running) {
      const client = cookies ? `c${index}.${Math.floor(n / rotateEvery)}` : `p${index}`;
      if (n % rotateEvery === 0) jar = '';
      n++;
      const sentAt = Date.now();
      const sent = jar;
      try {
        const res = await pool.request({
          method: 'GET',
          path: '/api/version',
          headers: { host: HOST, ...(sent ? { cookie: `${STICKY}=${sent}` } : {}) },
        });
        const text = await res.body.text();
        const receivedAt = Date.now();
        if (res.statusCode !== 200) {
          failed.push({ client, at: sentAt, status: res.statusCode, error: text.slice(0, 200) });
          continue;
        }
        const set = stickyValue(res.headers['set-cookie']);
        if (cookies && set) jar = set;
        samples.push({ client, sentAt, receivedAt, version: (JSON.parse(text) as { version: string }).version, sent, set });
      } catch (error) {
        failed.push({ client, at: sentAt, error: (error as Error).message });
      }
    }
  };
  const loops = [
    ...Array.from({ length: cookieLoops }, (_, i) => loop(i, true)),
    ...Array.from({ length: plainLoops }, (_, i) => loop(cookieLoops + i, false)),
  ];
  let stopped: Promise<void> | undefined;
  return {
    samples,
    failed,
    stop(): Promise<void> {
      running = false;
      stopped ??= Promise.all(loops).then(() => pool.close());
      return stopped;
    },
  };
}


const share = (samples: Sample[], version: string) => samples.filter((s) => s.version === version).length / samples.length;

/** A step that ran, with its ISO 8601 times (the answer's) as ms, to compare with the samples' clocks. */
function stepOf(d: Deployment, name: string): { name: string; status: string; startedAt: number; finishedAt: number; detail: Record<string, unknown> } {
  const s = d.steps.find((x) => x.name === name);
  assert.ok(s?.startedAt && s.finishedAt && s.detail, `step ${name} ran: ${JSON.stringify(s)}`);
  const detail = { ...s.detail };
  for (const k of ['shiftedAt', 'flippedAt', 'healthySince']) if (typeof detail[k] === 'string') detail[k] = Date.parse(detail[k]);
  return { name: s.name, status: s.status, startedAt: Date.parse(s.startedAt), finishedAt: Date.parse(s.finishedAt), detail };
}

test('a gradual cutover under keep-alive load: weighted steps, sticky clients, zero failed requests', async () => {
  const load = traffic(3, 3);
  try {
    await waitFor('the load to reach the router', async () => load.samples.length > 50, 10_000);
    const deploying = cutover(data.dir, ['deploy', 'web', '1.1.0', '--steps', '10,50,100', '--pause', '1500ms', '--wait']);
    // While it holds, the step's detail says what it waits for.
    const holding = await waitFor('a weighted step to hold', async () => {
      const s = (await status()).lastDeployment?.steps.find((x) => x.status === 'running' && x.name.startsWith('shift-'));
      return typeof s?.detail?.holding === 'string' ? s : undefined;
    }, 20_000);
    assert.ok(!Number.isNaN(Date.parse(holding.detail?.holding as string)), `a timed hold shows when it ends: ${JSON.stringify(holding.detail)}`);
    assert.equal(holding.detail?.percent, Number(holding.name.slice('shift-'.length)));

    const deployed = await deploying;
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    const d = deployed.json as Deployment;
    assert.equal(d.status, 'succeeded');
    assert.deepEqual(
      d.steps.map((s) => `${s.name}:${s.status}`),
      ['prepare', 'start', 'health', 'shift-10', 'shift-50', 'flip', 'finalise'].map((n) => `${n}:done`),
    );
    const s10 = stepOf(d, 'shift-10');
    const s50 = stepOf(d, 'shift-50');
    const flip = stepOf(d, 'flip');
    assert.equal(s10.detail.percent, 10);
    assert.equal(s50.detail.percent, 50);
    assert.ok((s10.detail.heldMs as number) >= 1500 && (s50.detail.heldMs as number) >= 1500, 'each step held for the pause');
    const flippedAt = flip.detail.flippedAt as number;
    // Let requests sent after the flip come back.
    const flipSeen = load.samples.length;
    await waitFor('requests after the flip', async () => load.samples.length > flipSeen + 100, 10_000);
    await load.stop();

    assert.deepEqual(load.failed, [], 'zero failed requests');
    const { samples } = load;
    const plain = samples.filter((s) => s.client.startsWith('p'));
    // A request was routed between when it was sent and when its answer arrived; shiftedAt is when the
    // router took the new weight, so a request is attributed to a step only if both ends lie inside it.
    const within = (list: Sample[], from: number, to: number) => list.filter((s) => s.sentAt > from && s.receivedAt < to);
    const plain10 = within(plain, s10.detail.shiftedAt as number, s50.startedAt);
    const plain50 = within(plain, s50.detail.shiftedAt as number, flip.startedAt);
    assert.ok(plain10.length >= 20 && plain50.length >= 20, `enough cookie-less requests in each step (${plain10.length}, ${plain50.length})`);
    const share10 = share(plain10, '1.1.0');
    const share50 = share(plain50, '1.1.0');
    assert.ok(share10 > 0 && share10 < 0.4, `shift-10: 1.1.0 answered ${(share10 * 100).toFixed(1)}% of cookie-less requests`);
    assert.ok(share50 > 0.2 && share50 < 0.8, `shift-50: 1.1.0 answered ${(share50 * 100).toFixed(1)}% of cookie-less requests`);
    assert.ok(share50 > share10, 'the new release gets more of the traffic at each step');

    const early = samples.filter((s) => s.receivedAt < s10.startedAt);
    assert.ok(early.length > 0 && early.every((s) => s.version === '1.0.0'), 'before the first step, 1.0.0 served everyone');
    const late = samples.filter((s) => s.sentAt > flippedAt);
    assert.ok(late.length > 0, 'requests were sent after the flip');
    assert.deepEqual(late.filter((s) => s.version !== '1.1.0'), [], 'after the flip everyone gets 1.1.0');

    // Sticky: a cookie client keeps the colour it was given until the flip, and never goes back.
    const byClient = new Map<string, Sample[]>();
    for (const s of samples) if (s.client.startsWith('c')) byClient.set(s.client, [...(byClient.get(s.client) ?? []), s]);
    const assigned = { '1.0.0': 0, '1.1.0': 0 } as Record<string, number>;
    const versionOf = new Map<string, string>();
    for (const [client, list] of byClient) {
      let seenNew = false;
      for (const s of list) {
        if (s.set) {
          versionOf.set(s.set, s.version);
          assigned[s.version] = (assigned[s.version] ?? 0) + 1;
        }
        if (s.sent && s.receivedAt < flip.startedAt) {
          assert.equal(s.version, versionOf.get(s.sent), `${client} kept the colour its sticky cookie names before the flip`);
        }
        if (seenNew) assert.equal(s.version, '1.1.0', `${client} went back from 1.1.0 to 1.0.0: ${JSON.stringify(list)}`);
        seenNew ||= s.version === '1.1.0';
      }
    }
    assert.ok((assigned['1.0.0'] ?? 0) > 0 && (assigned['1.1.0'] ?? 0) > 0, `cookie clients were given both colours: ${JSON.stringify(assigned)}`);
    const stuck = [...byClient.values()].filter((l) => l.some((s) => s.sent && s.receivedAt < flip.startedAt && s.sentAt > s50.startedAt));
    assert.ok(stuck.length > 0, 'some cookie clients carried their cookie through shift-50');

    const after = await status();
    assert.equal(after.currentVersion, '1.1.0');
    assert.equal(after.slots[after.activeColor === 'blue' ? 'green' : 'blue']?.status, 'warm');
  } finally {
    await load.stop();
  }
});

test('a manual hold at 0%: only the preview token reaches the new release, and an abort changes nothing for users', async () => {
  const load = traffic(2, 2);
  try {
    const started = await cutover(data.dir, ['deploy', 'web', '1.2.0', '--steps', '0', '--pause', 'manual']);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    const id = (started.json as Deployment).id;
    assert.equal((started.json as Deployment).strategy, 'start-and-flip');
    const held = await waitFor('shift-0 to hold until resumed', async () => {
      const d = (await status()).lastDeployment;
      const s = d?.steps.find((x) => x.name === 'shift-0');
      return d?.id === id && s?.status === 'running' && s.detail?.holding === 'until resumed' ? d : undefined;
    }, 20_000);
    assert.equal(held.status, 'running');
    const newColor = held.toColor;

    const preview = await cutover(data.dir, ['preview', 'web']);
    assert.equal(preview.code, 0, preview.stdout + preview.stderr);
    assert.equal(preview.json.instance, 'web');
    assert.equal(preview.json.header, 'x-cutover-preview');
    assert.deepEqual(preview.json.reaches, { color: newColor, version: '1.2.0' });
    assert.match(preview.json.path, /^\/\.well-known\/cutover\/preview\?token=/);
    const token = preview.json.token as string;
    for (let i = 0; i < 5; i++) {
      const r = await once({ 'x-cutover-preview': token });
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).version, '1.2.0', 'the preview token reaches the idle slot');
      assert.equal(JSON.parse(r.body).color, newColor);
    }
    const denied = await once({ 'x-cutover-preview': `${token}x` });
    assert.equal(denied.status, 403);
    assert.equal(JSON.parse(denied.body).code, 'PREVIEW_DENIED', denied.body);
    const normal = await once();
    assert.equal(JSON.parse(normal.body).version, '1.1.0', 'without the token, the old release');

    const aborted = await cutover(data.dir, ['abort', 'web', '--wait', '--reason', 'e2e']);
    assert.equal(aborted.code, 0, aborted.stdout + aborted.stderr);
    assert.equal(aborted.json.id, id);
    assert.equal(aborted.json.status, 'aborted');
    assert.equal(aborted.json.error?.code, 'DEPLOYMENT_ABORTED');
    const count = load.samples.length;
    await waitFor('requests after the abort', async () => load.samples.length > count + 50, 10_000);
    await load.stop();

    assert.deepEqual(load.failed, [], 'zero failed requests');
    assert.ok(load.samples.length > 100, `enough load (${load.samples.length})`);
    assert.deepEqual(load.samples.filter((s) => s.version !== '1.1.0'), [], 'users only ever got the old release');
    assert.deepEqual(load.samples.filter((s) => s.set !== ''), [], 'nobody was given a sticky cookie at 0%');

    const after = await status();
    assert.equal(after.currentVersion, '1.1.0');
    assert.notEqual(after.activeColor, newColor);
    assert.equal(after.slots[newColor] ?? null, null, `the new slot is given up: ${JSON.stringify(after.slots)}`);
    const shift0 = stepOf(aborted.json as Deployment, 'shift-0');
    assert.equal(shift0.status, 'failed');
    const pid = stepOf(aborted.json as Deployment, 'start').detail.pid as number;
    await waitFor(`the new slot's process ${pid} to exit`, async () => !alive(pid), 10_000);
    const gone = await once({ 'x-cutover-preview': token });
    assert.equal(gone.status, 503, gone.body);
    assert.equal(JSON.parse(gone.body).code, 'NO_PREVIEW_SLOT', 'the preview has no idle slot to reach any more');

    const closed = await cutover(data.dir, ['preview', 'web', '--off']);
    assert.equal(closed.code, 0, closed.stdout + closed.stderr);
    assert.deepEqual(closed.json, { instance: 'web', preview: false });
    assert.equal((await once({ 'x-cutover-preview': token })).status, 403, 'a closed preview denies the old token');

    const resumed = await cutover(data.dir, ['resume', 'web']);
    assert.equal(resumed.code, 4, resumed.stdout + resumed.stderr);
    assert.equal(resumed.json.error.code, 'DEPLOYMENT_NOT_RUNNING');
    assert.match(resumed.json.error.message, /no deployment is running on "web".*aborted/);
  } finally {
    await load.stop();
  }
});

test('maintenance mode answers every request with a 503 page and Retry-After, then serves again', async () => {
  const on = await cutover(data.dir, ['maintenance', 'web', 'on', '--retry-after', '60']);
  assert.equal(on.code, 0, on.stdout + on.stderr);
  assert.deepEqual(on.json, { instance: 'web', maintenance: true });
  for (const path of ['/', '/api/version']) {
    const r = await once({}, path);
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '60');
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.match(r.body, /<html[\s\S]*maintenance/i);
  }
  const off = await cutover(data.dir, ['maintenance', 'web', 'off']);
  assert.equal(off.code, 0, off.stdout + off.stderr);
  assert.deepEqual(off.json, { instance: 'web', maintenance: false });
  const r = await once();
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).version, '1.1.0');
});

test('steps that go down are refused with exit code 2, naming the step, and nothing starts', async () => {
  const before = (await status()).lastDeployment?.id;
  const bad = await cutover(data.dir, ['deploy', 'web', '1.2.0', '--steps', '50,10']);
  assert.equal(bad.code, 2, bad.stdout + bad.stderr);
  assert.equal(bad.json.error.code, 'VALIDATION_FAILED');
  assert.match(bad.json.error.message, /steps\[1\]: must be larger than the step before \(50\)/);
  const now = await status();
  assert.equal(now.lastDeployment?.id, before, 'no new deployment');
  assert.equal(now.currentVersion, '1.1.0');
});
