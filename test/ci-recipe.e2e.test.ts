import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/program.ts';
import { EXAMPLE, ROOT, cutover, portFlags, ports, startProcess, tempDir } from './helpers.ts';

/**
 * docs/ci.md as a user follows it (issue 23): the GitHub Actions workflow and the release manifest
 * are read from the page, and the workflow's `run:` steps run with bash, in a throwaway git
 * repository with a tag, against a live `cutover up`, with a publisher token and a deployer token
 * as its secrets. The GitLab CI job is checked against the CLI's commands and options. One server
 * for everything, to stay within the issue's budget.
 */
const run = promisify(execFile);
const DOC = await readFile(join(ROOT, 'docs/ci.md'), 'utf8');

let data: Awaited<ReturnType<typeof tempDir>>;
let up: Awaited<ReturnType<typeof startProcess>>;
let api: string;
let admin: string;
let repo: string;
let bin: string;
const started = Date.now();

/** The first ```yaml (or other `lang`) block after the `## heading` line. */
function yamlUnder(heading: string, lang = 'yaml'): string {
  const at = DOC.indexOf(`\n## ${heading}\n`);
  assert.ok(at >= 0, `docs/ci.md has a "## ${heading}" section`);
  const block = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(DOC.slice(at));
  assert.ok(block, `a ${lang} block under "${heading}"`);
  return block[1]!;
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
}

// The machine's git configuration (signing, hooks, default branch) must not change the throwaway repository.
const GIT_ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'ci', GIT_AUTHOR_EMAIL: 'ci@example.com', GIT_COMMITTER_NAME: 'ci', GIT_COMMITTER_EMAIL: 'ci@example.com' };
const git = (...args: string[]) => run('git', ['-C', repo, ...args], { env: GIT_ENV });

/** A throwaway app repository tagged v1.0.0: the example app, a build that copies it to dist/, one test, and the manifest from the page. */
async function makeRepository(): Promise<void> {
  repo = join(data.dir, 'shop');
  await cp(join(EXAMPLE, 'app'), join(repo, 'app'), { recursive: true });
  await writeFile(join(repo, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', private: true, scripts: { test: 'node --test', build: 'rm -rf dist && cp -r app dist' } }));
  await writeFile(join(repo, 'package-lock.json'), JSON.stringify({ name: 'shop', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'shop', version: '1.0.0' } } }));
  await writeFile(join(repo, 'app.test.mjs'), "import test from 'node:test';\ntest('the app has a test', () => {});\n");
  await writeFile(join(repo, 'release.yml'), yamlUnder('The release manifest'));
  await writeFile(join(repo, '.gitignore'), 'node_modules\ndist\n');
  await run('git', ['init', '-q', repo], { env: GIT_ENV });
  await git('add', '-A');
  await git('commit', '-q', '-m', 'shop 1.0.0');
  await git('tag', 'v1.0.0');
  // `cutover` on PATH, as the skipped install step would leave it.
  bin = join(data.dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'cutover'), `#!/bin/sh\nexec "${join(ROOT, 'bin/cutover')}" "$@"\n`);
  await chmod(join(bin, 'cutover'), 0o755);
}

before(async () => {
  data = await tempDir('ci');
  const p = await ports();
  const starting = startProcess(data.dir, ['up', ...portFlags(p)]);
  try {
    await makeRepository(); // while `up` starts
  } finally {
    up = await starting; // so that `after` stops it even when the repository could not be made
  }
  api = up.info.api;
  admin = up.info.adminToken;
});

after(async () => {
  await up?.stop();
  await data?.cleanup();
  console.log(`ci-recipe e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

/** `${{ secrets.X }}` and `${{ vars.X }}` from `values`; any other expression fails the test (the runner here does not evaluate it). */
function expand(value: string, values: Record<string, string>): string {
  return value.replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_m, name: string) => {
    assert.ok(name in values, `docs/ci.md uses \${{ ${name} }}, which this test does not provide`);
    return values[name]!;
  });
}

/** Runs one `run:` script as GitHub's bash does (`bash --noprofile --norc -eo pipefail`). */
function bash(script: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function workflow(): { env: Record<string, string>; steps: Step[] } {
  const doc = parseYaml(yamlUnder('GitHub Actions')) as { on: unknown; jobs: Record<string, { env?: Record<string, string>; steps: Step[] }> };
  assert.deepEqual(doc.on, { push: { tags: ['v*'] } }, 'the workflow runs for v* tags');
  const jobs = Object.values(doc.jobs);
  assert.equal(jobs.length, 1);
  return { env: jobs[0]!.env ?? {}, steps: jobs[0]!.steps };
}

/** The job's steps for a push of `tag`: `uses:` steps and the install step are what the runner and the shim stand for. */
async function runJob(tag: string, secrets: Record<string, string>, only?: (s: Step) => boolean): Promise<Map<string, { code: number; out: string }>> {
  const { env: jobEnv, steps } = workflow();
  const sha = (await git('rev-parse', `${tag}^{commit}`)).stdout.trim();
  const base: Record<string, string> = {};
  // The runner's environment: nothing of the `npm test` and `node --test` running this file, no CUTOVER_* of the host.
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('npm_') && !k.startsWith('CUTOVER_') && k !== 'NODE_TEST_CONTEXT') base[k] = v;
  }
  Object.assign(base, {
    PATH: `${bin}:${process.env.PATH}`,
    GITHUB_ACTIONS: 'true',
    GITHUB_REF: `refs/tags/${tag}`,
    GITHUB_REF_NAME: tag,
    GITHUB_REF_TYPE: 'tag',
    GITHUB_SHA: sha,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '4242',
  });
  const values = { 'vars.CUTOVER_URL': api, 'vars.CUTOVER_PACKAGE': 'unused: the install step is skipped', ...secrets };
  const results = new Map<string, { code: number; out: string }>();
  await git('checkout', '-q', tag);
  for (const step of steps) {
    assert.equal(step.if, undefined, 'no step conditions: this runner does not evaluate them');
    if (step.uses || step.id === 'install-cutover' || (only && !only(step))) continue;
    assert.ok(step.run && step.name, `every run step has a name: ${JSON.stringify(step)}`);
    const env = { ...base };
    for (const [k, v] of Object.entries({ ...jobEnv, ...(step.env ?? {}) })) env[k] = expand(String(v), values);
    if (step.name === 'Deploy the test instance') await ensureInstance();
    const result = await bash(step.run, env);
    results.set(step.name, result);
    if (result.code !== 0) break; // a failed step ends the job, as on GitHub
  }
  return results;
}

// `instance create` needs a release of the app, which the job's publish step makes (docs/ci.md says so).
async function ensureInstance(): Promise<void> {
  if ((await call('GET', '/api/instances/shop-test')).status === 200) return;
  const created = await call('POST', '/api/instances', { name: 'shop-test', app: 'shop', environment: 'test', hosts: ['shop-test.localhost'], target: { channel: 'staging' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
}

test('docs/ci.md: the GitHub Actions job publishes the tag with its provenance, promotes, deploys; a re-run changes nothing; a wrong tag is refused', async () => {
  assert.ok(up.info.adminToken?.startsWith('cut_'));
  assert.equal((await call('POST', '/api/channels', { name: 'staging', description: 'what CI released last' })).status, 201);
  const ci = await cutover(data.dir, ['token', 'create', 'ci', '--role', 'publisher', '--channel', 'staging']);
  assert.equal(ci.code, 0, ci.stdout + ci.stderr);
  assert.deepEqual([ci.json.role, ci.json.channels], ['publisher', ['staging']]);
  const deployer = await call('POST', '/api/tokens', { name: 'ci-test', role: 'deployer' });
  const secrets = { 'secrets.CUTOVER_PUBLISH_TOKEN': ci.json.token as string, 'secrets.CUTOVER_DEPLOY_TOKEN': deployer.body.token as string };

  const first = await runJob('v1.0.0', secrets);
  for (const [name, r] of first) assert.equal(r.code, 0, `step "${name}" failed:\n${r.out}`);
  assert.deepEqual([...first.keys()], ['Test', 'Build the artifact', 'Publish', 'Promote to staging', 'Deploy the test instance']);
  assert.match(first.get('Publish')!.out, /published shop 1\.0\.0 \(tag v1\.0\.0, commit [0-9a-f]{40}, build https:\/\/github\.com\/acme\/shop\/actions\/runs\/4242\)/);
  assert.match(first.get('Deploy the test instance')!.out, /shop-test now serves 1\.0\.0/);

  const sha = (await git('rev-parse', 'v1.0.0^{commit}')).stdout.trim();
  const release = (await call('GET', '/api/releases/1.0.0?app=shop')).body;
  assert.deepEqual([release.createdBy, release.spec.tag, release.spec.commit, release.spec.buildUrl], ['ci', 'v1.0.0', sha, 'https://github.com/acme/shop/actions/runs/4242']);
  const status = (await call('GET', '/api/instances/shop-test')).body;
  assert.deepEqual([status.currentVersion, status.resolvedTarget], ['1.0.0', { kind: 'channel', channel: 'staging', version: '1.0.0', onTarget: true }], 'promoted and deployed: on target');
  const audit = (await call('GET', '/api/audit?action=release.publish')).body.items;
  assert.deepEqual([audit.length, audit[0].actor, audit[0].details.tag], [1, 'ci', 'v1.0.0']);

  // A re-run of the Cutover steps (GitHub keeps GITHUB_RUN_ID): every one succeeds, none changes anything.
  const cutoverSteps = (s: Step) => Boolean(s.run?.includes('cutover '));
  const again = await runJob('v1.0.0', secrets, cutoverSteps);
  for (const [name, r] of again) assert.equal(r.code, 0, `re-run of "${name}" failed:\n${r.out}`);
  assert.equal(again.size, 3);
  assert.match(again.get('Publish')!.out, /shop 1\.0\.0 already published with this content .*; nothing changed/);
  assert.match(again.get('Deploy the test instance')!.out, /shop-test already serves 1\.0\.0; nothing to do/);
  assert.equal((await call('GET', '/api/audit?action=release.publish')).body.items.length, 1, 'the re-run published nothing');
  assert.equal((await call('GET', '/api/instances/shop-test/deployments')).body.items.length, 1, 'and deployed nothing');

  // A tag that does not name the manifest's version: the publish step fails (exit 2) naming both, and nothing further runs.
  await git('tag', 'v1.0.1');
  const wrong = await runJob('v1.0.1', secrets, cutoverSteps);
  assert.deepEqual([...wrong.keys()], ['Publish']);
  assert.equal(wrong.get('Publish')!.code, 2, wrong.get('Publish')!.out);
  assert.match(wrong.get('Publish')!.out, /version: is "1\.0\.0" but the git tag "v1\.0\.1" names 1\.0\.1/);
  assert.equal((await call('GET', '/api/releases?app=shop')).body.items.length, 1);

  // The publisher token cannot deploy: a CI secret that leaks cannot change what runs.
  const refused = await fetch(`${api}/api/instances/shop-test/deploy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ci.json.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ version: '1.0.0' }),
  });
  assert.equal(refused.status, 403);
  assert.match(((await refused.json()) as { message: string }).message, /role publisher; .*needs deployer/);
});

/** The words of a shell command line, with double-quoted parts kept whole. */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** Checks that `args` (after `cutover`) name a command and only options it (or the program) has. */
function assertKnown(program: Command, args: string[], line: string): void {
  let cmd = program;
  const rest = [...args];
  for (let sub = cmd.commands.find((c) => c.name() === rest[0]); sub; sub = cmd.commands.find((c) => c.name() === rest[0])) {
    cmd = sub;
    rest.shift();
  }
  assert.notEqual(cmd, program, `no cutover command in: ${line}`);
  assert.equal(cmd.commands.length, 0, `\`cutover ${cmd.name()}\` has no command "${rest[0]}" (${line})`);
  for (const word of rest.filter((w) => w.startsWith('--'))) {
    const flag = word.split('=')[0]!;
    const known = [...cmd.options, ...program.options].some((o) => o.long === flag);
    assert.ok(known, `\`cutover ${cmd.parent?.name() === 'cutover' ? '' : `${cmd.parent?.name()} `}${cmd.name()}\` has no ${flag} (${line})`);
  }
}

test('docs/ci.md: the admin setup and the GitLab CI job use commands and options the CLI has; GitLab runs what GitHub does', () => {
  const setup = yamlUnder('Once, as an admin', 'sh').split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
  assert.equal(setup.length, 4);
  for (const line of setup) assertKnown(buildProgram(), words(line).slice(1), line);

  const jobs = parseYaml(yamlUnder('GitLab CI')) as Record<string, { script: string[]; variables?: Record<string, string> }>;
  const script = jobs['release']?.script ?? [];
  const gitlab = script.filter((l) => /(^|\s)cutover\s/.test(l));
  const github = workflow().steps.filter((s) => s.run?.includes('cutover ')).map((s) => s.run!.trim());
  assert.equal(gitlab.length, github.length, 'one cutover line per GitHub step');
  const program = buildProgram();
  const command = (line: string) => words(line.slice(line.search(/(^|\s)cutover\s/)).trim()).slice(1);
  for (const [i, line] of gitlab.entries()) {
    assertKnown(program, command(line), line);
    const subcommands = (l: string) => command(l).filter((w) => /^[a-z]+$/.test(w)).slice(0, 2).join(' ');
    assert.equal(subcommands(line), subcommands(github[i]!), `GitLab line ${i} runs what the GitHub step does`);
  }
  for (const run of github) assertKnown(program, command(run), run);
  assert.ok(script.includes('npm test'), 'the GitLab job tests too');
  assert.equal(jobs['release']?.variables?.['CUTOVER_TOKEN'], '$CUTOVER_PUBLISH_TOKEN');
});
