// The answer types are inferred from the response schemas; these checks keep the schemas true to
// what the services return: at compile time (each record fits its wire type) and at run time (a
// real answer, parsed by its schema, loses nothing: `z.object` drops keys it does not know).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { z } from 'zod';
import { testReleaseSpec } from '../testing/index.ts';
import type { ChannelView, InstanceView, TargetChange } from '../control/index.ts';
import type { AuditEntry, ChannelRecord, DeploymentRecord, InstanceRecord, ProblemRecord, ReleaseRecord, TokenRecord } from '../store/index.ts';
import { auditEntrySchema, channelDetailSchema, deploymentSchema, instanceSchema, instanceViewSchema, problemSchema, releaseSchema, tokenSchema } from './schemas.ts';
import type { channelViewSchema, targetChangeSchema } from './schemas.ts';
import { startHarness } from './test-harness.ts';
import type { AuditEntryView, ChannelInfo, DeploymentView, InstanceInfo, ProblemView, ReleaseView, TokenInfo } from './wire.ts';

// Compile-time: a store record is assignable to the answer type the API declares for it.
type Fits<A extends B, B> = [A, B];
export type RecordsFitTheirWireTypes = [
  Fits<ReleaseRecord, ReleaseView>,
  Fits<InstanceRecord, InstanceInfo>,
  Fits<DeploymentRecord, DeploymentView>,
  Fits<ChannelRecord, ChannelInfo>,
  Fits<ProblemRecord, ProblemView>,
  Fits<AuditEntry, AuditEntryView>,
  Fits<Omit<TokenRecord, 'hash'>, TokenInfo>,
  Fits<InstanceView, z.infer<typeof instanceViewSchema>>,
  Fits<ChannelView, z.infer<typeof channelViewSchema>>,
  Fits<TargetChange, z.infer<typeof targetChangeSchema>>,
];

/** The answer, parsed by its schema, is the answer: the schema names every field it has. */
function exactly(schema: z.ZodType, answer: unknown, what: string): void {
  const parsed = schema.safeParse(answer);
  assert.ok(parsed.success, `${what}: ${JSON.stringify(parsed.error?.issues)}`);
  assert.deepEqual(parsed.data, answer, `${what} has a field its response schema does not describe`);
}

test('real answers match their response schemas exactly', async () => {
  const h = await startHarness();
  try {
    for (const v of ['1.0.0', '1.1.0']) await h.release(v, testReleaseSpec(v));
    const created = await h.call('deployer', 'POST', '/api/instances', { name: 'web', app: 'shop', hosts: ['web.test'], target: { channel: 'beta' } });
    exactly(instanceSchema, created.body, 'POST /api/instances');
    const deployed = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.0.0', reason: 'first' });
    assert.equal(deployed.body.status, 'succeeded', JSON.stringify(deployed.body));
    exactly(deploymentSchema, deployed.body, 'a deployment');
    h.clock.advance(1000);
    const second = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.1.0' });
    exactly(deploymentSchema, second.body, 'a second deployment');
    for (const i of (await h.call('viewer', 'GET', '/api/instances')).body.instances) exactly(instanceViewSchema, i, 'GET /api/instances');
    exactly(releaseSchema, (await h.call('viewer', 'GET', '/api/releases/1.0.0')).body, 'GET /api/releases/{version}');
    await h.call('admin', 'POST', '/api/channels/beta/promote', { version: '1.0.0' });
    exactly(channelDetailSchema, (await h.call('viewer', 'GET', '/api/channels/beta')).body, 'GET /api/channels/{name}');
    const problem = await h.call('deployer', 'POST', '/api/problems', { version: '1.1.0', title: 'slow checkout' });
    exactly(problemSchema, problem.body, 'POST /api/problems');
    const tokens = await h.call('admin', 'GET', '/api/tokens');
    for (const t of tokens.body.tokens) exactly(tokenSchema, t, 'a token');
    const audit = await h.call('viewer', 'GET', '/api/audit');
    assert.ok(audit.body.entries.length > 3);
    for (const e of audit.body.entries) exactly(auditEntrySchema, e, `audit entry ${e.action}`);
  } finally {
    await h.close();
  }
});
