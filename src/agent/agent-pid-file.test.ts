import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { agentAlive, readAgentPid, waitAgentGone, writeAgentPid } from './agent-pid-file.ts';
import { startTestAgent, tempDataDir } from './test-agent.ts';

test('an agent records its pid when it starts and removes it when it stops; --takeover alone just starts', async () => {
  const data = await tempDataDir();
  try {
    const file = join(data.dir, 'agent', 'agent.pid');
    const t = await startTestAgent(data.dir);
    assert.equal((await readAgentPid(file))?.pid, process.pid);
    assert.deepEqual(await t.agent.takeOver(), { previousPid: null, exited: true, waitedMs: 0 }, 'no previous agent: nothing to take over');
    await t.stop();
    await assert.rejects(access(file), { code: 'ENOENT' });
  } finally {
    await data.cleanup();
  }
});

test('a pid file naming a reused pid, a dead process or this process is not a live agent', async () => {
  const data = await tempDataDir();
  try {
    const file = join(data.dir, 'agent.pid');
    const own = await writeAgentPid(file);
    assert.deepEqual(await readAgentPid(file), own);
    assert.equal(await agentAlive(own), false, 'this process is never its own predecessor');

    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const record = { pid: child.pid!, startedAt: Date.now() };
      assert.equal(await agentAlive(record), true);
      if (process.platform === 'linux') {
        assert.equal(await agentAlive({ ...record, bootTicks: '1' }), false, 'another start time: the pid was reused');
      }
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      assert.equal(await waitAgentGone(record, 5000, () => {}), true);
      await exited;
      assert.equal(await agentAlive(record), false);
    } finally {
      child.kill('SIGKILL');
    }
  } finally {
    await data.cleanup();
  }
});
