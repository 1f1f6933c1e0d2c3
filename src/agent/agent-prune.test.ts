import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packArtifact } from '../releases/index.ts';
import { isCutoverError } from '../shared/index.ts';
import { deploy, get, startTestAgent, tempDataDir } from './test-agent.ts';
import type { TestAgent } from './test-agent.ts';

const busy = (e: unknown) => isCutoverError(e) && e.code === 'SLOT_BUSY';

test('the agent lists its artifacts, deletes one nobody uses, keeps what a slot runs or a deploy just checked; delete forgets an instance', async () => {
  const data = await tempDataDir();
  let t: TestAgent | undefined;
  try {
    t = await startTestAgent(data.dir);
    await deploy(t.client, 'shop', 'shop.test', { blue: { version: '1.0.0' } });
    await t.client.flip('shop', 'blue');
    const other = join(data.dir, 'other-app');
    await mkdir(other);
    await writeFile(join(other, 'index.txt'), 'another release');
    const packed = await packArtifact(other);
    await t.client.ensureArtifact('shop', packed.digest, () => createReadStream(packed.file));
    if (packed.temporary) await rm(packed.file, { force: true });

    const listed = await t.client.listArtifacts();
    assert.equal(listed.length, 2);
    const running = listed.find((a) => a.inUse)!;
    assert.ok(running && running.size > 0);
    assert.deepEqual(listed.find((a) => !a.inUse)?.digest, packed.digest);
    await assert.rejects(t.client.deleteArtifact(running.digest), busy, 'a slot runs it');
    await assert.rejects(t.client.deleteArtifact(packed.digest), busy, 'a deploy just sent it');

    await t.stop();
    t = await startTestAgent(data.dir);
    await t.client.deleteArtifact(packed.digest);
    assert.deepEqual((await t.client.listArtifacts()).map((a) => a.digest), [running.digest]);
    await assert.rejects(t.client.deleteArtifact(running.digest), busy, 'still running after the restart');

    await t.client.removeInstance('shop');
    assert.equal(await t.client.describe('shop'), undefined);
    assert.equal((await get(t.agent.routerPort, 'shop.test')).status, 404);
    assert.deepEqual(await t.client.listArtifacts(), [{ ...running, inUse: false }]);
  } finally {
    await t?.stop();
    await data.cleanup();
  }
});

test("deleting an artifact deletes the instances' unpacked copies of it; a later deploy fetches and unpacks it again", async () => {
  const data = await tempDataDir();
  let t: TestAgent | undefined;
  const copies = async () => {
    const out: string[] = [];
    for (const entry of await readdir(join(data.dir, 'agent', 'releases'))) {
      if (entry.startsWith('sha256-')) continue;
      for (const copy of await readdir(join(data.dir, 'agent', 'releases', entry)).catch(() => [] as string[])) out.push(`${entry}/${copy}`);
    }
    return out.sort();
  };
  try {
    t = await startTestAgent(data.dir);
    // Two instances, each with its own copy; neither runs it once their slots stop.
    await deploy(t.client, 'shop', 'shop.test', { blue: { version: '1.0.0' } });
    await deploy(t.client, 'cart', 'cart.test', { blue: { version: '1.0.0' } });
    const [artifact] = await t.client.listArtifacts();
    const name = artifact!.digest.replace(':', '-');
    assert.deepEqual(await copies(), [`cart/${name}`, `shop/${name}`]);
    await t.client.stopSlot('shop', 'blue');
    await t.client.stopSlot('cart', 'blue');

    await t.stop();
    t = await startTestAgent(data.dir); // no recent-use marks after a restart
    await t.client.deleteArtifact(artifact!.digest);
    assert.deepEqual(await t.client.listArtifacts(), []);
    assert.deepEqual(await copies(), [], 'no copy of a deleted artifact is left');

    await deploy(t.client, 'shop', 'shop.test', { blue: { version: '1.0.1' } });
    await t.client.flip('shop', 'blue');
    const answer = await get(t.agent.routerPort, 'shop.test');
    assert.equal(answer.status, 200);
    assert.deepEqual(await copies(), [`shop/${name}`]);
  } finally {
    await t?.stop();
    await data.cleanup();
  }
});
