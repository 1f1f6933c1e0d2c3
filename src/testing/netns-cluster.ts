// A Cutover cluster in network namespaces, for the end-to-end tests and the benchmarks: a server in
// one namespace and N agents, each in a namespace of its own (a "machine"), joined with join tokens
// over pinned TLS. The agents' links meet on a bridge in the server's namespace, so the server's
// machine reaches every router (as a load balancer in front would) and a link can be dropped alone.
//
// Names carry this process's pid and a short prefix (one per file), so parallel runs never meet.
// The addresses are a /27 of 10.0.0.0/8 from the pid (a server and up to 29 agents); they only
// exist inside the cluster's own namespaces, so even two runs that drew the same /27 could not meet.
// `stop()` ends only what the cluster started: its processes by pid, then whatever is left in its
// own namespaces (slot processes of an agent that was killed), then the namespaces.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { siblingModule } from '../shared/index.ts';
import { alive, cutover, isolateCliConfig, localToken, startProcess, tempDir } from './cli-process.ts';
import type { CliResult } from './cli-process.ts';
import { startProber } from './prober.ts';
import type { Prober, ProberOptions } from './prober.ts';
import { makeTestCerts } from './tls-certs.ts';
import type { TestCerts } from './tls-certs.ts';
import { waitFor } from './wait-for.ts';

const run = promisify(execFile);
const RELAY = siblingModule(import.meta.url, './unix-relay');
const ip = (...args: string[]) => run('ip', args);

type Started = Awaited<ReturnType<typeof startProcess>>;

export interface ClusterOptions {
  /** Agents started and joined by `startNetnsCluster` (more can be added with `addAgent`). */
  agents: number;
  /** Two letters or digits that make this file's names its own (`ip` names are at most 15 bytes). */
  prefix: string;
  /** `--label` values of agent `i` (1-based); default `role=web`. */
  labels?: (i: number) => string[];
  serverArgs?: string[];
  /** Settings of the server, as `CUTOVER_*` variables (e.g. a short `CUTOVER_LOCK_TTL`). */
  serverEnv?: Record<string, string>;
  agentArgs?: string[];
  agentEnv?: Record<string, string>;
  /**
   * Several server replicas on one PostgreSQL database (issue 19), all in the server's namespace:
   * replica `r` listens on port `7443 + r`. `database` must be reachable from that namespace (a
   * Unix-socket URL: see `TestCluster.socketUrl`). Every agent's join token names every replica.
   */
  replicas?: { count: number; database: string };
  /** The replica agent `i` (1-based) dials first (0-based); default 0. */
  agentReplica?: (i: number) => number;
}

/** One server replica of the cluster. */
export interface ClusterReplica {
  index: number;
  url: string;
  dataDir: string;
  process: Started | undefined;
}

export interface ClusterAgent {
  /** The machine name: `web-<i>`. */
  name: string;
  index: number;
  netns: string;
  /** The agent's end of its link (inside `netns`). */
  veth: string;
  address: string;
  /** The router, `http://address:8080`, reachable from the server's namespace. */
  router: string;
  dataDir: string;
  /** The running agent process, if any. */
  process: Started | undefined;
}

export interface NetnsCluster {
  /** Replica 0 (the only server unless `replicas` was given). */
  server: { netns: string; address: string; url: string; dataDir: string; process: Started | undefined };
  /** Every replica; `replicas[0]` is `server`. */
  replicas: ClusterReplica[];
  /** From now on `cli`, `run` and `api` go through replica `index` (default 0). */
  via(index: number): void;
  /** SIGKILLs replica `index` and waits for it to exit. */
  killReplica(index: number): Promise<void>;
  /** Starts replica `index` again (after `killReplica`). */
  startReplica(index: number): Promise<void>;
  agents: ClusterAgent[];
  certs: TestCerts;
  dir: string;
  /** The CLI on the server's machine with `--json`; throws (with its output) unless it exits 0; its JSON. */
  cli(...args: string[]): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The same, whatever it exits with. */
  run(...args: string[]): Promise<CliResult>;
  /**
   * The server's HTTP API with the admin token, in milliseconds rather than a CLI start (through a
   * relay in the server's namespace): the status and JSON of the answer.
   */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The CLI on an agent's machine (`cutover local …`). */
  onAgent(agent: ClusterAgent, ...args: string[]): Promise<CliResult>;
  /**
   * A new machine: its namespace, its link, its agent joined; resolves once its session is open.
   * `beforeStart` runs once its namespace and address exist, before its agent starts (to probe it from its first moment).
   */
  addAgent(options?: { beforeStart?(agent: ClusterAgent): Promise<void> }): Promise<ClusterAgent>;
  /** Takes the agent's link down (its namespace keeps running, cut off from the server and clients). */
  dropLink(agent: ClusterAgent): Promise<void>;
  restoreLink(agent: ClusterAgent): Promise<void>;
  /** Sends `signal` to the agent process and, for SIGKILL, waits for it to exit (its slots live on). */
  kill(agent: ClusterAgent, signal?: NodeJS.Signals): Promise<void>;
  /** Kills every process in the agent's namespace at once (agent and slots): the machine lost its power. */
  killMachine(agent: ClusterAgent): Promise<void>;
  /** Starts the agent again (stopping it first if it runs), with its saved credential. */
  restart(agent: ClusterAgent): Promise<void>;
  killServer(): Promise<void>;
  startServer(): Promise<void>;
  /** Waits until `count` machines (default: every agent) have a session with the server. */
  connected(count?: number, timeoutMs?: number): Promise<void>;
  /** A prober in the server's namespace, one loop per given agent's router. */
  probe(agents: ClusterAgent[], host: string, options: Omit<ProberOptions, 'targets' | 'netns' | 'dir'>): Promise<Prober>;
  /** Stops everything it started and removes its namespaces and files. */
  stop(): Promise<void>;
}

/** A /27 of 10.0.0.0/8 from the pid: `.1` is the server, `.1 + i` agent i. */
function addressOf(host: number): string {
  const n = ((process.pid & 0x7ffff) << 5) + host;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** Starts the server and `options.agents` agents; on any failure it tears down what it made and throws. */
export async function startNetnsCluster(options: ClusterOptions): Promise<NetnsCluster> {
  if (!/^[a-z0-9]{1,2}$/.test(options.prefix)) throw new Error(`prefix ${options.prefix}: one or two of a-z0-9`);
  // The server records its URL, token and CA for the local CLI: in this process's own contexts file.
  isolateCliConfig();
  const pid = process.pid;
  const data = await tempDir(`netns-${options.prefix}`);
  await chmod(data.dir, 0o711); // each agent's slot users pass through to its data directory
  const namespaces: string[] = [];
  const started: Started[] = [];
  const server: NetnsCluster['server'] & ClusterReplica = {
    index: 0,
    netns: `cn${options.prefix}s-${pid}`,
    address: addressOf(1),
    url: `https://${addressOf(1)}:7443`,
    dataDir: join(data.dir, 'server'),
    process: undefined,
  };
  const replicas: ClusterReplica[] = [server];
  for (let r = 1; r < (options.replicas?.count ?? 1); r++) {
    replicas.push({ index: r, url: `https://${server.address}:${7443 + r}`, dataDir: join(data.dir, `server-${r}`), process: undefined });
  }
  /** The replica the CLI and the API go through. */
  let current = 0;
  const agents: ClusterAgent[] = [];
  let certs!: TestCerts;

  // Replica 0 recorded its URL and the admin token for the local CLI; the others are named.
  const run1 = async (args: string[]) => {
    const env: Record<string, string> = current === 0 ? {} : { CUTOVER_URL: replicas[current]!.url, CUTOVER_TOKEN: (token ??= await localToken(server.url)) ?? '' };
    return cutover(server.dataDir, [...args, '--ca-file', certs.ca], env, { netns: server.netns });
  };
  const cli = async (...args: string[]) => {
    const r = await run1(args);
    if (r.code !== 0) throw new Error(`cutover ${args.join(' ')} exited with ${r.code}: ${r.stdout}${r.stderr}`);
    return r.json;
  };
  const track = (p: Started) => (started.push(p), p);

  const socketOf = (r: number) => join(data.dir, `api-${r}.sock`);
  const https = new Agent({ keepAlive: true, maxSockets: 4 });
  let token: string | undefined;
  let ca: Buffer | undefined;

  async function startRelay(r: number) {
    const relay = spawn('ip', ['netns', 'exec', server.netns, process.execPath, RELAY, socketOf(r), server.address, String(7443 + r)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((r) => relay.once('exit', () => r()));
    started.push({ child: relay, info: {}, stop: async () => void (relay.kill('SIGKILL'), await exited) });
    await new Promise<void>((resolve, reject) => {
      relay.stdout!.once('data', () => resolve());
      relay.once('exit', (code) => reject(new Error(`the API relay exited with ${code}`)));
    });
  }

  async function api(method: string, path: string, body?: unknown) {
    token ??= await localToken(server.url);
    ca ??= await readFile(certs.ca);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) };
    return new Promise<{ status: number; json: any }>((resolve, reject) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const req = request({ socketPath: socketOf(current), host: server.address, path, method, ca, agent: https, headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
        res.on('error', reject);
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async function startReplica(r: number) {
    const replica = replicas[r]!;
    const database = options.replicas ? ['--database', options.replicas.database] : [];
    const args = ['server', '--api-host', server.address, '--api-port', String(7443 + r), '--tls-cert', certs.cert, '--tls-key', certs.key, ...database, ...(options.serverArgs ?? [])];
    replica.process = track(await startProcess(replica.dataDir, args, options.serverEnv ?? {}, { netns: server.netns }));
  }
  const startServer = () => startReplica(0);

  async function killReplica(r: number) {
    const p = replicas[r]!.process;
    if (!p) return;
    p.child.kill('SIGKILL');
    await p.stop();
    replicas[r]!.process = undefined;
  }

  async function network(agent: ClusterAgent) {
    const peer = `c${options.prefix}${agent.index}p${pid}`;
    namespaces.push(agent.netns);
    await ip('netns', 'add', agent.netns);
    await ip('link', 'add', agent.veth, 'type', 'veth', 'peer', 'name', peer);
    await ip('link', 'set', agent.veth, 'netns', agent.netns);
    await ip('link', 'set', peer, 'netns', server.netns);
    await ip('-n', server.netns, 'link', 'set', peer, 'master', 'br0');
    await ip('-n', server.netns, 'link', 'set', peer, 'up');
    await ip('-n', agent.netns, 'addr', 'add', `${agent.address}/27`, 'dev', agent.veth);
    await ip('-n', agent.netns, 'link', 'set', agent.veth, 'up');
    await ip('-n', agent.netns, 'link', 'set', 'lo', 'up');
  }

  async function startAgent(agent: ClusterAgent) {
    const joined = agent.process !== undefined || (await alreadyJoined(agent));
    const env = { ...(options.agentEnv ?? {}) };
    const urls = replicas.length > 1 ? replicas.flatMap((r) => ['--url', r.url]) : [];
    if (!joined) env.CUTOVER_JOIN_TOKEN = (await cli('join-token', 'create', '--expires', '10m', ...urls)).token;
    const labels = (options.labels?.(agent.index) ?? ['role=web']).flatMap((l) => ['--label', l]);
    const first = replicas[options.agentReplica?.(agent.index) ?? 0]!;
    const args = ['agent', '--server', first.url, '--name', agent.name, ...labels, '--http-host', '0.0.0.0', '--http-port', '8080', ...(options.agentArgs ?? [])];
    agent.process = track(await startProcess(agent.dataDir, args, env, { netns: agent.netns }));
  }

  async function addAgent(o: { beforeStart?(agent: ClusterAgent): Promise<void> } = {}): Promise<ClusterAgent> {
    const index = agents.length + 1;
    if (index > 29) throw new Error('a cluster has at most 29 agents (its /27)');
    const agent: ClusterAgent = {
      name: `web-${index}`,
      index,
      netns: `cn${options.prefix}${index}-${pid}`,
      veth: `c${options.prefix}${index}a${pid}`,
      address: addressOf(1 + index),
      router: `http://${addressOf(1 + index)}:8080`,
      dataDir: join(data.dir, `web-${index}`),
      process: undefined,
    };
    agents.push(agent);
    await mkdir(agent.dataDir, { mode: 0o711 });
    await network(agent);
    await o.beforeStart?.(agent);
    await startAgent(agent);
    await waitFor(`machine ${agent.name} connected`, async () => machines().then((m) => m.find((x) => x.name === agent.name)?.connected === true), 20_000);
    return agent;
  }

  const machines = async (): Promise<{ name: string; connected?: boolean }[]> => (await cli('machine', 'list')).items;

  async function stopAgentProcess(agent: ClusterAgent) {
    await agent.process?.stop();
    agent.process = undefined;
  }

  async function killIn(netns: string) {
    const { stdout } = await ip('netns', 'pids', netns).catch(() => ({ stdout: '' }));
    for (const p of stdout.split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await waitFor(`the processes of ${netns} to exit`, () => stdout.split(/\s+/).filter(Boolean).map(Number).every((p) => !alive(p)), 10_000).catch(() => {});
  }

  const cluster: NetnsCluster = {
    server,
    agents,
    get certs() {
      return certs;
    },
    dir: data.dir,
    cli,
    run: (...args) => run1(args),
    api,
    onAgent: (agent, ...args) => cutover(agent.dataDir, args, {}, { netns: agent.netns }),
    addAgent,
    dropLink: async (agent) => void (await ip('-n', agent.netns, 'link', 'set', agent.veth, 'down')),
    restoreLink: async (agent) => void (await ip('-n', agent.netns, 'link', 'set', agent.veth, 'up')),
    async kill(agent, signal = 'SIGKILL') {
      const p = agent.process;
      if (!p) return;
      const exited = new Promise((r) => (p.child.exitCode !== null || p.child.signalCode !== null ? r(null) : p.child.once('exit', r)));
      p.child.kill(signal);
      if (signal === 'SIGKILL') {
        await exited;
        agent.process = undefined;
      }
    },
    async killMachine(agent) {
      await killIn(agent.netns);
      if (agent.process) await agent.process.stop();
      agent.process = undefined;
    },
    async restart(agent) {
      await stopAgentProcess(agent);
      await startAgent(agent);
    },
    killServer: () => killReplica(0),
    startServer,
    replicas,
    via(index) {
      if (!replicas[index]) throw new Error(`no replica ${index}`);
      current = index;
    },
    killReplica,
    startReplica,
    async connected(count = agents.length, timeoutMs = 20_000) {
      await waitFor(`${count} machines connected`, async () => (await machines()).filter((m) => m.connected).length >= count, timeoutMs);
    },
    probe: (targets, host, o) =>
      startProber({ ...o, targets: targets.map((a) => ({ machine: a.name, url: a.router, host })), netns: server.netns, dir: data.dir }),
    async stop() {
      https.destroy();
      await Promise.all(agents.map((a) => stopAgentProcess(a).catch(() => {})));
      for (const p of started.reverse()) await p.stop().catch(() => {});
      for (const ns of [...namespaces].reverse()) await killIn(ns);
      for (const ns of [...namespaces].reverse()) await ip('netns', 'del', ns).catch(() => {});
      await data.cleanup();
    },
  };

  async function alreadyJoined(agent: ClusterAgent) {
    return (await machines()).some((m) => m.name === agent.name);
  }

  try {
    namespaces.push(server.netns);
    await ip('netns', 'add', server.netns);
    await ip('-n', server.netns, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', server.netns, 'addr', 'add', `${server.address}/27`, 'dev', 'br0');
    await ip('-n', server.netns, 'link', 'set', 'br0', 'up');
    await ip('-n', server.netns, 'link', 'set', 'lo', 'up');
    certs = await makeTestCerts(data.dir, [server.address]);
    // One after the other: the first on a database makes the admin token.
    for (const r of replicas) await startReplica(r.index);
    for (const r of replicas) await startRelay(r.index);
    // Agents join one at a time: each takes a join token from the CLI first.
    for (let i = 0; i < options.agents; i++) await addAgent();
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
