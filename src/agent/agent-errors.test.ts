import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { captureLogger, startTestAgent, tempDataDir } from './test-agent.ts';
import type { TestAgent } from './test-agent.ts';

test('an agent failure reaches the caller with its real cause, and the agent logs it', async () => {
  const data = await tempDataDir();
  let t: TestAgent | undefined;
  try {
    const log = captureLogger();
    t = await startTestAgent(data.dir, {}, { log });
    const bytes = Buffer.from([0x1f, 0x8b, 8, 0, 9, 9, 9, 9, 9]); // a gzip header, then nothing valid
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    // Stored as received; each instance unpacks its own copy when one of its slots starts.
    await t.client.ensureArtifact('broken', digest, () => Readable.from([bytes]));
    await t.client.ensureInstance('broken', ['broken.test']);
    const start = t.client.startSlot({
      instance: 'broken',
      color: 'blue',
      version: '1.0.0',
      digest,
      start: 'true',
      env: {},
      health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2 },
      stopTimeoutMs: 1000,
      deploymentId: 'd-broken',
    });
    await assert.rejects(start, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ARTIFACT_INVALID');
      assert.match(e.message, /Could not unpack artifact .*: \S/, 'the cause, not "see its log"');
      return true;
    });
    const line = log.lines.find((l) => l.msg === 'agent request refused');
    assert.ok(line, 'logged by the agent');
    assert.equal(line.obj.code, 'ARTIFACT_INVALID');
    assert.match(String(line.obj.err), /Could not unpack/);
  } finally {
    await t?.stop();
    await data.cleanup();
  }
});
