// The answer types are inferred from the response schemas; these checks keep the schemas true to
// what the services return: at compile time (each record fits its schema's input) and at run time
// (a real answer, turned back into the record by its schema, is the record: `z.object` drops keys it
// does not know, so a field the schema forgot would be missing), and every time is ISO 8601 UTC.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { testReleaseSpec } from '../testing/index.ts';
import type { ChannelView, InstanceView, TargetChange } from '../control/index.ts';
import type { AuditEntry, ChannelRecord, DeploymentRecord, HoldRecord, InstanceRecord, ProblemRecord, ReleaseRecord, TokenRecord } from '../store/index.ts';
import { auditEntrySchema, deploymentSchema, holdViewSchema, instanceSchema, listOf, problemSchema, releaseSchema, tokenSchema } from './schemas.ts';
import type { channelViewSchema, targetChangeSchema , channelSchema, instanceViewSchema} from './schemas.ts';
import { startHarness } from './test-harness.ts';

// Compile-time: a store record is assignable to the input of the schema that maps it to the wire.
type Fits<A extends B, B> = [A, B];
type In<S extends z.ZodType> = z.input<S>;
export type RecordsFitTheirWireSchemas = [
  Fits<ReleaseRecord, In<typeof releaseSchema>>,
  Fits<InstanceRecord, In<typeof instanceSchema>>,
  Fits<DeploymentRecord, In<typeof deploymentSchema>>,
  Fits<ChannelRecord, In<typeof channelSchema>>,
  Fits<ProblemRecord, In<typeof problemSchema>>,
  Fits<AuditEntry, In<typeof auditEntrySchema>>,
  Fits<Omit<TokenRecord, 'hash'>, In<typeof tokenSchema>>,
  Fits<HoldRecord, In<typeof holdViewSchema>>,
  Fits<InstanceView, In<typeof instanceViewSchema>>,
  Fits<ChannelView, In<typeof channelViewSchema>>,
  Fits<TargetChange, In<typeof targetChangeSchema>>,
];

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The served answer is the record mapped by its schema: nothing lost, nothing added. */
function exactly(schema: z.ZodType, answer: unknown, record: unknown, what: string): void {
  const back = z.encode(schema, answer as never);
  assert.deepEqual(back, JSON.parse(JSON.stringify(record)), `${what}: the answer is not the record mapped by its response schema`);
}

/** Every field named like a time holds an ISO 8601 UTC string (or null). */
function timesAreIso(value: unknown, path: string): void {
  if (Array.isArray(value)) value.forEach((v, i) => timesAreIso(v, `${path}[${i}]`));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // before/after of an audit entry are the records as recorded (and hashed): left as they are.
      if (k === 'before' || k === 'after') continue;
      if (/(At|Until)$|^(at|until|when)$/.test(k) && v !== null) assert.match(String(v), ISO, `${path}.${k} is ${JSON.stringify(v)}`);
      else timesAreIso(v, `${path}.${k}`);
    }
  }
}

test('real answers are their records mapped by their response schemas, times as ISO 8601', async () => {
  const h = await startHarness();
  try {
    for (const v of ['1.0.0', '1.1.0']) await h.release(v, testReleaseSpec(v));
    const created = await h.call('deployer', 'POST', '/api/instances', { name: 'web', app: 'shop', hosts: ['web.test'], target: { channel: 'beta' } });
    exactly(instanceSchema, created.body, await h.store.getInstance('web'), 'POST /api/instances');
    assert.match(created.body.createdAt, ISO);
    const deployed = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.0.0', reason: 'first' });
    assert.equal(deployed.body.status, 'succeeded', JSON.stringify(deployed.body));
    exactly(deploymentSchema, deployed.body, await h.store.getDeployment(deployed.body.id), 'a deployment');
    h.clock.advance(1000);
    const second = await h.call('deployer', 'POST', '/api/instances/web/deploy?wait=5000', { version: '1.1.0' });
    exactly(deploymentSchema, second.body, await h.store.getDeployment(second.body.id), 'a second deployment');
    const release = (await h.call('viewer', 'GET', '/api/releases/1.0.0')).body;
    exactly(releaseSchema, release, (await h.store.listReleases()).find((r) => r.version === '1.0.0'), 'GET /api/releases/{version}');
    await h.call('admin', 'POST', '/api/channels/beta/promote', { version: '1.0.0' });
    const problem = await h.call('deployer', 'POST', '/api/problems', { version: '1.1.0', title: 'slow checkout' });
    exactly(problemSchema, problem.body, await h.store.getProblem(problem.body.id), 'POST /api/problems');
    await h.call('deployer', 'PUT', '/api/instances/web/hold', { reason: 'freeze', until: '2030-01-01T00:00:00Z' });
    const holds = (await h.call('viewer', 'GET', '/api/holds')).body;
    exactly(listOf(holdViewSchema), holds, { items: await h.store.listHolds(), next: null }, 'GET /api/holds');
    const tokens = (await h.call('admin', 'GET', '/api/tokens')).body;
    exactly(listOf(tokenSchema), tokens, { items: (await h.store.listTokens()).map(({ hash: _hash, ...t }) => t), next: null }, 'GET /api/tokens');
    const audit = (await h.call('viewer', 'GET', '/api/audit')).body;
    assert.ok(audit.items.length > 3);
    exactly(listOf(auditEntrySchema), audit, { items: await h.store.listAudit({ limit: 200 }), next: null }, 'GET /api/audit');
    for (const path of ['/api/instances', '/api/instances/web', '/api/status', '/api/channels', '/api/channels/beta', '/api/problems', '/api/instances/web/deployments', '/api/fleet', '/api/fleet/plan', '/api/instances/web/why']) {
      const answer = await h.call('admin', 'GET', path);
      assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
      timesAreIso(answer.body, path);
    }
    timesAreIso(audit, '/api/audit');
    timesAreIso((await h.call('admin', 'POST', '/api/fleet/tick')).body, 'POST /api/fleet/tick');
  } finally {
    await h.close();
  }
});

test('the OpenAPI document says what is sent: times are date-time strings, every list is {items, next}', async () => {
  const h = await startHarness();
  try {
    const doc = (await h.call(null, 'GET', '/api/openapi.json')).body;
    const ok = (path: string, method: string) => doc.paths[path][method].responses['200'].content['application/json'].schema;
    const release = ok('/api/releases/{version}', 'get');
    assert.equal(release.properties.createdAt.type, 'string');
    assert.equal(release.properties.createdAt.format, 'date-time');
    const lists = ['/api/releases', '/api/instances', '/api/instances/{name}/deployments', '/api/status', '/api/channels', '/api/problems', '/api/audit', '/api/tokens', '/api/holds'];
    for (const path of lists) {
      const schema = ok(path, 'get');
      assert.deepEqual(Object.keys(schema.properties), ['items', 'next'], path);
      assert.equal(schema.properties.items.type, 'array', path);
    }
    // No answer schema describes a time as a number any more.
    const numericTimes: string[] = [];
    const walk = (s: unknown, where: string): void => {
      if (Array.isArray(s)) s.forEach((v, i) => walk(v, `${where}[${i}]`));
      else if (s && typeof s === 'object') {
        for (const [k, v] of Object.entries(s)) {
          if (/(At|Until)$|^(at|until)$/.test(k) && v && typeof v === 'object' && ['integer', 'number'].includes((v as { type?: string }).type ?? '')) numericTimes.push(`${where}.${k}`);
          walk(v, `${where}.${k}`);
        }
      }
    };
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: unknown }>>)) {
      for (const [method, op] of Object.entries(ops)) walk(op.responses, `${method} ${path}`);
    }
    assert.deepEqual(numericTimes, []);
  } finally {
    await h.close();
  }
});
