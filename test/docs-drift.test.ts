// The generated references (docs/cli.md, docs/configuration.md) must match the code: a command,
// option or setting added without `npm run docs` fails here (issue 22). Fast: no process is started.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { Command } from 'commander';
import { configSchema } from '../src/config/index.ts';
import { cliProgram, generatedSections, renderCliReference, replaceSection, staleSections } from '../scripts/docs-reference.ts';

const program = await cliProgram();
const sections = generatedSections(program);

test('the generated sections of docs/cli.md and docs/configuration.md are what the code generates now', () => {
  const stale = staleSections(sections);
  if (stale.length) assert.fail(`${stale.join('\n')}\nA command, option or setting changed without its docs: run npm run docs, and commit what it changes.`);
});

test('the CLI reference has every command and option; the settings table every key', () => {
  const cli = sections.find((s) => s.name === 'cli')?.content ?? '';
  const walk = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(walk)];
  for (const cmd of walk(program).slice(1)) {
    const path: string[] = [];
    for (let c: Command | null = cmd; c; c = c.parent) path.unshift(c.name());
    const heading = cli.indexOf(`\n### ${path.join(' ')}\n`);
    assert.ok(heading >= 0, `no section for ${path.join(' ')}`);
    for (const option of cmd.options.filter((o) => !o.hidden)) {
      assert.ok(cli.includes(`| \`${option.flags.replace(/\|/g, '\\|')}\` |`), `${path.join(' ')} ${option.flags} is not documented`);
    }
  }
  const settings = sections.find((s) => s.name === 'settings')?.content ?? '';
  for (const key of Object.keys(configSchema.shape)) assert.match(settings, new RegExp(`^\\| \`${key}\` \\|`, 'm'));
});

test('an option added without regenerating is reported, naming the file and the line that differs', () => {
  const toy = () => {
    const p = new Command('cutover').option('--json', 'machine-readable output');
    p.command('deploy').description('deploy a release').argument('<instance>').option('--wait', 'wait for the deployment');
    return p;
  };
  const dir = mkdtempSync(join(tmpdir(), 'cutover-docs-'));
  try {
    mkdirSync(join(dir, 'docs'));
    const file = replaceSection('# CLI\n\nprose\n\n<!-- generated:cli -->\n<!-- /generated:cli -->\n\nmore prose\n', 'cli', renderCliReference(toy()));
    writeFileSync(join(dir, 'docs/cli.md'), file);
    assert.deepEqual(staleSections([{ file: 'docs/cli.md', name: 'cli', content: renderCliReference(toy()) }], dir), []);
    const grown = toy();
    grown.commands[0]?.option('--if-needed', 'exit 0 when it already serves that version');
    const [problem, ...rest] = staleSections([{ file: 'docs/cli.md', name: 'cli', content: renderCliReference(grown) }], dir);
    assert.equal(rest.length, 0);
    assert.match(problem ?? '', /^docs\/cli\.md:\d+ \(generated:cli\) is out of date:/);
    assert.match(problem ?? '', /--if-needed/);
    assert.match(file, /^# CLI\n\nprose\n\n<!-- generated:cli -->\n\n### Global options/);
    assert.match(file, /<!-- \/generated:cli -->\n\nmore prose\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
