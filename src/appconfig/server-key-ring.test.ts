import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Logger } from '../shared/index.ts';
import type { AppConfigVersion, Store } from '../store/index.ts';
import { keyCheck, newKey } from './key-ring.ts';
import { openServerKeyRing } from './server-key-ring.ts';

/** The one store method the key ring reads, over a fixed latest version. */
const storeWith = (latest: Partial<AppConfigVersion> | undefined) => ({ getAppConfigVersion: async () => latest }) as unknown as Store;

function recordingLog() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger };
}

test('the first start writes a key with a random id; later starts keep it; a wrong or missing key file is logged by id', async () => {
  const dir = join(await mkdtemp(join(tmpdir(), 'cutover-ring-')), 'keys');
  try {
    const first = recordingLog();
    const ring = await openServerKeyRing(dir, storeWith(undefined), first.log);
    const [file] = await readdir(dir);
    assert.match(file!, /^k-[0-9a-f]{8}\.key$/);
    assert.equal(ring().size, 1);
    assert.equal(first.lines[0]!.level, 'info');
    const id = file!.slice(0, -4);
    const key = ring().get(id)!;

    const again = recordingLog();
    await openServerKeyRing(dir, storeWith({ keyChecks: { [id]: keyCheck(key), 'k-gone': 'x' } }), again.log);
    assert.deepEqual((await readdir(dir)).length, 1, 'no second key');
    assert.deepEqual(again.lines.map((l) => [l.level, (l.obj as { keyIds: string[] }).keyIds]), [['warn', ['k-gone']]]);

    const wrong = recordingLog();
    await openServerKeyRing(dir, storeWith({ keyChecks: { [id]: keyCheck(newKey()) } }), wrong.log);
    assert.deepEqual(wrong.lines.map((l) => [l.level, (l.obj as { keyIds: string[] }).keyIds]), [['error', [id]]]);

    // A key added later is read at its next use, without a restart.
    await writeFile(join(dir, 'k-next.key'), `${newKey().toString('base64')}\n`, { mode: 0o600 });
    assert.deepEqual([...ring().keys()].sort(), [id, 'k-next'].sort());
  } finally {
    await rm(join(dir, '..'), { recursive: true, force: true });
  }
});
