import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JoinTokenRecord } from '../store/index.ts';
import { checkJoinToken } from './join-tokens.ts';

const token = (over: Partial<JoinTokenRecord> = {}): JoinTokenRecord => ({
  id: 'jt_1',
  hash: 'h',
  createdAt: 0,
  createdBy: 'admin',
  expiresAt: 1000,
  maxUses: 2,
  uses: 0,
  revokedAt: null,
  revokedBy: null,
  ...over,
});

test('checkJoinToken: unknown, revoked, expired, used up, each with its own code; otherwise usable', () => {
  assert.deepEqual(checkJoinToken(token(), 999), { ok: true });
  assert.deepEqual(checkJoinToken(token({ maxUses: null, uses: 50 }), 0), { ok: true });
  const code = (t: JoinTokenRecord | undefined, now: number) => {
    const v = checkJoinToken(t, now);
    return v.ok ? 'ok' : v.code;
  };
  assert.equal(code(undefined, 0), 'JOIN_TOKEN_INVALID');
  assert.equal(code(token({ revokedAt: 5, revokedBy: 'alice' }), 0), 'JOIN_TOKEN_REVOKED');
  assert.equal(code(token(), 1000), 'JOIN_TOKEN_EXPIRED', 'expired at expiresAt itself');
  assert.equal(code(token({ uses: 2 }), 0), 'JOIN_TOKEN_USED');
  // Several reasons at once: revoked wins, then expired.
  assert.equal(code(token({ revokedAt: 5, uses: 2 }), 2000), 'JOIN_TOKEN_REVOKED');
  assert.equal(code(token({ uses: 2 }), 2000), 'JOIN_TOKEN_EXPIRED');
  const v = checkJoinToken(token({ revokedAt: 5, revokedBy: 'alice' }), 0);
  assert.ok(!v.ok && /revoked by alice; ask an admin for a new one \(`cutover join-token create`\)/.test(v.message));
});

test('checkJoinToken accepts exactly the tokens the stores\' WHERE clause accepts', () => {
  fc.assert(
    fc.property(
      fc.record({
        expiresAt: fc.integer({ min: 0, max: 100 }),
        maxUses: fc.option(fc.integer({ min: 1, max: 5 })),
        uses: fc.integer({ min: 0, max: 6 }),
        revokedAt: fc.option(fc.integer({ min: 0, max: 100 })),
      }),
      fc.integer({ min: 0, max: 100 }),
      (fields, now) => {
        const t = token(fields);
        const usable = t.revokedAt === null && t.expiresAt > now && (t.maxUses === null || t.uses < t.maxUses);
        assert.equal(checkJoinToken(t, now).ok, usable);
      },
    ),
  );
});
