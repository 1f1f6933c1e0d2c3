import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { siblingModule } from './sibling-module.ts';

test("siblingModule keeps the caller's extension: .ts in a clone, .js in the built package", () => {
  assert.equal(
    siblingModule('file:///repo/src/releases/unpack-budget.ts', './unpack-child'),
    '/repo/src/releases/unpack-child.ts',
  );
  assert.equal(
    siblingModule('file:///usr/lib/node_modules/cutover/dist/releases/unpack-budget.js', './unpack-child'),
    '/usr/lib/node_modules/cutover/dist/releases/unpack-child.js',
  );
  assert.equal(
    siblingModule('file:///repo/src/cli/commands/processes.ts', '../main'),
    '/repo/src/cli/main.ts',
  );
  assert.equal(
    siblingModule(import.meta.url, './sibling-module'),
    new URL('./sibling-module.ts', import.meta.url).pathname,
  );
});

test('no shipped module names a .ts file in new URL(…): it would not exist in the built package', () => {
  const src = new URL('../', import.meta.url);
  const shipped = (readdirSync(src, { recursive: true }) as string[]).filter(
    (f) =>
      f.endsWith('.ts') && !f.endsWith('.test.ts') && !/(^|\/)(test-[^/]*|fixtures\/.*|demo)\.ts$/.test(f),
  );
  const offenders = shipped.filter((f) =>
    /new URL\(\s*['"`][^'"`]*\.ts['"`]/.test(readFileSync(new URL(f, src), 'utf8')),
  );
  assert.deepEqual(offenders, [], 'use siblingModule(import.meta.url, "./name") instead');
});
