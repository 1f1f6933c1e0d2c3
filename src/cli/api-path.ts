import { CutoverError } from '../shared/index.ts';

/**
 * An API path from fixed words and user-given segments: every segment is `encodeURIComponent`ed,
 * so a CLI argument can never add a `/`, `..`, `?` or `#` and pick another endpoint (L8). Callers
 * write `apiPath('deployments', id, 'abort')`, never a template string around an argument.
 */
export function apiPath(...segments: (string | number)[]): string {
  return `/api/${segments
    .map((s) => {
      const text = String(s);
      // "." and ".." survive encodeURIComponent and are resolved away by URL parsers.
      if (text === '' || text === '.' || text === '..') throw new CutoverError('VALIDATION_FAILED', `"${text}" cannot be a name or an id`);
      return encodeURIComponent(text);
    })
    .join('/')}`;
}

const DEPLOYMENT_ID = /^dpl_[0-9a-f]{12}$/;

/** True when `value` looks like a deployment id at all (starts with `dpl_`), so it must be one. */
export function looksLikeDeploymentId(value: string): boolean {
  return value.startsWith('dpl_');
}

/** A deployment id as given, or VALIDATION_FAILED naming the shape it must have. */
export function deploymentId(value: string): string {
  if (!DEPLOYMENT_ID.test(value)) {
    throw new CutoverError('VALIDATION_FAILED', `a deployment id is dpl_ followed by 12 hex digits, like dpl_0123456789ab, not ${JSON.stringify(value)}`);
  }
  return value;
}
