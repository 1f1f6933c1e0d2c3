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
    const opened: string[] = [];
    let machines = 0;
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { 'x-cutover-role': string; 'x-cutover-publisher'?: string; operationId: string }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const role = op['x-cutover-role'];
        if (op['x-cutover-publisher']) opened.push(op.operationId);
        const concrete = path.replace(/\{[^}]+\}/g, '1');
        if (role === 'public') {
          assert.equal((await h.call(null, method.toUpperCase(), concrete)).status, 200, `${op.operationId} is public`);
          continue;
        }
        if (role === 'machine') {
          // An agent's own routes: no join token or credential, no entry.
          const res = await h.call(null, method.toUpperCase(), concrete, { token: 'cutj_x', name: 'web-1', agentVersion: '1', protocolVersion: 1 });
          assert.equal(res.status, 401, `${op.operationId} without the agent's secret: ${JSON.stringify(res.body)}`);
          machines++;
          continue;
        }
        assert.ok(RANK.includes(role as Role), `${op.operationId} has a role`);
        if (method !== 'get') mutating++;
        const none = await h.call(null, method.toUpperCase(), concrete, method === 'get' ? undefined : {});
        assert.equal(none.status, 401, `${op.operationId} without a token`);
        assert.equal(none.body.code, 'UNAUTHORIZED');
        // A publisher is a viewer, plus what an operation grants it by name (x-cutover-publisher).
        // `beta` is the harness publisher's channel, so only the body can make the call fail.
        const asPublisher = op['x-cutover-publisher'] === 'named-channel' ? path.replace('{name}', 'beta') : concrete;
        const publisher = await h.call('publisher', method.toUpperCase(), asPublisher, method === 'get' ? undefined : {});
        if (role !== 'viewer' && !op['x-cutover-publisher']) {
          assert.equal(publisher.status, 403, `${method.toUpperCase()} ${path} (${op.operationId}) as publisher must be refused; got ${publisher.status}`);
          assert.match(publisher.body.message, new RegExp(`role publisher; .* needs ${role} or above`));
        } else {
          assert.notEqual(publisher.status, 403, `${op.operationId} is open to a publisher: ${JSON.stringify(publisher.body)}`);
        }
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
    assert.deepEqual(opened.sort(), ['promote', 'publishRelease', 'uploadArtifact'], 'what a publisher may do besides reading');
    assert.ok(checked >= 20, `checked ${checked} refusals`);
    assert.equal(machines, 2, 'the join and the heartbeat');
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

test('a publisher token publishes and promotes to its own channels only; it cannot deploy, roll back or create tokens', async () => {
  const h = await startHarness();
  try {
    await h.release('1.0.0');
    await h.release('1.1.0');
    const created = await h.call('admin', 'POST', '/api/instances', { name: 'shop-test', app: 'shop', hosts: ['shop-test.local'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const promoted = await h.call('publisher', 'POST', '/api/channels/beta/promote', { version: '1.1.0', app: 'shop' });
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    const audit = await h.call('admin', 'GET', '/api/audit?action=channel.promote');
    assert.equal(audit.body.items.at(-1)?.actor, 'a-publisher', 'the promotion is audited as the publisher token');

    const elsewhere = await h.call('publisher', 'POST', '/api/channels/stable/promote', { version: '1.1.0', app: 'shop' });
    assert.equal(elsewhere.status, 403);
    assert.equal(elsewhere.body.code, 'FORBIDDEN');
    assert.match(elsewhere.body.message, /may promote only to "beta", not to "stable"/);
    assert.deepEqual(elsewhere.body.details.channels, ['beta']);

    for (const [method, path, body] of [
      ['POST', '/api/instances/shop-test/deploy', { version: '1.1.0' }],
      ['POST', '/api/instances/shop-test/rollback', {}],
      ['POST', '/api/tokens', { name: 'more', role: 'admin' }],
      ['PATCH', '/api/channels/beta', { description: 'x' }],
    ] as const) {
      const res = await h.call('publisher', method, path, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.code, 'FORBIDDEN');
    }
    assert.equal((await h.call('publisher', 'GET', '/api/instances/shop-test')).status, 200, 'it reads, so CI can wait on a result');
  } finally {
    await h.close();
  }
});

test('token create: a publisher names existing channels; channels with another role are refused', async () => {
  const h = await startHarness();
  try {
    const ci = await h.call('admin', 'POST', '/api/tokens', { name: 'ci', role: 'publisher', channels: ['beta', 'alpha', 'beta'] });
    assert.equal(ci.status, 201, JSON.stringify(ci.body));
    assert.deepEqual([ci.body.role, ci.body.channels], ['publisher', ['beta', 'alpha']]);
    const listed = (await h.call('admin', 'GET', '/api/tokens')).body.items.find((t: { name: string }) => t.name === 'ci');
    assert.deepEqual(listed.channels, ['beta', 'alpha']);
    assert.equal(listed.hash, undefined);

    const unknown = await h.call('admin', 'POST', '/api/tokens', { name: 'ci2', role: 'publisher', channels: ['staging'] });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'CHANNEL_NOT_FOUND');
    assert.match(unknown.body.message, /no channel "staging"; create it first/);
    const wrongRole = await h.call('admin', 'POST', '/api/tokens', { name: 'ci3', role: 'deployer', channels: ['beta'] });
    assert.equal(wrongRole.status, 400);
    assert.match(wrongRole.body.message, /channels go with role publisher only/);
    const names = (await h.call('admin', 'GET', '/api/tokens')).body.items.map((t: { name: string }) => t.name);
    assert.ok(!names.includes('ci2') && !names.includes('ci3'), 'a refused token is not created');
    const audit = (await h.call('admin', 'GET', '/api/audit?action=token.create')).body.items;
    assert.deepEqual(audit.map((e: { after: unknown }) => e.after), [{ name: 'ci', role: 'publisher', channels: ['beta', 'alpha'] }], 'audited with its channels, once');
  } finally {
    await h.close();
  }
});
