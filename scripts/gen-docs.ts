// `npm run docs`: rewrites the generated sections of the docs (the CLI reference in docs/cli.md,
// the settings table in docs/configuration.md) from the code, leaving the prose around them.
// `npm run docs -- --check` changes nothing and exits 1 when a section is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cliProgram, generatedSections, replaceSection, staleSections } from './docs-reference.ts';

const sections = generatedSections(await cliProgram());
if (process.argv.includes('--check')) {
  const stale = staleSections(sections);
  for (const problem of stale) process.stderr.write(`${problem}\n`);
  if (stale.length) process.stderr.write('run npm run docs\n');
  process.exitCode = stale.length ? 1 : 0;
} else {
  const byFile = new Map<string, string>();
  for (const { file, name, content } of sections) {
    const text = byFile.get(file) ?? readFileSync(join(ROOT, file), 'utf8');
    byFile.set(file, replaceSection(text, name, content));
  }
  for (const [file, text] of byFile) {
    const before = readFileSync(join(ROOT, file), 'utf8');
    if (before !== text) writeFileSync(join(ROOT, file), text);
    process.stdout.write(`${before === text ? 'unchanged' : 'updated  '} ${file}\n`);
  }
}
