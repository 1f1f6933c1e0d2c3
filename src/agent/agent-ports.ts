import { CutoverError } from '../shared/index.ts';
import type { Config } from '../config/index.ts';
import type { AgentPidRecord } from './agent-pid-file.ts';
import { holdsPort, othersListening, portFree } from './port-ownership.ts';

/** The agent's ports (the router, its TLS listener with `httpsPort`, and metrics when `metricsListen` is set), with the flag that changes each (for error messages). */
function agentPorts(config: Readonly<Config>) {
  return [
    { what: 'router port', port: config.httpPort, host: config.httpHost, flag: '--http-port' },
    ...(config.httpsPort !== undefined ? [{ what: 'HTTPS port', port: config.httpsPort, host: config.httpHost, flag: '--https-port' }] : []),
    ...(config.metricsListen ? [{ what: 'metrics port', ...config.metricsListen, flag: '--metrics-listen' }] : []),
  ];
}

function describePorts(record: AgentPidRecord): string {
  if (record.routerPort === undefined) return '';
  return ` (router port ${record.routerPort})`;
}

/**
 * Refuses to start when this agent would share its data directory or its ports with anyone:
 * - `previous` (the live agent `agent/private/agent.pid` names, start time checked) serves the data
 *   directory and this is not a `--takeover` → `AGENT_RUNNING`;
 * - a port is taken (a plain bind, without SO_REUSEPORT, fails) and it is not a takeover from
 *   `previous` holding that port → `PORT_IN_USE`, naming the port and its flag.
 *
 * The probe socket is closed before the agent binds for real with SO_REUSEPORT, so a process of
 * the same uid could still join in between; {@link verifyPortsOwned} closes that window after the
 * bind (ADR 0013). Port 0 (any free port, in tests) needs no check.
 */
export async function claimPorts(
  config: Readonly<Config>,
  previous: AgentPidRecord | undefined,
  takeover: boolean,
): Promise<void> {
  if (previous !== undefined && !takeover) {
    throw new CutoverError(
      'AGENT_RUNNING',
      `another agent (pid ${previous.pid}) already serves the data directory ${config.dataDir}${describePorts(previous)}; ` +
        'stop it first (SIGTERM stops it and its slots), or replace it without dropping a request with `cutover agent --takeover`',
      { details: { pid: previous.pid, dataDir: config.dataDir } },
    );
  }
  for (const { what, port, host, flag } of agentPorts(config)) {
    if (port === 0 || (await portFree(port, host))) continue;
    if (takeover && previous !== undefined && (await holdsPort(previous.pid, port)) !== false) continue;
    const why =
      takeover && previous !== undefined
        ? `; --takeover replaces only the agent that ${config.dataDir}/agent/private/agent.pid names (pid ${previous.pid}), and it does not hold this port`
        : takeover
          ? `; --takeover replaces only a live agent named by ${config.dataDir}/agent/private/agent.pid, and it names none`
          : '';
    throw new CutoverError(
      'PORT_IN_USE',
      `the ${what} ${host}:${port} is already in use by another process${why}; stop that process or choose another port with ${flag}`,
      { details: { port, host, flag } },
    );
  }
}

/**
 * After binding with SO_REUSEPORT: refuses (`PORT_IN_USE`) if any process other than this agent
 * and `previous` (when taking over) listens on one of `ports` where it would share connections,
 * i.e. someone joined the port's group between {@link claimPorts}'s probe and the bind. Reads
 * `/proc/net/tcp{,6}`; does nothing where that cannot be read.
 */
export async function verifyPortsOwned(
  ports: readonly number[],
  previous: AgentPidRecord | undefined,
): Promise<void> {
  for (const port of ports) {
    const others = await othersListening(port, previous?.pid);
    if (others.length === 0) continue;
    throw new CutoverError(
      'PORT_IN_USE',
      `another process listens on port ${port} beside this agent (it joined with SO_REUSEPORT while the agent was binding); stop it and start the agent again`,
      { details: { port, sockets: others.map((o) => o.inode) } },
    );
  }
}

/**
 * A bind's EADDRINUSE as `PORT_IN_USE` naming the port and flag (someone bound it, without
 * SO_REUSEPORT, after {@link claimPorts} looked); any other error as it is.
 */
export function portInUse(error: unknown, config: Readonly<Config>): unknown {
  const e = error as NodeJS.ErrnoException & { port?: number };
  if (e.code !== 'EADDRINUSE') return error;
  const port = agentPorts(config).find((p) => p.port === e.port) ?? agentPorts(config)[0]!;
  return new CutoverError(
    'PORT_IN_USE',
    `the ${port.what} ${port.host}:${port.port} is already in use by another process; stop that process or choose another port with ${port.flag}`,
    { details: { port: port.port, host: port.host, flag: port.flag }, cause: error },
  );
}
