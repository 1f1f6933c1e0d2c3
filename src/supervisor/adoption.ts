import { readFile } from 'node:fs/promises';
import type { PidInfo, SlotSpec } from './types.ts';

/**
 * Why `pidInfo` cannot be adopted into the slot `spec` describes, or `[]`. Besides the pid file
 * matching the spec, a live process must still be what the pid file says: pids are reused, and
 * adopting a stranger would mean signalling its group later. On Linux its process group and the
 * variables the supervisor gave it (`CUTOVER_INSTANCE`, `CUTOVER_COLOR`, `PORT`) are checked
 * through `/proc`; where `/proc` cannot be read, the pid file is trusted.
 */
export async function adoptionProblems(spec: SlotSpec, pidInfo: PidInfo): Promise<string[]> {
  const problems: string[] = [];
  if (pidInfo.instance !== spec.instance) problems.push(`the pid file is for instance "${pidInfo.instance}"`);
  if (pidInfo.color !== spec.color) problems.push(`the pid file is for the ${pidInfo.color} slot`);
  if (pidInfo.version !== spec.version) problems.push(`the process runs ${pidInfo.version}, not ${spec.version}`);
  if (spec.port !== undefined && spec.port !== pidInfo.port) {
    problems.push(`the process has port ${pidInfo.port}, the spec asks for ${spec.port}`);
  }
  if (problems.length > 0) return problems;
  return processIdentityProblems(pidInfo);
}

/**
 * Why the live process a pid file names is not (any longer) the slot process it describes, or
 * `[]`: its process group and the variables the supervisor gave it (`CUTOVER_INSTANCE`,
 * `CUTOVER_COLOR`, `PORT`) are checked through `/proc`, because pids are reused and signalling
 * a stranger's group would be a disaster. Where `/proc` cannot be read, the pid file is trusted.
 */
export async function processIdentityProblems(pidInfo: PidInfo): Promise<string[]> {
  const problems: string[] = [];
  if (pidInfo.pgid !== pidInfo.pid) problems.push(`process ${pidInfo.pid} does not lead its process group ${pidInfo.pgid}`);
  if (problems.length > 0 || process.platform !== 'linux') return problems;

  const stat = await readFile(`/proc/${pidInfo.pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return problems; // gone: adopt reports the slot exited
  const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  if (pgrp !== pidInfo.pgid) {
    problems.push(`process ${pidInfo.pid} is in process group ${pgrp}, not ${pidInfo.pgid} (the pid was reused)`);
    return problems;
  }
  const environ = await readFile(`/proc/${pidInfo.pid}/environ`, 'utf8').catch(() => undefined);
  if (environ === undefined) return problems;
  const env = new Map(
    environ
      .split('\0')
      .filter((entry) => entry.includes('='))
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as const),
  );
  const expected: Array<[string, string]> = [
    ['CUTOVER_INSTANCE', pidInfo.instance],
    ['CUTOVER_COLOR', pidInfo.color],
    ['PORT', String(pidInfo.port)],
  ];
  for (const [key, value] of expected) {
    if (env.get(key) !== value) {
      problems.push(`process ${pidInfo.pid} has ${key}=${env.get(key) ?? '(unset)'}, expected ${value} (the pid was reused)`);
    }
  }
  return problems;
}
