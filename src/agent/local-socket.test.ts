import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { lstat, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { localSocketPath } from './local-socket.ts';
import { deploy, get, localRequest, rollBackLocally, startTestAgent, tempDataDir } from './test-agent.ts';
import type { TestAgent } from './test-agent.ts';
import { waitFor } from '../testing/index.ts';

const version = (body: string) => (JSON.parse(body) as { version: string }).version;

test('the local socket: 0600 in the 0700 private directory, a stale one replaced at start, removed at stop', async () => {
  const data = await tempDataDir();
  let t: TestAgent | undefined;
  const path = localSocketPath(join(data.dir, 'agent'));
  let crashed: ReturnType<typeof createServer> | undefined;
  try {
    // A socket file another process still holds (what an agent killed with SIGKILL leaves is the
    // same file with nobody behind it): the new agent replaces it.
    await mkdir(join(data.dir, 'agent', 'private'), { recursive: true, mode: 0o700 });
    crashed = createServer();
    await new Promise<void>((resolve) => crashed!.listen(path, resolve));
    const staleIno = (await stat(path)).ino;

    t = await startTestAgent(data.dir);
    const file = await lstat(path);
    assert.ok(file.isSocket());
    assert.equal(file.mode & 0o777, 0o600);
    assert.equal((await stat(join(data.dir, 'agent', 'private'))).mode & 0o777, 0o700);
    assert.equal(file.uid, process.getuid?.());
    const answer = await localRequest(data.dir, 'GET', '/v1/local/rollbacks');
    assert.equal(answer.status, 200, 'the new agent answers on the replaced socket');
    assert.deepEqual(answer.json.items, []);
    assert.equal(typeof answer.json.machine, 'string');
    assert.notEqual((await stat(path)).ino, staleIno, 'a new socket file');

    await t.stop();
    t = undefined;
    await assert.rejects(lstat(path), { code: 'ENOENT' });
  } finally {
    crashed?.close();
    await t?.stop();
    await data.cleanup();
  }
});

test('bad requests get a clear refusal, naming what to fix', async () => {
  const data = await tempDataDir();
  const t = await startTestAgent(data.dir);
  try {
    const missing = await localRequest(data.dir, 'POST', '/v1/local/rollback', {});
    assert.equal(missing.status, 400);
    assert.equal(missing.json.code, 'VALIDATION_FAILED');
    assert.match(String(missing.json.message), /name the instance/);
    const unknown = await localRequest(data.dir, 'POST', '/v1/local/rollback', { instance: 'nope' });
    assert.equal(unknown.json.code, 'INSTANCE_NOT_FOUND');
    assert.equal((await localRequest(data.dir, 'GET', '/v1/nothing')).json.code, 'NOT_FOUND');
  } finally {
    await t.stop();
    await data.cleanup();
  }
});

test('a local rollback flips at once, survives an agent restart, and is kept until acknowledged', async () => {
  const data = await tempDataDir();
  let t: TestAgent | undefined;
  try {
    t = await startTestAgent(data.dir);
    await deploy(t.client, 'shop', 'shop.test', { blue: { version: '1.0.0' }, green: { version: '2.0.0' } });
    await t.client.flip('shop', 'blue');
    await t.client.flip('shop', 'green', '2.0.0');
    assert.equal(version((await get(t.agent.routerPort, 'shop.test')).body), '2.0.0');

    const action = await rollBackLocally(data.dir, 'shop');
    assert.deepEqual([action.from, action.to], [{ color: 'green', version: '2.0.0' }, { color: 'blue', version: '1.0.0' }]);
    assert.equal(version((await get(t.agent.routerPort, 'shop.test')).body), '1.0.0', 'served by the warm slot at once');
    await t.stop();

    t = await startTestAgent(data.dir);
    assert.deepEqual(await t.client.localRollbacks(), [action], 'the report survives a restart');
    const client = t.client;
    await waitFor('blue to serve again after the restart', async () => (await client.describe('shop'))?.active === 'blue');
    await assert.rejects(rollBackLocally(data.dir, 'shop'), { code: 'ALREADY_ROLLED_BACK' });
    await t.client.ackLocalRollbacks([action.id]);
    await t.stop();

    t = await startTestAgent(data.dir);
    assert.deepEqual(await t.client.localRollbacks(), [], 'an acknowledgement is persisted');
  } finally {
    await t?.stop();
    await data.cleanup();
  }
});
