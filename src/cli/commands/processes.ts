import type { ChildProcess } from 'node:child_process';
import type { Command } from 'commander';
import { AGENT_NODE_FLAGS, CutoverError, createLogger } from '../../shared/index.ts';

// The process code (router, supervisor, store…) loads only when a process command runs, so
// everyday commands like `cutover status` start fast.
const processes = () => import('../../main.ts');
import type { Config } from '../../config/index.ts';
// The settings schema (zod, yaml) loads only when a process command runs; see api-client.ts.
import { cliConfigDir } from '../../config/env.ts';
import { output } from '../output.ts';
import { planUp } from '../up-plan.ts';
import { globals } from './globals.ts';
import { cliEntry } from '../version.ts';

interface ProcessFlags {
  config?: string;
  httpPort?: string;
  apiPort?: string;
  agentPort?: string;
  httpHost?: string;
  apiHost?: string;
  logLevel?: string;
  rollbackWindow?: string;
  resetState?: boolean;
  allowSharedUid?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  metricsListen?: string;
  metricsTokenFile?: string;
  httpsPort?: string;
  redirectHttp?: boolean;
  hsts?: boolean;
  trustedProxies?: string;
  proxyProtocol?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Refused: see {@link configFrom}. */
  metricsToken?: string;
}

async function configFrom(cmd: Command, opts: ProcessFlags, defaults: Record<string, unknown> = {}): Promise<Readonly<Config>> {
  const g = globals(cmd);
  const { config: file, metricsToken, ...flags } = opts;
  if (metricsToken !== undefined) {
    throw new CutoverError('VALIDATION_FAILED', 'a metrics token on the command line would sit in `ps` and the shell history: nothing was started. Put it in CUTOVER_METRICS_TOKEN, or in a file (mode 0600) named by --metrics-token-file');
  }
  const { loadConfig, readEnv } = await import('../../config/index.ts');
  return loadConfig({
    ...(file ? { file } : {}),
    env: readEnv(),
    defaults,
    flags: { ...flags, ...(g.dataDir ? { dataDir: g.dataDir } : {}) },
  });
}

function withProcessOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'YAML file with settings (see docs/configuration.md)')
    .option('--http-port <n>', 'router port, where users reach instances (default 8080)')
    .option('--http-host <addr>', 'router address (default 127.0.0.1)')
    .option('--api-port <n>', 'control-plane API port, where the CLI and the agents connect (default 7070)')
    .option('--api-host <addr>', 'control-plane API address (default 127.0.0.1)')
    .option('--agent-port <n>', 'retired: agents dial the server now (refused, naming what replaced it)')
    .option('--rollback-window <duration>', 'how long the previous slot stays warm (default 30m)')
    .option('--log-level <level>', 'debug, info, warn, error, silent')
    .option('--reset-state', "agent: if its state files are all invalid, move them aside and start empty (else it refuses to start)")
    .option('--allow-shared-uid', 'agent not run as root (slots share its uid): still let the router listen on a non-loopback address')
    .option('--metrics-listen <host:port>', 'agent: serve GET /metrics (Prometheus) here, e.g. 127.0.0.1:9100 (default off); a non-loopback address needs a metrics token')
    .option('--metrics-token-file <file>', 'agent: a file holding the bearer token scrapers of --metrics-listen must send (else CUTOVER_METRICS_TOKEN)')
    .option('--metrics-token <token>', 'refused: a token on the command line sits in `ps`; use CUTOVER_METRICS_TOKEN or --metrics-token-file')
    .option('--https-port <n>', "agent: the router's TLS listener (HTTPS) on this port, serving the certificates of `cutover tls set` and the watched pair (default off)")
    .option('--redirect-http', 'agent, with --https-port: answer plain HTTP with a 308 to https:// (the readiness path and ACME challenges excepted)')
    .option('--hsts', 'agent, with --https-port: Strict-Transport-Security on HTTPS responses (max-age: the hstsMaxAge setting, a year by default)')
    .option('--trusted-proxies <cidrs>', "agent: load balancers (comma-separated CIDRs) whose X-Forwarded-* the router keeps; everyone else's are replaced")
    .option('--proxy-protocol <listeners>', 'agent: http, https or both (comma-separated): listeners behind a TCP load balancer sending a PROXY protocol header (only from --trusted-proxies)')
    .option('--tls-cert-file <file>', 'agent, with --https-port: a PEM chain served as the default certificate, reloaded when it changes (certbot, acme.sh)')
    .option('--tls-key-file <file>', 'agent: the PEM private key of --tls-cert-file (mode 0600), watched with it');
}

function withDatabaseOption(cmd: Command): Command {
  return cmd
    .option('--database <location>', 'PostgreSQL URL (postgres://user:pass@host/db) or SQLite file (default <data-dir>/private/cutover.db)')
    .option('--tls-cert <file>', 'serve the API over HTTPS with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', "the certificate's PEM private key: mode 0600 or 0400, owned by the server's user")
    .option('--tls-ca <file>', 'the PEM certificate of the CA that signed --tls-cert: join tokens pin this CA, so a renewed certificate keeps agents joined');
}

/**
 * Runs until SIGINT (Ctrl-C), SIGTERM or SIGHUP (the terminal closed), then stops gracefully; a
 * second signal forces the exit. Only SIGKILL stops the process without its stop path.
 */
function untilSignal(stop: () => Promise<void>, say: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        say(`${signal} again: exiting now`);
        process.exit(130);
      }
      stopping = true;
      say(`${signal}: stopping… (press Ctrl-C again to force)`);
      stop().then(resolve, (error: Error) => {
        say(`stop failed: ${error.message}`);
        resolve();
      });
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  });
}

/** The flags of `cutover agent` beyond the process flags. */
type AgentFlags = ProcessFlags & {
  takeover?: boolean;
  repin?: boolean;
  detach?: boolean;
  pidFile?: string;
  server?: string;
  joinTokenFile?: string;
  joinToken?: string;
  name?: string;
  label?: string[];
};

/** `server --print-fingerprint`: what join tokens pin and what an operator compares by hand. */
async function printTlsFingerprint(config: Readonly<Config>, out: ReturnType<typeof output>): Promise<void> {
  if (!config.tlsCert || !config.tlsKey) {
    throw new CutoverError('CONFIG_INVALID', 'the server has no TLS certificate to print the fingerprint of: give --tls-cert and --tls-key (or tlsCert and tlsKey in the settings)');
  }
  const { readTlsFiles } = await import('../../shared/index.ts');
  const { fingerprint, caFingerprint } = await readTlsFiles(config.tlsCert, config.tlsKey, config.tlsCa);
  const ca = caFingerprint ? { ca: config.tlsCa, caSha256: caFingerprint } : {};
  out.result({ certificate: config.tlsCert, sha256: fingerprint, ...ca }, () =>
    [`SHA-256 ${fingerprint}  (${config.tlsCert})`, ...(caFingerprint ? [`CA SHA-256 ${caFingerprint}  (${config.tlsCa}): what join tokens pin`] : [])].join('\n'),
  );
}

/** Starts `cutover agent` as a child process (its own process group); `up` then waits for its session. */
async function spawnAgent(config: Readonly<Config>, argv: string[]): Promise<ChildProcess> {
  // Loaded here, not with the command tree: `cutover status` needs none of them (issue 22).
  const { spawn } = await import('node:child_process');
  // Its own process group: Ctrl-C in the terminal reaches only `up`, which stops the server first
  // and then the agent, in order. If `up` itself dies, the agent keeps serving.
  return spawn(process.execPath, [...AGENT_NODE_FLAGS, cliEntry(), 'agent', '--data-dir', config.dataDir, ...argv], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
}

/** Resolves once the agent's session is open; rejects if the agent `up` started exits first (its own error is on stderr above). */
async function agentConnected(connected: Promise<void>, child: ChildProcess | undefined): Promise<void> {
  if (!child) return connected;
  connected.catch(() => undefined); // lost to the exit, its later timeout is nobody's error
  let fail: (() => void) | undefined;
  const exited = new Promise<never>((_, reject) => {
    fail = () => reject(new CutoverError('AGENT_UNREACHABLE', `the agent exited at start (code ${child.exitCode ?? child.signalCode}); see the lines above`));
    if (child.exitCode !== null || child.signalCode !== null) fail();
    else child.once('exit', fail);
  });
  try {
    await Promise.race([connected, exited]);
  } finally {
    // Its later exit (at stop) is not an error of the start.
    child.off('exit', fail!);
  }
}

export interface UpHandle {
  routerUrl: string;
  /** The router's TLS listener (`--https-port`), when on. */
  httpsUrl?: string;
  apiUrl: string;
  dataDir: string;
  adminToken?: string;
  /** The machine this `up` runs as (the agent's name in `cutover machine list`). */
  machine: string;
  /** The agent's pid, whether it is one that survived an earlier `up` (reused, not started), and the earlier version's agent it took over from. */
  agent: { pid: number; reused: boolean; tookOverFrom?: number };
  /** Stops the server, then the agent (started or reused), which drains and stops its slots. */
  stop(): Promise<void>;
}

/**
 * `cutover up`: the server in this process and the agent as its own (so traffic survives a server
 * crash), the agent joined as a machine over loopback like any other (ADR 0019): one code path.
 * The first `up` joins it with a single-use token written 0600 in the private directory. If an
 * earlier `up` died (kill -9, a crash) and left its joined agent serving, that agent is reused and
 * reconnects; an agent that never joined (an earlier version's) is taken over by a new one that
 * joins, without dropping a request (see {@link planUp}).
 */
export async function startUp(config: Readonly<Config>, agentArgv: string[]): Promise<UpHandle> {
  const main = await processes();
  const found = await main.findServingAgent(config);
  const plan = planUp(found && { ...found.record, ...(found.machine ? { machine: found.machine } : {}) }, { httpPort: config.httpPort }, config.dataDir);
  // A taken API port most likely means the `up` that started this agent still runs.
  await main.checkApiPortFree(config);
  if (plan.kind === 'start') await main.checkAgentPortsFree(config);
  const server = await main.startServer(config, createLogger('server', config.logLevel));
  // An agent that joined before (running or not) keeps its name and credential.
  const saved = found?.machine ?? (await main.joinedMachine(config.dataDir));
  const name = saved ?? main.upMachineName();
  let agent: { pid: number; reused: boolean; stop(): Promise<void> } | undefined;
  try {
    let child: ChildProcess | undefined;
    if (plan.kind === 'reuse') {
      const record = found!.record;
      agent = { pid: record.pid, reused: true, stop: () => main.stopAgentByPid(record) };
    } else {
      // The agent joins by itself: the server left it a single-use token in the private directory.
      child = await spawnAgent(config, [...agentArgv, ...(plan.kind === 'takeover' ? ['--takeover'] : [])]);
      agent = childAgent(child);
    }
    await agentConnected(server.waitForMachine(name, 30_000), child);
  } catch (error) {
    // An agent this `up` started goes with it; a reused one keeps serving, as it did before.
    if (agent && !agent.reused) await agent.stop();
    await server.stop();
    throw error;
  }
  const running = agent;
  return {
    routerUrl: `http://${config.httpHost === '0.0.0.0' ? '127.0.0.1' : config.httpHost}:${config.httpPort}`,
    ...(config.httpsPort !== undefined ? { httpsUrl: `https://${config.httpHost === '0.0.0.0' ? '127.0.0.1' : config.httpHost}:${config.httpsPort}` } : {}),
    apiUrl: server.url,
    dataDir: config.dataDir,
    machine: name,
    ...(server.adminToken ? { adminToken: server.adminToken } : {}),
    agent: { pid: running.pid, reused: running.reused, ...(plan.kind === 'takeover' ? { tookOverFrom: plan.pid } : {}) },
    async stop() {
      await server.stop();
      await running.stop();
    },
  };
}

/** The handle of an agent this `up` started. */
function childAgent(child: ChildProcess): { pid: number; reused: boolean; stop(): Promise<void> } {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    pid: child.pid!,
    reused: false,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function agentArgs(opts: ProcessFlags): string[] {
  const args: string[] = [];
  if (opts.config) args.push('--config', opts.config);
  if (opts.httpPort) args.push('--http-port', opts.httpPort);
  if (opts.httpHost) args.push('--http-host', opts.httpHost);
  if (opts.logLevel) args.push('--log-level', opts.logLevel);
  if (opts.resetState) args.push('--reset-state');
  if (opts.allowSharedUid) args.push('--allow-shared-uid');
  // The token itself travels in the inherited environment (CUTOVER_METRICS_TOKEN), never in argv.
  if (opts.metricsListen) args.push('--metrics-listen', opts.metricsListen);
  if (opts.metricsTokenFile) args.push('--metrics-token-file', opts.metricsTokenFile);
  if (opts.httpsPort) args.push('--https-port', opts.httpsPort);
  if (opts.redirectHttp) args.push('--redirect-http');
  if (opts.hsts) args.push('--hsts');
  if (opts.trustedProxies) args.push('--trusted-proxies', opts.trustedProxies);
  if (opts.proxyProtocol) args.push('--proxy-protocol', opts.proxyProtocol);
  // Paths only: the key stays in its file.
  if (opts.tlsCertFile) args.push('--tls-cert-file', opts.tlsCertFile);
  if (opts.tlsKeyFile) args.push('--tls-key-file', opts.tlsKeyFile);
  return args;
}

export function registerProcessCommands(program: Command): void {
  withDatabaseOption(withProcessOptions(program
        .command('up')
        .summary('run the server and an agent on this machine (quick start)')
        .description(
          'run the server and an agent on this machine (quick start); the agent joins the server as a machine named after the host, over loopback. If an earlier `up` died and its agent still serves this data directory on the same router port, reuses that agent (with another port it refuses and names it); an agent of an earlier version that never joined is taken over without dropping a request, and its instances are placed on this machine. Ctrl-C, SIGTERM or SIGHUP stops the server, the agent and its slots',
        ))).action(
    async (opts: ProcessFlags, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      const config = await configFrom(cmd, opts, { logLevel: 'warn' });
      const up = await startUp(config, agentArgs({ ...opts, logLevel: config.logLevel }));
      const { contextsFileIn } = await import('../../cli-contexts.ts');
      const result = { router: up.routerUrl, ...(up.httpsUrl ? { https: up.httpsUrl } : {}), api: up.apiUrl, dataDir: up.dataDir, machine: up.machine, agent: up.agent, ...(up.adminToken ? { adminToken: up.adminToken } : {}) };
      out.result(result, () =>
        [
          'Cutover is up.',
          ...(up.agent.reused
            ? [`  agent   reusing the agent (pid ${up.agent.pid}) that still serves this data directory from an earlier \`cutover up\``]
            : []),
          ...(up.agent.tookOverFrom !== undefined
            ? [`  agent   took over from the earlier version's agent (pid ${up.agent.tookOverFrom}) without dropping a request; its instances are placed on machine ${up.machine}`]
            : []),
          `  machine ${up.machine}   (this host, joined over loopback)`,
          `  router  ${up.routerUrl}   (instances by their Host header)`,
          ...(up.httpsUrl ? [`  HTTPS   ${up.httpsUrl}   (certificates: \`cutover tls set\`, docs/tls.md)`] : []),
          `  API     ${up.apiUrl}`,
          `  data    ${up.dataDir}`,
          ...(up.adminToken ? [`  admin token (shown once; saved for the local CLI in ${contextsFileIn(cliConfigDir())}):`, `    ${up.adminToken}`] : []),
          'Press Ctrl-C to stop (the server, the agent and its slots).',
        ].join('\n'),
      );
      await untilSignal(() => up.stop(), (l) => out.progress(l));
    },
  );

  withDatabaseOption(withProcessOptions(program.command('server').description('run the control plane (API, store, orchestrator)')))
    .option('--print-fingerprint', "print the SHA-256 fingerprint of the API's TLS certificate (tlsCert) and exit, without starting the server")
    .action(async ({ printFingerprint, ...opts }: ProcessFlags & { printFingerprint?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      const config = await configFrom(cmd, opts);
      if (printFingerprint) return printTlsFingerprint(config, out);
      const server = await (await processes()).startServer(config, createLogger('server', config.logLevel));
      const { contextsFileIn } = await import('../../cli-contexts.ts');
      const tls = { ...(server.tlsFingerprint ? { tlsFingerprint: server.tlsFingerprint } : {}), ...(server.tlsCaFingerprint ? { tlsCaFingerprint: server.tlsCaFingerprint } : {}) };
      out.result({ api: server.url, ...tls, ...(server.adminToken ? { adminToken: server.adminToken } : {}) }, () =>
        [
          `server listening on ${server.url}`,
          ...(server.tlsFingerprint ? [`TLS certificate SHA-256 ${server.tlsFingerprint}`] : []),
          ...(server.tlsCaFingerprint ? [`TLS CA SHA-256 ${server.tlsCaFingerprint} (join tokens pin it)`] : []),
          ...(server.adminToken ? [`admin token (shown once; saved for the local CLI in ${contextsFileIn(cliConfigDir())}): ${server.adminToken}`] : []),
        ].join('\n'),
      );
      await untilSignal(() => server.stop(), (l) => out.progress(l));
    });

  withProcessOptions(program
      .command('agent')
      .summary('run the data plane on this host (router + supervisor)')
      .description(
        'run the data plane on this host (router + supervisor), which dials the server (--server, or the server of this data directory, which it joins by itself); it has no control port. Refuses when another agent serves this data directory or another process holds its router or metrics port. SIGINT, SIGTERM or SIGHUP drains and stops its slots; only kill -9 leaves them running, for the next agent to adopt',
      ))
    .option(
      '--takeover',
      'replace the agent running on this data directory without dropping a request: start beside it (same ports), then tell it to hand over and wait for it to exit. Only the live agent that <data-dir>/agent/private/agent.pid names (pid and start time) may hold the ports',
    )
    .option('--detach', 'for service managers (systemd Type=forking): start the agent in the background, return once it serves (with --takeover: once it has taken over), see docs/install.md')
    .option('--pid-file <file>', 'with --detach: write the background agent\'s pid to this file (systemd PIDFile=)')
    .option('--server <url>', "join this server as a machine (first start: with a join token in CUTOVER_JOIN_TOKEN or --join-token-file), then dial it with the machine's credential and keep a session open (reconnecting by itself); see docs/machines.md")
    .option('--join-token-file <file>', 'a file holding the join token (else CUTOVER_JOIN_TOKEN); never the token itself on the command line')
    .option('--join-token <token>', 'refused: a token on the command line sits in `ps` and the shell history; use CUTOVER_JOIN_TOKEN or --join-token-file')
    .option(
      '--repin',
      "a joined agent whose server renewed its certificate: take the pin of a new join token (CUTOVER_JOIN_TOKEN or --join-token-file; not used up), kept once the server accepts this machine's credential, then start as usual",
    )
    .option('--name <name>', "the machine's name when it joins (default: the host name)")
    .option('--label <key=value...>', 'labels of the machine when it joins, e.g. --label role=web')
    .action(async (opts: AgentFlags, cmd: Command) => {
      const g = globals(cmd);
      const out = output(g.format);
      const { takeover, detach, pidFile, joinToken, name, label, repin, ...rest } = opts;
      if (joinToken !== undefined) {
        throw new CutoverError('VALIDATION_FAILED', 'a join token on the command line would sit in `ps` and the shell history: nothing was started. Put it in CUTOVER_JOIN_TOKEN, or in a file (mode 0600) named by --join-token-file');
      }
      const flags = { ...rest, ...(name !== undefined ? { machineName: name } : {}), ...(label !== undefined ? { machineLabels: label.join(',') } : {}) };
      if (pidFile !== undefined && !detach) throw new CutoverError('VALIDATION_FAILED', '--pid-file needs --detach: a foreground agent\'s pid is the one you started');
      if (detach) {
        // Settings are checked here first, so a bad flag fails this command, not the background agent.
        await configFrom(cmd, flags);
        const { runDetached } = await import('../detach.ts');
        const ready = await runDetached(process.argv.slice(2), pidFile);
        out.result(ready, () => `agent (pid ${ready.pid}) serves: router on port ${ready.router}`);
        return;
      }
      const config = await configFrom(cmd, flags);
      const { joinTokenFromEnv, metricsTokenFromEnv } = await import('../../config/index.ts');
      const envToken = joinTokenFromEnv();
      const metricsToken = metricsTokenFromEnv();
      const agent = await (await processes()).startAgentProcess(config, createLogger('agent', config.logLevel), {
        takeover: takeover === true,
        repin: repin === true,
        ...(envToken ? { joinToken: envToken } : {}),
        ...(metricsToken ? { metricsToken } : {}),
      });
      let handedOver: Awaited<ReturnType<typeof agent.takeOver>> | undefined;
      if (takeover) {
        try {
          handedOver = await agent.takeOver({ onProgress: (l) => out.progress(l) });
        } catch (error) {
          await agent.handover(); // leaves the host, slots included, to the agent that still runs
          throw error;
        }
      }
      (await import('../detach.ts')).reportToParent({ pid: process.pid, router: agent.routerPort, ...(handedOver ? { takeover: handedOver } : {}) });
      const metricsAt = agent.metricsPort !== undefined ? `, metrics on ${config.metricsListen!.host}:${agent.metricsPort}` : '';
      const httpsAt = agent.httpsPort !== undefined ? `, HTTPS on ${config.httpHost}:${agent.httpsPort}` : '';
      const ports = `router on ${config.httpHost}:${agent.routerPort}${httpsAt}${metricsAt}`;
      const machine = { machine: agent.machine, ...(config.server ? { server: config.server } : {}) };
      const metrics = agent.metricsPort !== undefined ? { metrics: agent.metricsPort } : {};
      out.result({ router: agent.routerPort, ...(agent.httpsPort !== undefined ? { https: agent.httpsPort } : {}), ...metrics, ...machine, ...(handedOver ? { takeover: handedOver } : {}) }, () => {
        const joined = agent.machine ? `\nmachine ${agent.machine}: dialling ${config.server ?? 'the server of this data directory'}` : '\nnot joined yet: joins the server of this data directory once it runs';
        if (!handedOver) return `agent: ${ports}${joined}`;
        if (handedOver.previousPid === null) {
          return `agent: ${ports}\nno previous agent was running on ${config.dataDir} (agent/private/agent.pid names none alive): started normally`;
        }
        return handedOver.exited
          ? `agent: ${ports}\ntook over from the previous agent (pid ${handedOver.previousPid}), which handed over and exited after ${(handedOver.waitedMs / 1000).toFixed(1)} s`
          : `agent: ${ports}\ntook over from the previous agent (pid ${handedOver.previousPid}); it is still draining after ${Math.round(handedOver.waitedMs / 1000)} s and exits once its requests finish`;
      });
      await untilSignal(() => agent.stop(), (l) => out.progress(l));
    });
}
