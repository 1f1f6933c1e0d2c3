import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKeyFile } from './key-file.ts';

test('writeKeyFile: base64 and a newline, 0600, never over an existing file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-key-file-'));
  try {
    const file = join(dir, 'k.key');
    const key = Buffer.alloc(32, 7);
    writeKeyFile(file, key);
    assert.equal(await readFile(file, 'utf8'), `${key.toString('base64')}\n`);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.throws(() => writeKeyFile(file, Buffer.alloc(32, 9)), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
    assert.equal(await readFile(file, 'utf8'), `${key.toString('base64')}\n`, 'the first key stays');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
