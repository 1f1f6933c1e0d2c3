import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shellCommand } from './shell-command.ts';

test('simple commands are exec’d so the app, not the shell, leads the process group', () => {
  assert.equal(shellCommand('node server.js'), 'exec node server.js');
  assert.equal(
    shellCommand('  "/opt/my node/bin/node" app.mjs --port 3 '),
    'exec "/opt/my node/bin/node" app.mjs --port 3',
  );
  assert.equal(shellCommand('./run > out.log'), 'exec ./run > out.log');
  assert.equal(shellCommand('node server.js --port "$PORT"'), 'exec node server.js --port "$PORT"');
});

test('compound commands, builtins and assignments run as written', () => {
  for (const command of [
    'cd app && node server.js',
    'npm run migrate; npm start',
    'node a.js | tee x',
    'node a.js &',
    '(node a.js)',
    'node $(cat entry)',
    'node `cat entry`',
    'NODE_ENV=production node server.js',
    'cd app',
    'exec node server.js',
    'if true; then node a; fi',
    'node a\nnode b',
    '',
  ]) {
    assert.equal(shellCommand(command), command, command);
  }
});
