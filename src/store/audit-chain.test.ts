import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson } from '../shared/index.ts';
import { auditHash, chainAuditEntry, createChainVerifier, verifyAuditChain } from './audit-chain.ts';
import type { AuditEntry, NewAuditEntry } from './types.ts';

/** A valid chain of `n` entries, built the way a store appends them. */
function chain(news: NewAuditEntry[]): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const e of news) out.push(chainAuditEntry(e, out.length + 1, out.at(-1)?.hash ?? ''));
  return out;
}

const simple = (n: number): AuditEntry[] =>
  chain(
    Array.from({ length: n }, (_, k) => ({
      at: k + 1,
      actor: 'admin',
      action: 'a',
      subject: `s${k + 1}`,
      details: { k },
    })),
  );

const headOf = (entries: AuditEntry[]) => {
  const last = entries.at(-1);
  return last && { id: last.id, hash: last.hash };
};

test('audit chain: an empty log is valid; a head without entries means entries were truncated', () => {
  assert.deepEqual(verifyAuditChain([], undefined), { ok: true, checked: 0, last: null, problem: null });
  const v = verifyAuditChain([], { id: 3, hash: 'abc' });
  assert.deepEqual([v.ok, v.problem?.kind, v.problem?.id], [false, 'truncated', 1]);
});

test('audit chain: a chain built by chainAuditEntry verifies, and reports its last entry', () => {
  const entries = simple(5);
  assert.equal(entries[0]!.prevHash, '');
  assert.equal(entries[1]!.prevHash, entries[0]!.hash);
  const { hash, ...fields } = entries[2]!;
  assert.equal(hash, auditHash(fields));
  assert.deepEqual(verifyAuditChain(entries, headOf(entries)), {
    ok: true,
    checked: 5,
    last: headOf(entries),
    problem: null,
  });
});

test('audit chain: optional fields are hashed as null and {}, so absent and null hash alike', () => {
  const a = chainAuditEntry({ at: 1, actor: 'x', action: 'y', subject: 'z' }, 1, '');
  const b = chainAuditEntry(
    { at: 1, actor: 'x', action: 'y', subject: 'z', reason: null, details: {}, before: null },
    1,
    '',
  );
  assert.deepEqual(a, b);
  assert.equal(a.instance, null);
  assert.deepEqual(a.details, {});
});

test('audit chain: an edited entry is reported at its id', () => {
  const entries = simple(5);
  entries[2] = { ...entries[2]!, actor: 'mallory' };
  const v = verifyAuditChain(entries, headOf(entries));
  assert.deepEqual([v.ok, v.problem?.kind, v.problem?.id, v.checked, v.last?.id], [false, 'edited', 3, 2, 2]);
});

test('audit chain: an entry edited and re-hashed breaks the link from the next entry', () => {
  const entries = simple(5);
  const { hash: _old, ...fields } = { ...entries[2]!, actor: 'mallory' };
  entries[2] = { ...fields, hash: auditHash(fields) };
  const v = verifyAuditChain(entries, headOf(simple(5)));
  assert.deepEqual([v.ok, v.problem?.kind, v.problem?.id], [false, 'deleted', 4]);
});

test('audit chain: the last entry edited and re-hashed no longer matches the head', () => {
  const original = simple(3);
  const { hash: _old, ...fields } = { ...original[2]!, reason: 'forged' };
  const forged = [...original.slice(0, 2), { ...fields, hash: auditHash(fields) }];
  const v = verifyAuditChain(forged, headOf(original));
  assert.deepEqual([v.ok, v.problem?.kind, v.problem?.id], [false, 'edited', 3]);
});

test('audit chain: deletions are reported: first, middle, and last entries', () => {
  const entries = simple(5);
  const head = headOf(entries);
  const first = verifyAuditChain(entries.slice(1), head);
  assert.deepEqual([first.ok, first.problem?.kind, first.problem?.id], [false, 'deleted', 2]);
  const middle = verifyAuditChain([...entries.slice(0, 2), ...entries.slice(3)], head);
  assert.deepEqual([middle.ok, middle.problem?.kind, middle.problem?.id], [false, 'deleted', 4]);
  assert.match(middle.problem!.message, /entry #3 is missing/);
  const last = verifyAuditChain(entries.slice(0, 4), head);
  assert.deepEqual([last.ok, last.problem?.kind, last.problem?.id, last.checked], [false, 'truncated', 5, 4]);
});

test('audit chain: entries without a head fail: the head was deleted, and the end of the log may have been (M7)', () => {
  // Every append moves the head in the same transaction, so entries without one were tampered with.
  const v = verifyAuditChain(simple(5).slice(0, 4), undefined);
  assert.deepEqual([v.ok, v.problem?.kind, v.problem?.id], [false, 'truncated', 4]);
  assert.match(v.problem!.message, /head is missing while the log holds 4 entries/);
});

test('audit chain: an empty log fails once the store was bootstrapped (M7)', () => {
  assert.equal(verifyAuditChain([], undefined, { bootstrapped: false }).ok, true, 'a fresh store');
  const v = verifyAuditChain([], undefined, { bootstrapped: true });
  assert.deepEqual([v.ok, v.problem?.kind, v.problem?.id], [false, 'deleted', 1]);
  assert.equal(verifyAuditChain(simple(2), headOf(simple(2)), { bootstrapped: true }).ok, true);
});

test('audit chain: an entry re-linked after a deletion (ids renumbered, hashes recomputed) fails against the head', () => {
  const entries = simple(4);
  const kept = [entries[0]!, entries[1]!, entries[3]!];
  const rebuilt = chain(
    kept.map(({ at, actor, action, subject, details }) => ({ at, actor, action, subject, details })),
  );
  const v = verifyAuditChain(rebuilt, headOf(entries));
  assert.deepEqual([v.ok, v.problem?.kind], [false, 'truncated']);
});

test('audit chain: verifying in pages gives the same answer as all at once, and stops at the first problem', () => {
  const entries = simple(10);
  const v = createChainVerifier();
  for (let i = 0; i < entries.length; i += 3) assert.equal(v.push(entries.slice(i, i + 3)), true);
  assert.deepEqual(v.finish(headOf(entries)), verifyAuditChain(entries, headOf(entries)));

  const bad = simple(10);
  bad[4] = { ...bad[4]!, subject: 'x' };
  const paged = createChainVerifier();
  assert.equal(paged.push(bad.slice(0, 3)), true);
  assert.equal(paged.push(bad.slice(3, 6)), false, 'push says stop once a problem is found');
  assert.equal(paged.push(bad.slice(6)), false);
  const result = paged.finish(headOf(bad));
  assert.deepEqual([result.problem?.kind, result.problem?.id, result.checked], ['edited', 5, 4]);
});

const jsonValue = fc.jsonValue({ maxDepth: 2 });
const newEntry: fc.Arbitrary<NewAuditEntry> = fc.record(
  {
    at: fc.integer({ min: 0, max: 2 ** 45 }),
    actor: fc.string({ maxLength: 8 }),
    action: fc.string({ maxLength: 8 }),
    subject: fc.string({ maxLength: 8 }),
    instance: fc.option(fc.string({ maxLength: 8 })),
    app: fc.option(fc.string({ maxLength: 8 })),
    version: fc.option(fc.string({ maxLength: 8 })),
    reason: fc.option(fc.string({ maxLength: 8 })),
    requestId: fc.option(fc.string({ maxLength: 8 })),
    before: jsonValue,
    after: jsonValue,
    details: fc.dictionary(fc.string({ maxLength: 4 }), jsonValue, { maxKeys: 3 }),
  },
  { requiredKeys: ['at', 'actor', 'action', 'subject'] },
);

/**
 * An edit of one field, with a value of the kind a store could hand back for it after someone
 * changed the row: numbers for the integer columns, text or null for the text ones, any JSON for
 * the JSON ones.
 */
const text = fc.string({ maxLength: 8 });
const edit = fc.oneof(
  fc.record({ field: fc.constantFrom('id' as const, 'at' as const), value: fc.integer() }),
  fc.record({
    field: fc.constantFrom(
      'actor' as const,
      'action' as const,
      'subject' as const,
      'prevHash' as const,
      'hash' as const,
    ),
    value: text,
  }),
  fc.record({
    field: fc.constantFrom(
      'instance' as const,
      'app' as const,
      'version' as const,
      'reason' as const,
      'requestId' as const,
    ),
    value: fc.option(text),
  }),
  fc.record({
    field: fc.constantFrom('before' as const, 'after' as const, 'details' as const),
    value: jsonValue,
  }),
);

test('audit chain (property): any single edit or deletion in a valid chain is detected', () => {
  fc.assert(
    fc.property(
      fc.array(newEntry, { minLength: 1, maxLength: 12 }),
      fc.nat(),
      fc.oneof(
        fc.record({ kind: fc.constant('delete' as const) }),
        edit.map((e) => ({ kind: 'edit' as const, ...e })),
      ),
      (news, pick, tamper) => {
        const entries = chain(news);
        const head = headOf(entries);
        assert.equal(verifyAuditChain(entries, head).ok, true, 'the untouched chain verifies');
        const i = pick % entries.length;
        const target = entries[i]!;
        let tampered: AuditEntry[];
        if (tamper.kind === 'delete') {
          tampered = entries.filter((_, k) => k !== i);
        } else {
          const edited = { ...target, [tamper.field]: tamper.value } as AuditEntry;
          // An "edit" that leaves the JSON the same changes nothing stored: not an edit.
          fc.pre(canonicalJson(edited) !== canonicalJson(target));
          tampered = entries.map((e, k) => (k === i ? edited : e));
        }
        const v = verifyAuditChain(tampered, head);
        assert.equal(v.ok, false);
        assert.equal(v.checked, target.id - 1, 'every entry before the tampered one checks out');
        if (tamper.kind === 'delete') {
          const last = i === entries.length - 1;
          assert.deepEqual(
            [v.problem!.kind, v.problem!.id],
            last ? ['truncated', target.id] : ['deleted', target.id + 1],
          );
        } else {
          assert.equal(v.problem!.kind, 'edited');
          // An edited id is reported as the id the row now carries.
          if (tamper.field !== 'id') assert.equal(v.problem!.id, target.id);
        }
      },
    ),
    { numRuns: 500 },
  );
});
