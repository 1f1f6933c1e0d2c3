// The control API as the agent protocol's HTTP binding: one generic handler validates each
// message's request, answers absent ones with 404, and keeps the token check and error bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '../protocol/index.ts';
import { TOKEN, captureLogger, startTestAgent, tempDataDir } from './test-agent.ts';

test('the control API serves the protocol: open health, token, validation, absent answers, the call key in the log', async () => {
  const data = await tempDataDir();
  const log = captureLogger();
  const t = await startTestAgent(data.dir, {}, { log, checkAnswers: true });
  try {
    const base = `http://127.0.0.1:${t.agent.controlPort}`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const call = async (method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) => {
      const res = await fetch(`${base}${path}`, { method, ...init });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const health = await call('GET', '/v1/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.ok, true);
    assert.equal(health.body.protocol, PROTOCOL_VERSION);
    assert.ok(health.body.isolation === 'uid' || health.body.isolation === 'none');

    assert.equal((await call('GET', '/v1/state')).body.code, 'UNAUTHORIZED');
    assert.equal((await call('GET', '/v1/nothing-here', { headers: auth })).body.code, 'NOT_FOUND');

    const badColor = await call('POST', '/v1/instances/web/slots/red/stop', { headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(badColor.status, 400);
    assert.equal(badColor.body.code, 'VALIDATION_FAILED');
    assert.match(String(badColor.body.message), /color/);

    const notJson = await call('PUT', '/v1/instances/web', { headers: { ...auth, 'content-type': 'application/json' }, body: 'nope' });
    assert.equal(notJson.body.code, 'VALIDATION_FAILED');
    assert.match(JSON.stringify(notJson.body), /must be JSON/);

    const unknown = await call('GET', '/v1/instances/nobody', { headers: auth });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'INSTANCE_NOT_FOUND');
    assert.equal(await t.client.describe('nobody'), undefined, 'the client reads the 404 as absent');

    const state = await call('GET', '/v1/state', { headers: auth });
    assert.deepEqual(state.body, { isolation: health.body.isolation, protocol: PROTOCOL_VERSION, instances: [] });

    await assert.rejects(t.client.flip('nobody', 'blue'), (e: Error & { code?: string }) => e.code === 'INSTANCE_NOT_FOUND');
    await t.client.ensureInstance('one', ['one.test']);
    await assert.rejects(t.client.ensureInstance('two', ['one.test']), (e: Error & { code?: string }) => e.code === 'HOST_IN_USE');
    const refused = log.lines.find((l) => l.msg === 'agent request refused' && l.obj.code === 'HOST_IN_USE');
    assert.equal(refused?.obj.call, 'instance.put two one.test', 'the call is named by its idempotency key');
  } finally {
    await t.stop();
    await data.cleanup();
  }
});
