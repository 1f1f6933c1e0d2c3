import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeJoinToken, parseJoinToken } from '../../src/shared/index.ts';
import { cutover, freePort, startProcess, tempDir } from '../helpers.ts';
import { makeTestCerts } from '../tls-certs.ts';
import type { TestCerts } from '../tls-certs.ts';

/**
 * An agent joins a server on another machine: the server in one network namespace, the agent in
 * another, joined by a veth pair (issue 17). The join goes over TLS, pinned to the certificate hash
 * the join token carries; a token pinning another certificate is refused before anything is sent.
 * Names and the /30 subnet come from this process's pid, so parallel runs never meet.
 */
const run = promisify(execFile);
const pid = process.pid;
const ns = { server: `cut-s-${pid}`, agent: `cut-a-${pid}` };
const veth = { server: `cvs${pid}`, agent: `cva${pid}` };
// The pid's 22 bits spread over the address: a /30 of its own.
const base = `10.${(pid >> 14) & 255}.${(pid >> 6) & 255}.${(pid & 63) << 2}`.split('.').map(Number);
const ip = (last: number) => `${base[0]}.${base[1]}.${base[2]}.${base[3]! + last}`;
const addr = { server: ip(1), agent: ip(2) };

const isRoot = process.getuid?.() === 0;
const started = Date.now();
let data: Awaited<ReturnType<typeof tempDir>>;
let certs: TestCerts;
let serverDir: string;
let url: string;
const running: { stop(): Promise<void> }[] = [];
let netnsMade = false;

async function sh(...args: string[]) {
  await run('ip', args);
}

before(async () => {
  if (!isRoot) {
    assert.notEqual(process.env.CI, 'true', 'CI runs as root: the network namespace tests must not be skipped there');
    return;
  }
  data = await tempDir('netns');
  netnsMade = true;
  await sh('netns', 'add', ns.server);
  await sh('netns', 'add', ns.agent);
  await sh('link', 'add', veth.server, 'type', 'veth', 'peer', 'name', veth.agent);
  for (const side of ['server', 'agent'] as const) {
    await sh('link', 'set', veth[side], 'netns', ns[side]);
    await sh('-n', ns[side], 'addr', 'add', `${addr[side]}/30`, 'dev', veth[side]);
    await sh('-n', ns[side], 'link', 'set', veth[side], 'up');
    await sh('-n', ns[side], 'link', 'set', 'lo', 'up');
  }
  certs = await makeTestCerts(data.dir, [addr.server]);
  serverDir = join(data.dir, 'server');
  const server = await startProcess(serverDir, ['server', '--api-host', addr.server, '--api-port', '7443', '--tls-cert', certs.cert, '--tls-key', certs.key], {}, { netns: ns.server });
  running.push(server);
  url = server.info.api;
  assert.equal(url, `https://${addr.server}:7443`);
});

after(async () => {
  // Everything this file started, by its own handle, then the namespaces (their veth ends go with them).
  for (const p of running.reverse()) await p.stop().catch(() => {});
  if (netnsMade) for (const name of Object.values(ns)) await sh('netns', 'del', name).catch(() => {});
  await data?.cleanup();
  console.log(`machines netns e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

const onServer = (args: string[]) => cutover(serverDir, [...args, '--ca-file', certs.ca], {}, { netns: ns.server });
const agentArgs = async (name: string) => ['agent', '--server', url, '--name', name, '--http-port', String(await freePort())];

test('an agent on another machine joins over TLS, pinned by the join token; machine list shows it; a restart reports with its credential', { skip: !isRoot }, async () => {
  const token = await onServer(['join-token', 'create', '--expires', '10m']);
  assert.equal(token.code, 0, token.stdout + token.stderr);
  assert.deepEqual(token.json.urls, [url]);
  const agentDir = join(data.dir, 'agent-1');
  const first = await startProcess(agentDir, [...(await agentArgs('web-1')), '--label', 'role=web'], { CUTOVER_JOIN_TOKEN: token.json.token }, { netns: ns.agent });
  running.push(first);
  assert.equal(first.info.machine, 'web-1');
  const saved = await stat(join(agentDir, 'agent', 'private', 'machine.json'));
  assert.equal(saved.mode & 0o777, 0o600, "the agent keeps its credential 0600");

  const listed = await onServer(['machine', 'list']);
  assert.equal(listed.code, 0, listed.stdout);
  const [machine] = listed.json.items;
  assert.deepEqual([machine.name, machine.status, machine.address, machine.labels], ['web-1', 'active', addr.agent, { role: 'web' }]);

  await first.stop();
  // No join token now: the credential saved at the join is what it presents.
  const again = await startProcess(agentDir, await agentArgs('web-1'), {}, { netns: ns.agent });
  running.push(again);
  assert.equal(again.info.machine, 'web-1');
  const shown = await onServer(['machine', 'show', 'web-1']);
  assert.ok(Date.parse(shown.json.lastHeartbeat) > Date.parse(machine.lastHeartbeat), 'the restarted agent reported');

  const twin = await cutover(join(data.dir, 'agent-twin'), await agentArgs('web-1'), { CUTOVER_JOIN_TOKEN: token.json.token }, { netns: ns.agent });
  assert.equal(twin.code, 4, twin.stdout);
  assert.equal(twin.json.error.code, 'MACHINE_EXISTS');
});

test('a join token pinning another certificate is refused before the token is sent; none at all is refused with what to give', { skip: !isRoot }, async () => {
  const token = await onServer(['join-token', 'create', '--expires', '10m']);
  const content = parseJoinToken(token.json.token);
  const forged = encodeJoinToken({ ...content, fingerprint: 'ab'.repeat(32) });
  const refused = await cutover(join(data.dir, 'agent-2'), await agentArgs('web-2'), { CUTOVER_JOIN_TOKEN: forged }, { netns: ns.agent });
  assert.equal(refused.code, 6, refused.stdout);
  assert.equal(refused.json.error.code, 'TLS_UNTRUSTED');
  assert.match(refused.json.error.message, new RegExp(`presented a certificate with SHA-256 ${token.json.fingerprint}, but the join token pins ${'ab'.repeat(32)}; nothing was sent`));
  const tokens = (await onServer(['join-token', 'list'])).json.items;
  assert.equal(tokens.find((t: { id: string }) => t.id === token.json.id).uses, 0, 'the server never saw the token');

  const none = await cutover(join(data.dir, 'agent-3'), await agentArgs('web-3'), {}, { netns: ns.agent });
  assert.equal(none.code, 2, none.stdout);
  assert.match(none.json.error.message, /has not joined .* yet: give it a join token in CUTOVER_JOIN_TOKEN or a file named by --join-token-file/);
});

test('a join token on the command line is refused, and nothing starts', async () => {
  const dir = await tempDir('join-argv');
  try {
    const r = await cutover(dir.dir, ['agent', '--server', 'https://127.0.0.1:1', '--join-token', 'cutj_secret']);
    assert.equal(r.code, 2);
    assert.match(r.json.error.message, /would sit in `ps` and the shell history: nothing was started\. Put it in CUTOVER_JOIN_TOKEN, or in a file \(mode 0600\) named by --join-token-file/);
    assert.ok(!r.json.error.message.includes('cutj_secret'));
  } finally {
    await dir.cleanup();
  }
});
