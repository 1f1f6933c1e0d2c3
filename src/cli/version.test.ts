import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cliEntry, packageRoot, buildInfo } from './version.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

test('buildInfo: the package version and the Node runtime; run from the sources in a clone', () => {
  const info = buildInfo();
  assert.equal(info.version, pkg.version);
  assert.equal(info.node, process.versions.node);
  assert.equal(info.nodePath, process.execPath);
  assert.equal(info.build, 'source');
  assert.ok(cliEntry().endsWith('/src/cli/main.ts'));
  assert.ok(packageRoot().endsWith('/'));
});

test('cutover --version prints the version; --version --json the object; --pid-file needs --detach', () => {
  assert.equal(
    execFileSync(process.execPath, [cliEntry(), '--version'], { encoding: 'utf8' }),
    `${pkg.version}\n`,
  );
  const json = JSON.parse(
    execFileSync(process.execPath, [cliEntry(), '--version', '--json'], { encoding: 'utf8' }),
  ) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json).sort(), ['build', 'node', 'nodePath', 'root', 'version']);
  assert.equal(json.version, pkg.version);
  assert.equal(json.node, process.versions.node);
  const refused = spawnSync(process.execPath, [cliEntry(), '--json', 'agent', '--pid-file', '/tmp/x.pid'], {
    encoding: 'utf8',
  });
  assert.equal(refused.status, 2, refused.stdout + refused.stderr);
  assert.match(refused.stdout, /--pid-file needs --detach/);
});
