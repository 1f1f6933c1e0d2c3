import type { Store } from '../store.ts';
import type {
  ChannelMove,
  ChannelRecord,
  DeploymentRecord,
  HoldRecord,
  InstanceRecord,
  NewAuditEntry,
  NewHalt,
  NewProblem,
  ReleaseRecord,
  TokenRecord,
} from '../types.ts';

/** Declares one contract test that gets a fresh, empty store of the implementation under test. */
export type WithStore = (title: string, fn: (store: Store) => Promise<void>) => void;

/** Record builders for the contract tests: plain data, every field set, overridable. */

export const release = (version: string, at = 1000, app = 'shop'): ReleaseRecord => ({
  app,
  version,
  digest: `d-${version}`,
  spec: { version, nested: { a: [1, 2] } },
  createdAt: at,
  createdBy: 'ci',
});

export const instance = (name: string, over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  name,
  app: 'shop',
  hosts: [`${name}.example.test`],
  environment: 'production',
  tenant: null,
  labels: {},
  target: null,
  window: null,
  placement: null,
  currentVersion: null,
  activeColor: null,
  slots: { blue: null, green: null },
  createdAt: 1,
  updatedAt: 1,
  ...over,
});

export const deployment = (id: string, inst: string, at: number): DeploymentRecord => ({
  id,
  instance: inst,
  kind: 'deploy',
  strategy: 'start-and-flip',
  fromVersion: null,
  toVersion: '1.0.0',
  fromColor: null,
  toColor: 'blue',
  status: 'running',
  steps: [{ name: 'start', status: 'pending' }],
  actor: 'admin',
  createdAt: at,
  updatedAt: at,
});

export const token = (name: string, hash: string, over: Partial<TokenRecord> = {}): TokenRecord => ({
  name,
  hash,
  role: 'deployer',
  createdAt: 1,
  createdBy: 'admin',
  ...over,
});

export const entry = (at: number, over: Partial<NewAuditEntry> = {}): NewAuditEntry => ({
  at,
  actor: 'admin',
  action: 'test.action',
  subject: `s${at}`,
  ...over,
});

export const channel = (name: string, over: Partial<ChannelRecord> = {}): ChannelRecord => ({
  name,
  description: `the ${name} channel`,
  policy: { soak: null, blockOnOpenProblems: true, allowPrerelease: false },
  builtIn: false,
  createdAt: 1,
  createdBy: 'system',
  updatedAt: 1,
  ...over,
});

export const move = (
  app: string,
  ch: string,
  fromVersion: string | null,
  toVersion: string,
  at = 10,
  over: Partial<Omit<ChannelMove, 'id'>> = {},
): Omit<ChannelMove, 'id'> => ({
  app,
  channel: ch,
  fromVersion,
  toVersion,
  at,
  actor: 'admin',
  reason: null,
  forced: false,
  ...over,
});

/** The audit entry a channel move is recorded with. */
export const moveEntry = (m: Omit<ChannelMove, 'id'>): NewAuditEntry => ({
  at: m.at,
  actor: m.actor,
  action: 'channel.move',
  subject: m.channel,
  app: m.app,
  version: m.toVersion,
  before: m.fromVersion,
  after: m.toVersion,
});

export const problem = (
  app: string,
  version: string,
  at: number,
  over: Partial<NewProblem> = {},
): NewProblem => ({
  app,
  version,
  title: `broken at ${at}`,
  details: null,
  source: 'user',
  reportedBy: 'alice',
  reportedAt: at,
  ...over,
});

export const hold = (inst: string, over: Partial<HoldRecord> = {}): HoldRecord => ({
  instance: inst,
  owner: 'alice',
  reason: `keep ${inst} as it is`,
  createdAt: 10,
  until: null,
  ...over,
});

export const halt = (app: string, version: string, at: number, over: Partial<NewHalt> = {}): NewHalt => ({
  app,
  version,
  reason: `failure budget of ${version} ran out`,
  problemId: null,
  haltedAt: at,
  haltedBy: 'scheduler',
  ...over,
});
