/**
 * `npm run demo`: Cutover on this machine with embedded defaults. Starts the agent and the server,
 * publishes the example app's releases 1.0.0 and 1.1.0, deploys 1.0.0 then 1.1.0 without downtime,
 * prints where to look and what to try, and runs until Ctrl-C.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '../shared/index.ts';
import { cliConfigDir, loadConfig, readEnv } from '../config/index.ts';
import { contextsFileIn } from '../cli-contexts.ts';
import { startUp } from './commands/processes.ts';
import { runCli } from './program.ts';
import { connect } from './api-client.ts';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: '.cutover' },
    'http-port': { type: 'string' },
    'api-port': { type: 'string' },
    'exit-when-ready': { type: 'boolean', default: false },
  },
});
const flags = {
  dataDir: values['data-dir'],
  logLevel: 'warn',
  ...(values['http-port'] ? { httpPort: values['http-port'] } : {}),
  ...(values['api-port'] ? { apiPort: values['api-port'] } : {}),
};
const config = await loadConfig({ env: readEnv(), flags });
const log = createLogger('demo', 'info');
const example = (p: string) => fileURLToPath(new URL(`../../examples/hello/${p}`, import.meta.url));
const say = (line: string) => process.stdout.write(`${line}\n`);

say('▶ starting Cutover (agent + server)…');
const agentArgv = [
  '--log-level', 'warn',
  ...(values['http-port'] ? ['--http-port', values['http-port']] : []),
];
const up = await startUp(config, agentArgv);
if (up.adminToken) say(`  admin token (shown once, saved for the local CLI in ${contextsFileIn(cliConfigDir())}): ${up.adminToken}`);

const cli = async (...args: string[]) => {
  const code = await runCli(['--data-dir', config.dataDir, ...args]);
  if (code !== 0) throw new Error(`\`cutover ${args.join(' ')}\` failed (exit ${code})`);
};

try {
  say('▶ publishing hello 1.0.0 and 1.1.0');
  await cli('release', 'publish', example('releases/1.0.0.yml'));
  await cli('release', 'publish', example('releases/1.1.0.yml'));
  const client = await connect({ dataDir: config.dataDir });
  const existing = await client
    .call<{ currentVersion: string | null }>('GET', '/api/instances/hello')
    .catch(() => undefined); // a first run: no instance yet
  if (!existing) {
    say('▶ creating instance hello at hello.localhost and localhost');
    await cli('instance', 'create', 'hello', '--app', 'hello', '--host', 'hello.localhost', 'localhost', '--environment', 'production');
  }
  if (existing?.currentVersion !== '1.0.0' && existing?.currentVersion !== '1.1.0') {
    say('▶ deploying 1.0.0');
    await cli('deploy', 'hello', '1.0.0', '--wait');
  }
  if (existing?.currentVersion !== '1.1.0') {
    say('▶ deploying 1.1.0 (blue-green: the other slot starts, is health-checked, then traffic flips)');
    await cli('deploy', 'hello', '1.1.0', '--wait');
  }
  say('');
  await cli('status');
  say('');
  say(`✔ hello 1.1.0 is live: open ${up.routerUrl.replace('127.0.0.1', 'localhost')}/  (or curl -i ${up.routerUrl}/ -H 'Host: hello.localhost')`);
  say(`  API: ${up.apiUrl}   data: ${config.dataDir}`);
  say('  Try next, in another terminal in this directory:');
  say('    ./bin/cutover status hello');
  say('    ./bin/cutover rollback hello --wait        # instant: flips back to the warm 1.0.0 slot');
  say('    ./bin/cutover deploy hello 1.1.0 --wait    # and forward again');
  say('    ./bin/cutover logs hello --follow');
  say('  Press Ctrl-C to stop everything.');
} catch (error) {
  log.error({ err: (error as Error).message }, 'demo failed');
  await up.stop();
  process.exit(1);
}

if (values['exit-when-ready']) {
  await up.stop();
} else {
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      say('\nstopping… (Ctrl-C again to force)');
      up.stop().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  say('stopped.');
}
