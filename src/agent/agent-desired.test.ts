import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createStateFile } from './agent-state.ts';
import { agentStateBase } from './agent-files.ts';
import { startTestAgent, tempDataDir } from './test-agent.ts';
import type { TestAgent } from './test-agent.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const doc = (machine: string, instances = 1) => ({
  machine,
  instances: Array.from({ length: instances }, (_, k) => ({ name: `shop-${k}`, hosts: [`shop-${k}.test`], live: { version: '1.0.0', digest: DIGEST, color: 'blue' as const }, warm: null, maintenance: false })),
});

test('the agent keeps the accepted desired state across a restart, refuses a lower number and another machine’s document', async () => {
  const data = await tempDataDir();
  let t: TestAgent | undefined;
  try {
    // A joined agent knows its name from agent/private/machine.json.
    const privateDir = join(data.dir, 'agent', 'private');
    await mkdir(privateDir, { recursive: true, mode: 0o700 });
    await writeFile(join(privateDir, 'machine.json'), JSON.stringify({ name: 'web-1', urls: ['http://127.0.0.1:1'], fingerprint: null, credential: 'cutm_x' }), { mode: 0o600 });
    t = await startTestAgent(data.dir);
    assert.deepEqual(await t.client.applyDesired(3, doc('web-1', 2)), { accepted: true });
    assert.deepEqual(await t.client.applyDesired(4, doc('web-2')), { accepted: false, reason: 'this agent is machine "web-1", the document is for "web-2"' });
    assert.ok(t.log.lines.some((l) => l.level === 'warn' && l.msg === 'refused a desired-state document'), 'a refusal is logged');
    await t.stop();

    t = await startTestAgent(data.dir);
    assert.deepEqual(await t.client.applyDesired(2, doc('web-1')), { accepted: false, reason: 'stale: holds 3' }, 'the number survived the restart');
    assert.deepEqual(await t.client.applyDesired(3, doc('web-1', 2)), { accepted: true });
    await t.stop();
    t = undefined;

    // On disk: an optional field beside the instances, in the same format version.
    const file = createStateFile(agentStateBase(join(data.dir, 'agent')));
    const { state } = await file.load();
    await file.close();
    assert.equal(state.version, 1);
    assert.equal(state.desired?.number, 3);
    assert.equal((state.desired?.document as { instances: unknown[] }).instances.length, 2);
  } finally {
    await t?.stop();
    await data.cleanup();
  }
});

test('a state file without the field (the previous version) loads with no desired state; a malformed one is dropped, not fatal', async () => {
  const data = await tempDataDir();
  try {
    const file = createStateFile(join(data.dir, 'state'));
    await file.save({ version: 1, instances: {} });
    assert.equal((await file.load()).state.desired, undefined);
    await file.save({ version: 1, instances: {}, desired: { number: -1, document: {} } });
    assert.equal((await file.load()).state.desired, undefined);
    await file.close();
  } finally {
    await data.cleanup();
  }
});
