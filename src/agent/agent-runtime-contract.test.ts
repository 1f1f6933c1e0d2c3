// The `Runtime` contract against the real agent: its control API on loopback (port 0), driven
// through `createAgentClient`, with every answer also checked against the protocol by the agent.
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { packArtifact } from '../releases/index.ts';
import { runtimeContract } from '../testing/index.ts';
import { FIXTURE_APP, rollBackLocally, startTestAgent, tempDataDir } from './test-agent.ts';

runtimeContract('the agent over loopback', async () => {
  const temp = await tempDataDir();
  const packed = await packArtifact(FIXTURE_APP);
  const agent = await startTestAgent(temp.dir, {}, { checkAnswers: true });
  return {
    runtime: agent.client,
    artifact: { digest: packed.digest, open: () => createReadStream(packed.file) },
    spec: (instance, color, version, healthy = true) => ({
      instance,
      color,
      version,
      digest: packed.digest,
      start: `${JSON.stringify(process.execPath)} server.mjs`,
      env: healthy ? {} : ({ UNHEALTHY: '1' } as Record<string, string>),
      health: { path: '/healthz', intervalMs: 50, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 2 },
      stopTimeoutMs: 2000,
      deploymentId: `d-${instance}-${color}-${version}`,
    }),
    rollBackLocally: (instance) => rollBackLocally(temp.dir, instance),
    async stop() {
      await agent.stop();
      if (packed.temporary) await rm(packed.file, { force: true });
      await temp.cleanup();
    },
  };
});
