// Shared by the supervisor tests: fixture commands, a temp log dir, and small waiting helpers.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Color, HealthSpec } from '../shared/index.ts';
import { createSupervisor } from './supervisor.ts';
import type { SlotSpec, Supervisor, SupervisorOptions } from './types.ts';

export const FIXTURES = join(import.meta.dirname, 'fixtures');

/** Fast thresholds so the suite stays quick. */
export const FAST_HEALTH: HealthSpec = {
  path: '/healthz',
  intervalMs: 40,
  timeoutMs: 500,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
};

/** A shell command running a fixture with this Node (quoted: the path may contain spaces). */
export function fixtureCommand(name: string): string {
  return `${JSON.stringify(process.execPath)} ${JSON.stringify(join(FIXTURES, name))}`;
}

export function slotSpec(overrides: Partial<SlotSpec> & { fixture?: string } = {}): SlotSpec {
  const { fixture = 'healthy-app.mjs', ...rest } = overrides;
  return {
    instance: 'shop',
    color: 'green' as Color,
    version: '1.2.0',
    cwd: FIXTURES,
    command: fixtureCommand(fixture),
    env: {},
    health: FAST_HEALTH,
    stopTimeoutMs: 2000,
    ...rest,
  };
}

export interface Harness {
  supervisor: Supervisor;
  logDir: string;
  close(): Promise<void>;
}

export async function harness(options: Partial<SupervisorOptions> = {}): Promise<Harness> {
  const logDir = await mkdtemp(join(tmpdir(), 'cutover-supervisor-'));
  const supervisor = createSupervisor({ logDir, ...options });
  return {
    supervisor,
    logDir,
    async close() {
      await supervisor.stopAll();
      await rm(logDir, { recursive: true, force: true });
    },
  };
}

/** GET over loopback without keep-alive, so the test leaves no socket behind. */
export function getText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Whether a process exists and is not a zombie (an orphan may wait a moment to be reaped). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return !/^\d+ \(.*\) Z/.test(stat);
}
