import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bashCompletion, completionTree, zshCompletion } from './completion.ts';
import { buildProgram } from './program.ts';

const CLI = fileURLToPath(new URL('./main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cutover-completion-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** What the bash script offers for `line` (the last word is the one being completed). */
function bash(script: string, words: string[]): string[] {
  const file = join(dir, 'cutover.bash');
  writeFileSync(file, script);
  const out = execFileSync(
    'bash',
    [
      '--norc',
      '-c',
      'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _cutover; printf "%s\\n" "${COMPREPLY[@]}"',
      '_',
      file,
      ...words,
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean);
}

/** What the zsh script hands to compadd for `words` (compadd redefined to print its candidates). */
function zsh(script: string, words: string[]): string[] {
  const file = join(dir, '_cutover');
  writeFileSync(file, script);
  const out = execFileSync(
    'zsh',
    [
      '-f',
      '-c',
      'source "$1"; shift; compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@"; }; words=("$@"); CURRENT=$#words; _cutover',
      '_',
      file,
      ...words,
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean);
}

test('the tree: every command with its subcommands and flags, global flags everywhere', () => {
  const { nodes, choices } = completionTree(buildProgram());
  const deploy = nodes.find((n) => n.path === 'deploy')!;
  assert.ok(
    deploy.flags.includes('--steps') &&
      deploy.valued.includes('--steps') &&
      !deploy.valued.includes('--wait'),
  );
  assert.ok(
    deploy.flags.includes('--json') && deploy.flags.includes('-o'),
    'global flags are offered after the subcommand too',
  );
  assert.ok(nodes.find((n) => n.path === 'instance')!.subcommands.includes('list'));
  assert.deepEqual(choices['-o'], ['json', 'yaml', 'table', 'wide']);
});

test('bash: cutover dep → deploy; cutover deploy --st → --steps; flags and their values are skipped', () => {
  const script = bashCompletion(buildProgram());
  assert.deepEqual(bash(script, ['cutover', 'dep']), ['deploy']);
  assert.deepEqual(bash(script, ['cutover', 'deploy', '--st']), ['--steps']);
  assert.deepEqual(bash(script, ['cutover', '--data-dir', 'instance', 'instance', 'li']), ['list']);
  assert.deepEqual(bash(script, ['cutover', '-o', '']), ['json', 'yaml', 'table', 'wide']);
  assert.deepEqual(bash(script, ['cutover', 'token', 'create', '--role', 'd']), ['deployer']);
});

test('zsh: the same completions through compadd', { skip: skipZsh() }, () => {
  const script = zshCompletion(buildProgram());
  assert.deepEqual(zsh(script, ['cutover', 'dep']), ['deploy']);
  assert.deepEqual(zsh(script, ['cutover', 'deploy', '--st']), ['--steps']);
  assert.deepEqual(zsh(script, ['cutover', '--json', 'instance', 'li']), ['list']);
  assert.deepEqual(zsh(script, ['cutover', '-o', 'y']), ['yaml']);
});

test('cutover completion bash|zsh prints the script; another shell is refused with exit 2', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  const b = run(['completion', 'bash']);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(`${b.stdout}`, bashCompletion(buildProgram()));
  assert.match(run(['completion', 'zsh']).stdout, /^#compdef cutover/);
  const fish = run(['completion', 'fish']);
  assert.equal(fish.status, 2);
  assert.match(fish.stderr, /Allowed choices are bash, zsh/);
});

/** zsh may be missing on a developer's machine; never on CI (.ci/run installs it). */
function skipZsh(): string | false {
  const found = spawnSync('zsh', ['-fc', 'true']).status === 0;
  if (process.env.CI === 'true') {
    assert.ok(found, "zsh is installed on CI (.ci/run installs Debian's zsh)");
    return false;
  }
  return found ? false : 'zsh is not installed';
}
