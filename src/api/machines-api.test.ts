import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeJoinToken, parseJoinToken } from '../shared/index.ts';
import type { Logger } from '../shared/index.ts';
import { createSqliteStore } from '../store/index.ts';
import { PROTOCOL_VERSION } from '../protocol/index.ts';
import { startHarness } from './test-harness.ts';
import { z } from 'zod';
import type { JoinTokenInfo, MachineInfo, MachineView } from '../control/index.ts';
import type { machineSchema } from './schemas.ts';
import { createdJoinTokenSchema, joinTokenSchema, machineViewSchema, machineWithCredentialSchema } from './schemas.ts';

// Compile-time: what the services answer fits the types the API declares (as in wire.test.ts).
type Fits<A extends B, B> = [A, B];
export type MachineAnswersFit = [Fits<JoinTokenInfo, z.input<typeof joinTokenSchema>>, Fits<MachineInfo, z.input<typeof machineSchema>>, Fits<MachineView & { connected: boolean }, z.input<typeof machineViewSchema>>];

/** The answer is what its schema sends: it parses, and turned back into the record and sent again, it is the same. */
function exactly(schema: z.ZodType, answer: unknown, what: string): void {
  const record = z.encode(schema, answer as never);
  assert.deepEqual(schema.parse(record), answer, `${what} is not what its response schema sends`);
}
import type { Harness } from './test-harness.ts';

const FINGERPRINT = 'ab'.repeat(32);
const agent = (token: string, name: string, extra: object = {}) => ({ token, name, labels: { role: 'web' }, agentVersion: '0.1.0', protocolVersion: PROTOCOL_VERSION, ...extra });

async function newToken(h: Harness, body: object = { expires: '1h' }): Promise<string> {
  h.clock.advance(1); // lists are oldest first
  const res = await h.call('admin', 'POST', '/api/join-tokens', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.token as string;
}

const heartbeat = (h: Harness, credential: string) =>
  h.request('/v1/machines/heartbeat', { method: 'POST', headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' }, body: '{}' });

test('join tokens: admin only, shown once with the pinned fingerprint and URLs, listed without secrets, revocable', async () => {
  const h = await startHarness(undefined, { tlsFingerprint: FINGERPRINT });
  try {
    for (const role of ['viewer', 'deployer', 'publisher'] as const) {
      assert.equal((await h.call(role, 'POST', '/api/join-tokens', { expires: '1h' })).status, 403);
      assert.equal((await h.call(role, 'GET', '/api/join-tokens')).status, 403);
    }
    const created = await h.call('admin', 'POST', '/api/join-tokens', { expires: '1h', uses: 1 });
    assert.equal(created.status, 201);
    exactly(createdJoinTokenSchema, created.body, 'POST /api/join-tokens');
    assert.equal(created.body.expiresAt, new Date(h.clock.now() + 3_600_000).toISOString());
    assert.equal(created.body.maxUses, 1);
    assert.equal(created.body.state, 'usable');
    assert.equal(created.body.hash, undefined);
    const content = parseJoinToken(created.body.token);
    assert.equal(content.fingerprint, FINGERPRINT);
    assert.deepEqual(content.urls, ['http://localhost'], 'default: the URL the admin reached the server at');
    h.clock.advance(1);
    const pinned = await h.call('admin', 'POST', '/api/join-tokens', { expires: '10m', urls: ['https://cp.internal:7070', 'https://10.0.0.2:7070'] });
    assert.deepEqual(parseJoinToken(pinned.body.token).urls, ['https://cp.internal:7070', 'https://10.0.0.2:7070']);

    const bad = await h.call('admin', 'POST', '/api/join-tokens', { expires: '90d', uses: 0, urls: ['ftp://x'] });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.details.issues.map((i: { path: string }) => i.path).sort(), ['expires', 'urls.0', 'uses']);

    const list = await h.call('admin', 'GET', '/api/join-tokens');
    for (const t of list.body.items) exactly(joinTokenSchema, t, 'GET /api/join-tokens');
    assert.deepEqual(list.body.items.map((t: { id: string }) => t.id), [created.body.id, pinned.body.id]);
    assert.ok(!JSON.stringify(list.body).includes(content.secret));
    assert.ok(list.body.items.every((t: object) => !('hash' in t) && !('token' in t)));

    const revoked = await h.call('admin', 'DELETE', `/api/join-tokens/${pinned.body.id}`);
    assert.equal(revoked.body.state, 'revoked');
    assert.equal(revoked.body.revokedBy, 'admin');
    assert.equal((await h.call('admin', 'DELETE', `/api/join-tokens/${pinned.body.id}`)).body.state, 'revoked', 'again: as it is');
    const missing = await h.call('admin', 'DELETE', '/api/join-tokens/jt_nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'JOIN_TOKEN_NOT_FOUND');
    const actions = (await h.store.listAudit()).map((e) => `${e.action} ${e.subject}`);
    assert.ok(actions.includes(`join-token.create join-token:${created.body.id}`));
    assert.ok(actions.includes(`join-token.revoke join-token:${pinned.body.id}`));
  } finally {
    await h.close();
  }
});

test('a join is refused for a wrong, expired, reused or revoked token and for a live name, each with its own code', async () => {
  const h = await startHarness();
  try {
    const once = await newToken(h, { expires: '1h', uses: 1 });
    const joined = await h.call(null, 'POST', '/v1/machines/join', agent(once, 'web-1'));
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
    assert.match(joined.body.credential, /^cutm_[\w-]{43}$/);
    assert.equal(joined.body.machine.name, 'web-1');
    assert.equal(joined.body.machine.credentialHash, undefined);

    const refused = async (token: string, name: string, status: number, code: string) => {
      const res = await h.call(null, 'POST', '/v1/machines/join', agent(token, name));
      assert.equal(res.status, status, `${code}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, code);
      return res.body.message as string;
    };
    assert.match(await refused(once, 'web-2', 401, 'JOIN_TOKEN_USED'), /already used 1 time, all it allows; ask an admin for a new one/);
    await refused('not-a-token', 'web-2', 401, 'JOIN_TOKEN_INVALID');
    await refused(encodeJoinToken({ secret: 's'.repeat(43), fingerprint: null, pin: 'cert', urls: ['http://x'] }), 'web-2', 401, 'JOIN_TOKEN_INVALID');
    const many = await newToken(h);
    assert.match(await refused(many, 'web-1', 409, 'MACHINE_EXISTS'), /another --name, or, if that machine is gone for good, `cutover machine remove web-1` first/);
    const revoked = await newToken(h);
    const list = (await h.call('admin', 'GET', '/api/join-tokens')).body.items;
    await h.call('admin', 'DELETE', `/api/join-tokens/${list[list.length - 1].id}`);
    await refused(revoked, 'web-2', 401, 'JOIN_TOKEN_REVOKED');
    h.clock.advance(3_600_000);
    assert.match(await refused(many, 'web-2', 401, 'JOIN_TOKEN_EXPIRED'), /expired at/);
    assert.deepEqual((await h.store.listMachines()).map((m) => m.name), ['web-1'], 'refusals store nothing');
    assert.equal((await h.store.listAudit({ action: 'machine.join' })).length, 1);
  } finally {
    await h.close();
  }
});

test('machines: viewers list and show; admins drain, remove and rotate credentials; an old or removed credential stops working', async () => {
  const h = await startHarness();
  try {
    const token = await newToken(h);
    const { credential } = (await h.call(null, 'POST', '/v1/machines/join', agent(token, 'web-1'))).body;
    h.clock.advance(5000);
    const beat = await heartbeat(h, credential);
    assert.equal(beat.status, 200);
    assert.equal(((await beat.json()) as { lastHeartbeat: string }).lastHeartbeat, new Date(h.clock.now()).toISOString());
    const wrong = await heartbeat(h, 'cutm_wrong');
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { code: string }).code, 'MACHINE_CREDENTIAL_INVALID');

    const list = await h.call('viewer', 'GET', '/api/machines');
    exactly(machineViewSchema, list.body.items[0], 'GET /api/machines');
    assert.deepEqual(list.body.items.map((m: { name: string; status: string }) => [m.name, m.status]), [['web-1', 'active']]);
    assert.equal((await h.call('viewer', 'GET', '/api/machines/web-1')).body.labels.role, 'web');
    assert.equal((await h.call('viewer', 'GET', '/api/machines/nope')).body.code, 'MACHINE_NOT_FOUND');

    for (const [method, path] of [['POST', '/api/machines/web-1/drain'], ['DELETE', '/api/machines/web-1'], ['POST', '/api/machines/web-1/rotate-credential']] as const) {
      for (const role of ['deployer', 'publisher'] as const) assert.equal((await h.call(role, method, path)).status, 403, `${method} ${path} as ${role}`);
    }
    const rotated = await h.call('admin', 'POST', '/api/machines/web-1/rotate-credential');
    assert.equal(rotated.status, 200);
    exactly(machineWithCredentialSchema, rotated.body, 'rotate-credential');
    assert.notEqual(rotated.body.credential, credential);
    assert.equal((await heartbeat(h, credential)).status, 401, 'the old credential stops working');
    assert.equal((await heartbeat(h, rotated.body.credential)).status, 200);

    assert.equal((await h.call('admin', 'POST', '/api/machines/web-1/drain')).body.status, 'draining');
    assert.equal((await heartbeat(h, rotated.body.credential)).status, 200, 'a draining machine still reports');
    assert.equal((await h.call('admin', 'DELETE', '/api/machines/web-1')).body.status, 'removed');
    assert.equal((await heartbeat(h, rotated.body.credential)).status, 401, 'a removed machine is refused');
    assert.equal((await h.call('admin', 'POST', '/api/machines/web-1/drain')).body.code, 'MACHINE_NOT_FOUND');
    const again = await h.call(null, 'POST', '/v1/machines/join', agent(token, 'web-1'));
    assert.equal(again.status, 201, 'a removed name can join again');
    const actions = (await h.store.listAudit()).filter((e) => e.subject === 'machine:web-1').map((e) => `${e.actor} ${e.action}`).reverse();
    assert.deepEqual(actions, ['machine:web-1 machine.join', 'admin machine.rotate-credential', 'admin machine.drain', 'admin machine.remove', 'machine:web-1 machine.join']);
  } finally {
    await h.close();
  }
});

test('no join token or credential appears in API answers (but the one that shows it), audit entries, logs or the SQLite file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cutover-machines-'));
  const lines: string[] = [];
  const capture = (level: string) => (obj: object, msg: string) => void lines.push(`${level} ${msg} ${JSON.stringify(obj)}`);
  const log: Logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };
  const h = await startHarness(undefined, { store: await createSqliteStore(join(dir, 'cutover.db')), log });
  try {
    const secrets: string[] = [];
    const answers: string[] = [];
    const token = await newToken(h, { expires: '1h', uses: 2 });
    secrets.push(token, parseJoinToken(token).secret);
    const joined = await h.call(null, 'POST', '/v1/machines/join', agent(token, 'web-1'));
    secrets.push(joined.body.credential);
    await h.call(null, 'POST', '/v1/machines/join', agent(token, 'web-1')); // refused: name taken
    await h.call(null, 'POST', '/v1/machines/join', agent(token.slice(0, -4), 'web-2')); // refused: not a token
    const rotated = await h.call('admin', 'POST', '/api/machines/web-1/rotate-credential');
    secrets.push(rotated.body.credential);
    await heartbeat(h, joined.body.credential);
    for (const path of ['/api/join-tokens', '/api/machines', '/api/machines/web-1', '/api/audit']) answers.push(JSON.stringify((await h.call('admin', 'GET', path)).body));
    answers.push(JSON.stringify((await h.call('admin', 'DELETE', '/api/machines/web-1')).body));
    const audit = JSON.stringify(await h.store.listAudit());
    await h.store.close();
    const files = await Promise.all((await readdir(dir)).map((f) => readFile(join(dir, f), 'latin1')));
    for (const secret of secrets) {
      assert.ok(!audit.includes(secret), 'not in the audit log');
      assert.ok(!answers.some((a) => a.includes(secret)), 'not in a later answer');
      assert.ok(!lines.some((l) => l.includes(secret)), 'not in a log line');
      assert.ok(!files.some((f) => f.includes(secret)), 'not in the SQLite files');
    }
    assert.ok(files.join('').includes('web-1'), 'the check reads the data');
  } finally {
    await h.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});

test('an agent one protocol version behind joins and is flagged for an upgrade; one the server does not speak is refused, naming both versions', async () => {
  const h = await startHarness();
  try {
    const token = await newToken(h);
    const behind = await h.call(null, 'POST', '/v1/machines/join', agent(token, 'old-1', { protocolVersion: PROTOCOL_VERSION - 1 }));
    assert.equal(behind.status, 201, JSON.stringify(behind.body));
    assert.equal(behind.body.machine.needsUpgrade, true);
    await h.call(null, 'POST', '/v1/machines/join', agent(token, 'new-1'));
    const list = (await h.call('viewer', 'GET', '/api/machines')).body.items;
    assert.deepEqual(list.map((m: { name: string; needsUpgrade: boolean }) => [m.name, m.needsUpgrade]), [['new-1', false], ['old-1', true]]);
    const ahead = await h.call(null, 'POST', '/v1/machines/join', agent(token, 'next-1', { protocolVersion: PROTOCOL_VERSION + 1 }));
    assert.equal(ahead.status, 409);
    assert.equal(ahead.body.code, 'PROTOCOL_UNSUPPORTED');
    assert.match(ahead.body.message, new RegExp(`the agent speaks protocol ${PROTOCOL_VERSION + 1}, this server ${PROTOCOL_VERSION}`));
    assert.equal((await h.store.getMachine('next-1')), undefined);
  } finally {
    await h.close();
  }
});
