import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../src/shared/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { startServer } from '../src/main.ts';
import { cutover, cutoverText, freePort, manifest, tempDir } from './helpers.ts';

/**
 * `cutover fleet tick` with upgrades due and no agent answering: the text output says they did not
 * start and why, and the exit code is AGENT_UNREACHABLE's (6), as with `--json`.
 */
test('fleet tick says when due upgrades did not start because the agent does not answer', async () => {
  const started = Date.now();
  const data = await tempDir('tick-unreachable');
  // Nothing listens on the agent port.
  const config = await loadConfig({
    defaults: { dataDir: data.dir, apiPort: await freePort(), fleetInterval: '1h', logLevel: 'silent' },
    env: {},
    flags: {},
  });
  const server = await startServer(config, silentLogger);
  try {
    const ok = async (args: string[]) => {
      const r = await cutover(data.dir, args);
      assert.equal(r.code, 0, `cutover ${args.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`);
      return r.json;
    };
    await ok(['release', 'publish', await manifest(data.dir, '1.0.0')]);
    await ok(['instance', 'create', 'site', '--app', 'hello', '--host', 'site.example.test', '--environment', 'test', '--target-version', '1.0.0']);
    await ok(['fleet', 'policy', '--enable', '--default-window', 'daily 00:00-23:59 UTC']);

    const json = await cutover(data.dir, ['fleet', 'tick']);
    assert.equal(json.code, 6, `${json.code} ${json.stdout} ${json.stderr}`);
    assert.equal(typeof json.json.agentUnreachable, 'string');
    assert.deepEqual(json.json.started, []);

    const text = await cutoverText(data.dir, ['fleet', 'tick']);
    assert.equal(text.code, 6, text.stdout + text.stderr);
    assert.match(text.stdout, /NOT STARTED: 1 due upgrade, because the agent did not answer/);
    assert.doesNotMatch(text.stdout, /nothing to do/);
  } finally {
    await server.stop();
    await data.cleanup();
    console.log(`# fleet tick with the agent unreachable: ${Date.now() - started} ms`);
  }
});
