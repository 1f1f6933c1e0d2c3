import { invalidInput, isColor, type FieldIssue } from '../shared/index.ts';
import type { SlotSpec } from './types.ts';

/**
 * Checks a slot spec before anything is spawned, listing every problem by field.
 * Specs come from validated manifests, so a failure here is a bug upstream; the message still names the field.
 */
export function validateSlotSpec(spec: SlotSpec): void {
  const issues: FieldIssue[] = [];
  const text = (path: string, value: unknown): void => {
    if (typeof value !== 'string' || value.trim() === '')
      issues.push({ path, message: 'must be a non-empty string' });
  };
  const number = (path: string, value: unknown, min: number, integer = false): void => {
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < min ||
      (integer && !Number.isInteger(value))
    ) {
      issues.push({ path, message: `must be ${integer ? 'an integer' : 'a number'} ≥ ${min}` });
    }
  };
  text('instance', spec.instance);
  if (!isColor(spec.color)) issues.push({ path: 'color', message: "must be 'blue' or 'green'" });
  text('version', spec.version);
  text('cwd', spec.cwd);
  text('command', spec.command);
  if (typeof spec.command === 'string' && spec.command.includes('\0')) issues.push({ path: 'command', message: 'must not contain a NUL byte' });
  if (typeof spec.env !== 'object' || spec.env === null)
    issues.push({ path: 'env', message: 'must be an object' });
  else {
    for (const [key, value] of Object.entries(spec.env)) {
      if (typeof value !== 'string') issues.push({ path: `env.${key}`, message: 'must be a string' });
      // Refused here, naming the key only: spawn's own error would quote the value (a secret).
      else if (value.includes('\0')) issues.push({ path: `env.${key}`, message: 'must not contain a NUL byte' });
      if (key.includes('\0') || key.includes('=')) issues.push({ path: 'env', message: 'a variable name must not contain NUL or "="' });
    }
  }
  if (typeof spec.health?.path !== 'string' || !spec.health.path.startsWith('/')) {
    issues.push({ path: 'health.path', message: "must start with '/'" });
  }
  number('health.intervalMs', spec.health?.intervalMs, 1);
  number('health.timeoutMs', spec.health?.timeoutMs, 1);
  number('health.healthyThreshold', spec.health?.healthyThreshold, 1, true);
  number('health.unhealthyThreshold', spec.health?.unhealthyThreshold, 1, true);
  number('stopTimeoutMs', spec.stopTimeoutMs, 0);
  if (spec.port !== undefined) {
    number('port', spec.port, 1, true);
    if (spec.port > 65535) issues.push({ path: 'port', message: 'must be ≤ 65535' });
  }
  if (spec.drain !== undefined) {
    if (typeof spec.drain !== 'object' || spec.drain === null) {
      issues.push({ path: 'drain', message: 'must be an object with a path' });
    } else {
      if (typeof spec.drain.path !== 'string' || !spec.drain.path.startsWith('/')) {
        issues.push({ path: 'drain.path', message: "must start with '/'" });
      }
      if (spec.drain.intervalMs !== undefined) number('drain.intervalMs', spec.drain.intervalMs, 1);
      if (spec.drain.timeoutMs !== undefined) number('drain.timeoutMs', spec.drain.timeoutMs, 1);
    }
  }
  if (spec.user !== undefined) {
    number('user.uid', spec.user.uid, 0, true);
    number('user.gid', spec.user.gid, 0, true);
  }
  if (spec.stateDir !== undefined && (typeof spec.stateDir !== 'string' || !spec.stateDir.startsWith('/'))) {
    issues.push({ path: 'stateDir', message: 'must be an absolute path' });
  }
  if (issues.length > 0) throw invalidInput('VALIDATION_FAILED', 'slot spec', issues);
}
