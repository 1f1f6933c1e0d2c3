import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ManualClock } from '../shared/index.ts';
import { createSqliteStore } from '../store/index.ts';
import { verifyAudit } from './audit.ts';
import { bootstrapAdminToken } from './tokens.ts';

/**
 * M7 with real SQLite files: a bootstrapped database with 30 entries, tampered with the review's
 * SQL while the server is stopped, then verified as `cutover audit verify` does on the next start.
 */
async function tampered(sql: string | null) {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-audit-'));
  const file = join(dir, 'cutover.db');
  try {
    const store = createSqliteStore(file);
    const clock = new ManualClock(1_000);
    assert.ok(await bootstrapAdminToken(store, clock));
    for (let i = 2; i <= 30; i++) await store.appendAudit({ at: 1_000 + i, actor: 'dep1', action: 'deploy.start', subject: 'hello' });
    await store.close();
    if (sql !== null) {
      const raw = new DatabaseSync(file);
      raw.exec(sql);
      raw.close();
    }
    const reopened = createSqliteStore(file);
    try {
      return Object.assign(await verifyAudit(reopened), { marker: await reopened.getSetting('audit.bootstrapped') });
    } finally {
      await reopened.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('audit verify on a real file: an untouched log is intact', async () => {
  const check = await tampered(null);
  assert.deepEqual([check.ok, check.checked], [true, 30]);
});

test('audit verify on a real file: DELETE FROM audit_head is detected', async () => {
  const check = await tampered('DELETE FROM audit_head');
  assert.equal(check.ok, false);
  assert.equal(check.problem?.kind, 'truncated');
});

test('audit verify on a real file: entries deleted from the end with the head are detected', async () => {
  const check = await tampered('DELETE FROM audit WHERE id > 20; DELETE FROM audit_head');
  assert.equal(check.ok, false);
  assert.match(check.problem!.message, /head is missing while the log holds 20 entries/);
});

test('audit verify on a real file: a wiped log is detected after bootstrap, by the marker or by the tokens', async () => {
  const wiped = await tampered('DELETE FROM audit; DELETE FROM audit_head');
  assert.deepEqual([wiped.ok, wiped.problem?.kind], [false, 'deleted']);
  const noMarker = await tampered("DELETE FROM audit; DELETE FROM audit_head; DELETE FROM settings WHERE key = 'audit.bootstrapped'");
  assert.equal(noMarker.ok, false, 'the admin token still shows the server was bootstrapped');
});

test('audit verify on a real file: a database bootstrapped before the marker existed gets it from its migration', async () => {
  // Drop the marker and the migration record: reopening runs 0004 again, which sets the marker from the log.
  const check = await tampered(
    "DELETE FROM settings WHERE key = 'audit.bootstrapped'; DELETE FROM schema_migrations WHERE name = '0004_lease_holder.sql';" +
      'ALTER TABLE locks DROP COLUMN server_id; ALTER TABLE locks DROP COLUMN replica; ALTER TABLE locks DROP COLUMN holder_pid; ALTER TABLE locks DROP COLUMN heartbeat_at;' +
      'DELETE FROM tokens; DELETE FROM audit; DELETE FROM audit_head;',
  );
  assert.deepEqual([check.ok, check.checked, check.marker], [true, 0, undefined], 'nothing shows earlier use: a fresh store');
  const marked = await tampered(
    "DELETE FROM settings WHERE key = 'audit.bootstrapped'; DELETE FROM schema_migrations WHERE name = '0004_lease_holder.sql';" +
      'ALTER TABLE locks DROP COLUMN server_id; ALTER TABLE locks DROP COLUMN replica; ALTER TABLE locks DROP COLUMN holder_pid; ALTER TABLE locks DROP COLUMN heartbeat_at;',
  );
  assert.deepEqual([marked.ok, marked.checked], [true, 30]);
  assert.deepEqual(marked.marker, { at: 1_000 }, 'set from the first entry');
});
