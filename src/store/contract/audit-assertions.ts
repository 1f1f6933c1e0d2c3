import assert from 'node:assert/strict';
import { chainAuditEntry, verifyAuditChain } from '../audit-chain.ts';
import type { Store } from '../store.ts';
import type { NewAuditEntry } from '../types.ts';

/**
 * Asserts the audit chain verifies and ends with exactly `given`, in order: each stored entry equals
 * the given one chained onto the entry before it. After a write that appends "in the same
 * transaction", this shows the entry landed and landed whole.
 */
export async function assertChainEndsWith(store: Store, given: NewAuditEntry[]): Promise<void> {
  const chain = await store.readAuditChain(0, 1_000_000);
  const check = verifyAuditChain(chain, await store.auditHead());
  assert.equal(check.ok, true, check.problem?.message);
  assert.ok(
    chain.length >= given.length,
    `the chain has ${chain.length} entries, expected at least ${given.length}`,
  );
  let prevHash = chain.at(-given.length - 1)?.hash ?? '';
  const tail = chain.slice(chain.length - given.length);
  tail.forEach((stored, k) => {
    assert.deepEqual(stored, chainAuditEntry(given[k]!, stored.id, prevHash), `entry ${stored.id}`);
    prevHash = stored.hash;
  });
}

/** The audit head now, to compare with after a write that must append nothing. */
export const headOf = (store: Store) => store.auditHead();

/** Asserts no entry was appended since `before` was taken with `headOf`. */
export async function assertNoEntrySince(
  store: Store,
  before: Awaited<ReturnType<Store['auditHead']>>,
  message: string,
): Promise<void> {
  assert.deepEqual(await store.auditHead(), before, `${message}: no audit entry appended`);
}

/** An audit entry no store can serialise (JSON has no BigInt): the write it goes with must fail whole. */
export const unstorableEntry = (at: number): NewAuditEntry => ({
  at,
  actor: 'admin',
  action: 'test.unstorable',
  subject: 'x',
  details: { n: 1n },
});
