import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentUnit, execWord, serverUnit, systemdUnits } from './systemd-units.ts';
import { childArgv } from './detach.ts';

const options = {
  bin: '/usr/lib/node_modules/cutover/bin/cutover',
  dataDir: '/var/lib/cutover',
  config: '/etc/cutover/cutover.yml',
  pidFile: '/run/cutover-agent/agent.pid',
};
const setting = (unit: string, key: string) =>
  unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

test('execWord escapes specifiers and variables, and quotes words with spaces or quotes', () => {
  assert.equal(execWord('/usr/bin/cutover'), '/usr/bin/cutover');
  assert.equal(execWord('/srv/100%/x'), '/srv/100%%/x');
  assert.equal(execWord('/srv/$HOME'), '/srv/$$HOME');
  assert.equal(execWord('/srv/my dir'), '"/srv/my dir"');
  assert.equal(execWord('a"b\\c'), '"a\\"b\\\\c"');
});

test('the agent unit: forking + PIDFile, KillMode=process, ExecReload takes over with the same settings', () => {
  const unit = agentUnit(options);
  assert.deepEqual(setting(unit, 'Type'), ['forking']);
  assert.deepEqual(setting(unit, 'KillMode'), ['process']);
  assert.deepEqual(setting(unit, 'PIDFile'), ['/run/cutover-agent/agent.pid']);
  assert.deepEqual(setting(unit, 'RuntimeDirectory'), ['cutover-agent']);
  assert.deepEqual(setting(unit, 'ExecStart'), [
    '/usr/lib/node_modules/cutover/bin/cutover --data-dir /var/lib/cutover agent --detach --pid-file /run/cutover-agent/agent.pid --config /etc/cutover/cutover.yml',
  ]);
  assert.deepEqual(setting(unit, 'ExecReload'), [
    '/usr/lib/node_modules/cutover/bin/cutover --data-dir /var/lib/cutover agent --takeover --detach --pid-file /run/cutover-agent/agent.pid --config /etc/cutover/cutover.yml',
  ]);
  // A pid file outside /run needs no runtime directory.
  assert.deepEqual(
    setting(agentUnit({ ...options, pidFile: '/var/lib/cutover/agent.pid' }), 'RuntimeDirectory'),
    [],
  );
});

test('the server unit keeps stdout (the first admin token) out of the journal; no config, no --config', () => {
  const { config: _config, ...bare } = options;
  const unit = serverUnit(bare);
  assert.deepEqual(setting(unit, 'ExecStart'), [
    '/usr/lib/node_modules/cutover/bin/cutover --data-dir /var/lib/cutover server',
  ]);
  assert.deepEqual(setting(unit, 'StandardOutput'), ['null']);
  assert.deepEqual(Object.keys(systemdUnits(options)).sort(), [
    'cutover-agent.service',
    'cutover-server.service',
  ]);
});

test('the detached agent runs the same command line without --detach and --pid-file', () => {
  assert.deepEqual(
    childArgv([
      '--data-dir',
      '/d',
      'agent',
      '--takeover',
      '--detach',
      '--pid-file',
      '/run/a.pid',
      '--config',
      '/c.yml',
    ]),
    ['--data-dir', '/d', 'agent', '--takeover', '--config', '/c.yml'],
  );
  assert.deepEqual(childArgv(['agent', '--pid-file=/run/a.pid', '--detach']), ['agent']);
});
