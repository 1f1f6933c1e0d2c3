import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isCutoverError } from '../shared/index.ts';
import type { InstanceRecord } from '../store/index.ts';
import { formatSelector, globMatch, matchesSelector, parseSelector } from './selector.ts';
import type { Selector } from './selector.ts';

type Selectable = Pick<InstanceRecord, 'name' | 'app' | 'environment' | 'tenant' | 'labels' | 'currentVersion'>;

function inst(overrides: Partial<Selectable> = {}): Selectable {
  return { name: 'acme-test', app: 'shop', environment: 'test', tenant: 'acme', labels: { tier: 'web', region: 'eu-west' }, currentVersion: '1.2.0', ...overrides };
}

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseSelector(text),
    (err: unknown) => {
      assert.ok(isCutoverError(err));
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.match(err.message, pattern);
      assert.match(err.message, /accepted: comma-separated "key=value" or "key!=value"/);
      return true;
    },
    text,
  );
}

test('parseSelector reads fields, aliases, labels and negations', () => {
  assert.deepEqual(parseSelector('environment=test,tenant=acme'), {
    terms: [
      { field: 'environment', negate: false, value: 'test' },
      { field: 'tenant', negate: false, value: 'acme' },
    ],
  });
  assert.deepEqual(parseSelector(' env = prod , name!=shop-* , version=1.2.0-beta.2, app=shop '), {
    terms: [
      { field: 'environment', negate: false, value: 'prod' },
      { field: 'name', negate: true, value: 'shop-*' },
      { field: 'version', negate: false, value: '1.2.0-beta.2' },
      { field: 'app', negate: false, value: 'shop' },
    ],
  });
  assert.deepEqual(parseSelector('tier=web,label.name=x,example.com/team!=ops,label.label.y=z').terms, [
    { field: 'label', label: 'tier', negate: false, value: 'web' },
    { field: 'label', label: 'name', negate: false, value: 'x' },
    { field: 'label', label: 'example.com/team', negate: true, value: 'ops' },
    { field: 'label', label: 'label.y', negate: false, value: 'z' },
  ]);
});

test('empty, "*" and "all" select everything', () => {
  for (const text of ['', '  ', '*', 'all', ' all ']) assert.deepEqual(parseSelector(text), { terms: [] }, text);
  assert.equal(formatSelector({ terms: [] }), '*');
});

test('bad terms are refused, naming the term and the accepted forms', () => {
  rejects('env=test,,tenant=acme', /term "" is empty/);
  rejects('env=test,', /term "" is empty/);
  rejects('environment', /"environment" has no "=" or "!="/);
  rejects('=test', /"=test" has no key/);
  rejects('!=test', /"!=test" has no key/);
  rejects('env=', /"env=" has no value; to select instances without "env", write "env!=\*"/);
  rejects('env=a=b', /containing "="/);
  rejects('env=a\nb', /control character/);
  rejects('bad key=x', /bad key "bad key"/);
  rejects('-x=1', /bad key "-x"/);
  rejects('label.=1', /bad label key ""/);
  rejects('all,env=test', /"all" selects everything and must stand alone/);
  rejects('env=test,*', /"\*" selects everything/);
  try {
    parseSelector('env=test,oops');
  } catch (err) {
    assert.ok(isCutoverError(err));
    assert.equal(err.details['term'], 'oops');
    assert.equal(err.details['selector'], 'env=test,oops');
  }
});

test('matchesSelector: fields, labels, globs and negations', () => {
  const i = inst();
  const yes = ['*', 'env=test', 'environment=test,tenant=acme', 'name=acme-*', 'name=*-test', 'name=*', 'name=a*e*t', 'tier=web', 'label.tier=w*', 'version=1.2.*', 'app!=blog', 'region!=us-*', 'missing!=x', 'missing!=*'];
  const no = ['env=prod', 'environment=test,tenant=other', 'name=shop-*', 'name!=acme-*', 'tier=api', 'missing=x', 'missing=*', 'version=1.3.*', 'name=acme', 'name=test'];
  for (const text of yes) assert.equal(matchesSelector(parseSelector(text), i), true, text);
  for (const text of no) assert.equal(matchesSelector(parseSelector(text), i), false, text);
});

test('a missing tenant or version never equals anything, so != matches it', () => {
  const i = inst({ tenant: null, currentVersion: null });
  assert.equal(matchesSelector(parseSelector('tenant=*'), i), false);
  assert.equal(matchesSelector(parseSelector('tenant!=*'), i), true);
  assert.equal(matchesSelector(parseSelector('tenant!=acme'), i), true);
  assert.equal(matchesSelector(parseSelector('version=*'), i), false);
  assert.equal(matchesSelector(parseSelector('version!=1.2.0'), i), true);
});

test('labels are own properties only', () => {
  assert.equal(matchesSelector(parseSelector('constructor=*'), inst()), false);
  assert.equal(matchesSelector(parseSelector('toString!=*'), inst()), true);
});

test('formatSelector is canonical', () => {
  assert.equal(formatSelector(parseSelector(' env = test ,tenant=acme')), 'environment=test,tenant=acme');
  assert.equal(formatSelector(parseSelector('label.tier=web,label.env=x,label.label.y=z,name!=a*')), 'tier=web,label.env=x,label.label.y=z,name!=a*');
  assert.equal(formatSelector(parseSelector('all')), '*');
});

test('globMatch: * is any run of characters, everything else literal', () => {
  assert.equal(globMatch('', ''), true);
  assert.equal(globMatch('', 'a'), false);
  assert.equal(globMatch('*', ''), true);
  assert.equal(globMatch('**', 'abc'), true);
  assert.equal(globMatch('a*b*c', 'aXbYbZc'), true);
  assert.equal(globMatch('a*b*c', 'aXbYbZ'), false);
  assert.equal(globMatch('*aab', 'aaab'), true);
  assert.equal(globMatch('a.c', 'abc'), false);
  assert.equal(globMatch('?', 'a'), false);
});

const keyArb = fc.oneof(
  fc.constantFrom('name', 'app', 'env', 'environment', 'tenant', 'version', 'label.name', 'label.env', 'label.label.x'),
  fc.stringMatching(/^[a-z0-9][a-z0-9._/-]{0,8}$/),
);
const valueArb = fc.stringMatching(/^[A-Za-z0-9 .*!_-]{0,8}$/).filter((v) => v.trim() !== '');
const textArb = fc
  .array(fc.tuple(keyArb, fc.boolean(), valueArb), { minLength: 1, maxLength: 5 })
  .map((terms) => terms.map(([k, neg, v]) => `${k}${neg ? '!=' : '='}${v}`).join(','));

test('property: format∘parse is stable and parse∘format is the identity', () => {
  fc.assert(
    fc.property(textArb, (text) => {
      const selector = parseSelector(text);
      const canonical = formatSelector(selector);
      assert.deepEqual(parseSelector(canonical), selector);
      assert.equal(formatSelector(parseSelector(canonical)), canonical);
    }),
  );
});

test('property: "*" matches every instance; a term and its negation split the fleet', () => {
  const instArb = fc.record({
    name: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/),
    app: fc.constantFrom('shop', 'blog'),
    environment: fc.constantFrom('test', 'production'),
    tenant: fc.option(fc.constantFrom('acme', 'globex')),
    labels: fc.dictionary(fc.constantFrom('tier', 'region', 'name'), fc.constantFrom('web', 'eu', 'x')),
    currentVersion: fc.option(fc.constantFrom('1.0.0', '1.1.0')),
  });
  const all: Selector = parseSelector('*');
  fc.assert(
    fc.property(instArb, keyArb, valueArb, (i, key, value) => {
      assert.equal(matchesSelector(all, i), true);
      const pos = matchesSelector(parseSelector(`${key}=${value}`), i);
      const neg = matchesSelector(parseSelector(`${key}!=${value}`), i);
      assert.equal(pos, !neg);
    }),
  );
});

test('property: globMatch agrees with an equivalent regular expression', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[ab*]{0,6}$/), fc.stringMatching(/^[ab]{0,8}$/), (pattern, text) => {
      const re = new RegExp(`^${pattern.replaceAll('*', '.*')}$`, 's');
      assert.equal(globMatch(pattern, text), re.test(text));
    }),
  );
});
