import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Role } from '../store/index.ts';
import { startHarness } from './test-harness.ts';

const RANK: Role[] = ['viewer', 'deployer', 'admin'];

test('every operation refuses a token whose role is below the one it documents, and any call without a token', async () => {
  const h = await startHarness();
  try {
    const doc = (await h.call(null, 'GET', '/api/openapi.json')).body;
    assert.equal(doc.openapi, '3.1.0');
    let mutating = 0;
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { 'x-cutover-role': string; operationId: string }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const role = op['x-cutover-role'];
        const concrete = path.replace(/\{[^}]+\}/g, '1');
        if (role === 'public') {
          assert.equal((await h.call(null, method.toUpperCase(), concrete)).status, 200, `${op.operationId} is public`);
          continue;
        }
        assert.ok(RANK.includes(role as Role), `${op.operationId} has a role`);
        if (method !== 'get') mutating++;
        const none = await h.call(null, method.toUpperCase(), concrete, method === 'get' ? undefined : {});
        assert.equal(none.status, 401, `${op.operationId} without a token`);
        assert.equal(none.body.code, 'UNAUTHORIZED');
        for (const lower of RANK.slice(0, RANK.indexOf(role as Role))) {
          // An empty body: the role check must come before validation, so the answer is 403, not 400.
          const res = await h.call(lower, method.toUpperCase(), concrete, method === 'get' ? undefined : {});
          assert.equal(res.status, 403, `${method.toUpperCase()} ${path} (${op.operationId}) as ${lower} must be refused; got ${res.status} ${JSON.stringify(res.body)}`);
          assert.equal(res.body.code, 'FORBIDDEN');
          assert.match(res.body.message, new RegExp(`needs ${role} or above`));
          checked++;
        }
      }
    }
    assert.ok(mutating >= 14, `found ${mutating} mutating operations`);
    assert.ok(checked >= 20, `checked ${checked} refusals`);
  } finally {
    await h.close();
  }
});

test('the OpenAPI document describes every body with the schema that validates it', async () => {
  const h = await startHarness();
  try {
    const doc = (await h.call(null, 'GET', '/api/openapi.json')).body;
    const promote = doc.paths['/api/channels/{name}/promote'].post;
    const schema = promote.requestBody.content['application/json'].schema;
    assert.deepEqual(schema.required, ['version']);
    assert.equal(schema.additionalProperties, false);
    assert.ok(schema.properties.force);
    assert.deepEqual(doc.components.schemas.Error.required.sort(), ['code', 'details', 'message']);
    const publish = doc.paths['/api/releases'].post.requestBody.content['application/json'].schema;
    assert.ok(publish.properties.version && publish.properties.artifact, 'the release spec schema is published');
    for (const ops of Object.values(doc.paths as Record<string, Record<string, { operationId: string; responses: object }>>)) {
      for (const op of Object.values(ops)) assert.ok('default' in op.responses, `${op.operationId} documents its error body`);
    }
    // A body the schema refuses gets the one error body, naming the field.
    const bad = await h.call('deployer', 'POST', '/api/channels/stable/promote', { version: 1 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
    assert.match(bad.body.message, /version/);
    assert.deepEqual(Object.keys(bad.body).sort(), ['code', 'details', 'message']);
  } finally {
    await h.close();
  }
});
