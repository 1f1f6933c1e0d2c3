import { CutoverError } from '../shared/index.ts';
import type { InstanceRecord } from '../store/index.ts';

/** Instance fields a selector can test directly; any other key is a label. */
export type SelectorField = 'name' | 'app' | 'environment' | 'tenant' | 'version';

/**
 * One `key=value` / `key!=value` condition. `value` may contain `*` (any run of characters).
 * A missing value (no tenant, no current version, no such label) never equals anything, so
 * `tenant=*` means "has a tenant" and `tenant!=*` means "has none".
 */
export type SelectorTerm =
  | { field: SelectorField; negate: boolean; value: string }
  | { field: 'label'; label: string; negate: boolean; value: string };

/** All terms must hold. No terms: every instance. Plain data, so it can be stored and sent. */
export interface Selector {
  terms: SelectorTerm[];
}

const FIELDS: Record<string, SelectorField> = {
  name: 'name',
  app: 'app',
  environment: 'environment',
  env: 'environment',
  tenant: 'tenant',
  version: 'version',
};

const KEY = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,252})$/;
const LABEL_PREFIX = 'label.';
// Control characters would make the text unprintable; `,` and `=` would make it ambiguous.
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\u0000-\u001f\u007f,=]/;

const FORMS =
  'accepted: comma-separated "key=value" or "key!=value" terms, where key is name, app, environment (or env), tenant, version, ' +
  'a label key, or "label.KEY" for a label named like a field; values may use * as a wildcard ("name=shop-*"); ' +
  'an empty selector, "*" or "all" selects every instance';

/**
 * Parses `environment=test,tenant=acme,name!=shop-*`. Spaces around terms, keys and values are
 * ignored. Throws `VALIDATION_FAILED` naming the first bad term and the accepted forms.
 */
export function parseSelector(text: string): Selector {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === '*' || trimmed === 'all') return { terms: [] };
  const terms: SelectorTerm[] = [];
  for (const raw of trimmed.split(',')) {
    terms.push(parseTerm(raw.trim(), text));
  }
  return { terms };
}

function parseTerm(term: string, text: string): SelectorTerm {
  const fail = (why: string): never => {
    throw new CutoverError('VALIDATION_FAILED', `selector term ${JSON.stringify(term)} ${why}; ${FORMS}`, {
      details: { selector: text, term, issues: [{ path: 'selector', message: `${JSON.stringify(term)} ${why}` }] },
    });
  };
  if (term === '') fail('is empty (a stray comma?)');
  if (term === '*' || term === 'all') fail('selects everything and must stand alone');
  const eq = term.indexOf('=');
  if (eq === -1) fail('has no "=" or "!="');
  const negate = eq > 0 && term[eq - 1] === '!';
  const key = term.slice(0, negate ? eq - 1 : eq).trim();
  const value = term.slice(eq + 1).trim();
  if (key === '') fail('has no key before the "="');
  if (value === '') fail(`has no value; to select instances without "${key}", write "${key}!=*"`);
  if (BAD_VALUE.test(value)) fail('has a value containing "=" or a control character');

  if (key.startsWith(LABEL_PREFIX)) {
    const label = key.slice(LABEL_PREFIX.length);
    if (!KEY.test(label)) fail(`has a bad label key "${label}" (letters, digits, ".", "_", "/", "-"; starting with a letter or digit)`);
    return { field: 'label', label, negate, value };
  }
  if (!KEY.test(key)) fail(`has a bad key "${key}" (letters, digits, ".", "_", "/", "-"; starting with a letter or digit)`);
  const field = Object.hasOwn(FIELDS, key) ? FIELDS[key] : undefined;
  return field ? { field, negate, value } : { field: 'label', label: key, negate, value };
}

/** Canonical text: `*` for everything; `environment` for `env`; `label.` only where a bare key would mean a field. */
export function formatSelector(selector: Selector): string {
  if (selector.terms.length === 0) return '*';
  return selector.terms.map(formatTerm).join(',');
}

function formatTerm(term: SelectorTerm): string {
  const op = term.negate ? '!=' : '=';
  if (term.field !== 'label') return `${term.field}${op}${term.value}`;
  const bare = !Object.hasOwn(FIELDS, term.label) && !term.label.startsWith(LABEL_PREFIX);
  return `${bare ? '' : LABEL_PREFIX}${term.label}${op}${term.value}`;
}

type Selectable = Pick<InstanceRecord, 'name' | 'app' | 'environment' | 'tenant' | 'labels' | 'currentVersion'>;

/** Whether the instance satisfies every term of the selector. */
export function matchesSelector(selector: Selector, instance: Selectable): boolean {
  for (const term of selector.terms) {
    const actual = fieldValue(term, instance);
    const equal = actual !== null && globMatch(term.value, actual);
    if (equal === term.negate) return false;
  }
  return true;
}

function fieldValue(term: SelectorTerm, instance: Selectable): string | null {
  switch (term.field) {
    case 'name':
      return instance.name;
    case 'app':
      return instance.app;
    case 'environment':
      return instance.environment;
    case 'tenant':
      return instance.tenant ?? null;
    case 'version':
      return instance.currentVersion ?? null;
    case 'label': {
      const labels = instance.labels;
      return labels && Object.hasOwn(labels, term.label) ? (labels[term.label] ?? null) : null;
    }
  }
}

/**
 * Whole-string match where `*` stands for any run of characters (no other metacharacters).
 * Greedy with one backtrack point, so it is linear in practice and allocates nothing.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
