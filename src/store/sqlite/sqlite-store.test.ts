import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeContract } from '../store-contract.ts';
import { createSqliteStore } from './sqlite-store.ts';

storeContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-sqlite-'));
  return { store: createSqliteStore(join(dir, 'cutover.db')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

test('sqlite: data survives reopening the file, migrations run once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-sqlite-'));
  try {
    const file = join(dir, 'cutover.db');
    const first = createSqliteStore(file);
    await first.insertToken({ name: 'admin', hash: 'h', role: 'admin', createdAt: 1 });
    await first.close();
    const second = createSqliteStore(file);
    assert.equal(await second.countTokens(), 1);
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
