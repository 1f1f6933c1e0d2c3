// The `Runtime` contract against the real agent: its control API on loopback (port 0), driven
// through `createAgentClient`, with every answer also checked against the protocol by the agent.
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { packArtifact } from '../releases/index.ts';
import { runtimeContract } from '../testing/index.ts';
import { FIXTURE_APP, fixtureSlotSpec, rollBackLocally, startTestAgent, tempDataDir } from './test-agent.ts';

runtimeContract('the agent over loopback', async () => {
  const temp = await tempDataDir();
  const packed = await packArtifact(FIXTURE_APP);
  const agent = await startTestAgent(temp.dir, {}, { checkAnswers: true });
  return {
    runtime: agent.client,
    artifact: { digest: packed.digest, open: () => createReadStream(packed.file) },
    spec: fixtureSlotSpec(packed.digest),
    rollBackLocally: (instance) => rollBackLocally(temp.dir, instance),
    async stop() {
      await agent.stop();
      if (packed.temporary) await rm(packed.file, { force: true });
      await temp.cleanup();
    },
  };
});
