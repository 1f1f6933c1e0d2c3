import type { ConfigInput } from './config.ts';

/** What the settings reference (docs/configuration.md) says about a key beyond the schema. */
export interface SettingDoc {
  /** The processes that read the setting. */
  usedBy: 'all' | 'server' | 'agent' | 'agent, server' | 'server, agent';
  /** The default as the reference shows it, where the schema has none or one that depends on the machine. */
  shownDefault?: string;
}

/**
 * One entry per key of `configSchema`: a key added without one fails the type check, so the
 * generated reference (`npm run docs`) always has a row for it.
 */
export const settingDocs = {
  dataDir: { usedBy: 'all' },
  apiHost: { usedBy: 'server' },
  apiPort: { usedBy: 'server' },
  tlsCert: { usedBy: 'server' },
  tlsKey: { usedBy: 'server' },
  tlsCa: { usedBy: 'server' },
  server: { usedBy: 'agent' },
  joinTokenFile: { usedBy: 'agent' },
  machineName: { usedBy: 'agent', shownDefault: 'the host name' },
  machineLabels: { usedBy: 'agent' },
  httpHost: { usedBy: 'agent' },
  httpPort: { usedBy: 'agent' },
  httpsPort: { usedBy: 'agent', shownDefault: 'unset (no HTTPS)' },
  redirectHttp: { usedBy: 'agent' },
  hsts: { usedBy: 'agent' },
  hstsMaxAge: { usedBy: 'agent' },
  hstsIncludeSubDomains: { usedBy: 'agent' },
  trustedProxies: { usedBy: 'agent', shownDefault: 'none' },
  proxyProtocol: { usedBy: 'agent', shownDefault: 'none' },
  tlsCertFile: { usedBy: 'agent' },
  tlsKeyFile: { usedBy: 'agent' },
  database: { usedBy: 'server', shownDefault: '`<dataDir>/private/cutover.db`' },
  appConfigKeyDir: { usedBy: 'server', shownDefault: '`<dataDir>/private/app-config-keys`' },
  rollbackWindow: { usedBy: 'server' },
  lockTtl: { usedBy: 'server' },
  warmCheckInterval: { usedBy: 'server' },
  fleetInterval: { usedBy: 'server' },
  bakeWindow: { usedBy: 'server' },
  bakeCheckInterval: { usedBy: 'server' },
  flipTimeout: { usedBy: 'server' },
  bakeMinRequests: { usedBy: 'server' },
  bakeMaxErrorRate: { usedBy: 'server' },
  rollbackOnUnhealthy: { usedBy: 'server' },
  drainTimeout: { usedBy: 'agent' },
  pauseTimeout: { usedBy: 'agent' },
  wsDrainTimeout: { usedBy: 'agent' },
  takeoverStreamGrace: { usedBy: 'agent' },
  skewGrace: { usedBy: 'agent' },
  maxRequestBody: { usedBy: 'agent' },
  maxApiBody: { usedBy: 'server' },
  maxArtifactSize: { usedBy: 'server' },
  unreferencedArtifactTtl: { usedBy: 'server' },
  unpackMaxEntries: { usedBy: 'agent' },
  unpackMaxSize: { usedBy: 'agent' },
  unpackMaxHeap: { usedBy: 'agent' },
  pruneKeepReleases: { usedBy: 'server' },
  pruneInterval: { usedBy: 'server' },
  slotLogMaxBytes: { usedBy: 'agent' },
  slotLogFiles: { usedBy: 'agent' },
  // The default is the directory of the Node running the agent: a path of this machine.
  slotPath: { usedBy: 'agent', shownDefault: 'see meaning' },
  resetState: { usedBy: 'agent' },
  slotUidRange: { usedBy: 'agent' },
  slotUser: { usedBy: 'agent' },
  allowSharedUid: { usedBy: 'agent' },
  metricsListen: { usedBy: 'agent' },
  metricsTokenFile: { usedBy: 'agent' },
  logLevel: { usedBy: 'server, agent' },
} satisfies Record<keyof ConfigInput, SettingDoc>;
