import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentAlive, liveAgent, readAgentPid, waitAgentGone, writeAgentPid } from './agent-pid-file.ts';
import { startTestAgent, tempDataDir } from './test-agent.ts';

test('an agent records its pid when it starts and removes it when it stops; --takeover alone just starts', async () => {
  const data = await tempDataDir();
  try {
    const file = join(data.dir, 'agent', 'private', 'agent.pid');
    const t = await startTestAgent(data.dir);
    const record = await readAgentPid(file);
    assert.equal(record?.pid, process.pid);
    assert.equal(record?.routerPort, t.agent.routerPort, 'with the port it serves');
    if (process.platform === 'linux') assert.match(record?.bootTicks ?? '', /^\d+$/, 'and its start time');
    assert.deepEqual(
      await t.agent.takeOver(),
      { previousPid: null, exited: true, waitedMs: 0 },
      'no previous agent: nothing to take over',
    );
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
      await writeFile(
        file,
        JSON.stringify({ ...record, routerPort: 8080, controlPort: 7071, bootTicks: '1' }),
      );
      assert.deepEqual(await readAgentPid(file), {
        ...record,
        routerPort: 8080,
        controlPort: 7071,
        bootTicks: '1',
      });
      if (process.platform === 'linux')
        assert.equal(
          await liveAgent(file),
          undefined,
          'a recycled pid (another start time) names no live agent',
        );
      await writeFile(file, JSON.stringify(record));
      assert.deepEqual(await liveAgent(file), record);
      if (process.platform === 'linux') {
        assert.equal(
          await agentAlive({ ...record, bootTicks: '1' }),
          false,
          'another start time: the pid was reused',
        );
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
