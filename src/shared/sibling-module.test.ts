import { test } from 'node:test';
import assert from 'node:assert/strict';
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
