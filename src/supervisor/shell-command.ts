/**
 * Words that, first in a command line, make `exec` wrong: shell keywords and builtins that
 * are not programs (`exec cd x` fails), or that already replace the shell.
 */
const NOT_EXECUTABLE = new Set([
  '!',
  '{',
  '.',
  ':',
  'if',
  'while',
  'until',
  'for',
  'case',
  'cd',
  'export',
  'set',
  'unset',
  'eval',
  'exec',
  'alias',
  'ulimit',
  'umask',
  'trap',
  'wait',
  'shift',
  'read',
  'readonly',
  'local',
  'return',
  'exit',
  'break',
  'continue',
  'times',
  'getopts',
  'hash',
  'jobs',
  'fg',
  'bg',
  'source',
]);

/** Control operators, subshells, command substitution and line breaks: the line is more than one command. */
const COMPOUND = /[;&|()`\n\r]|\$\(/;

/**
 * The line given to `/bin/sh -c`. dash (Debian's /bin/sh) does not replace itself with the
 * last command, so `sh` would stay the group leader: the supervisor would then see the shell's
 * exit status (it dies on SIGTERM at once; it reports an OOM kill as code 137) instead of the app's.
 * For a simple command (`node server.js`, `"/opt/node" app.mjs`, `./run --port 3`) we prefix
 * `exec` so the app itself is the leader; anything else is run as written.
 */
export function shellCommand(command: string): string {
  const trimmed = command.trim();
  if (COMPOUND.test(trimmed)) return command;
  const first = /^\S+/.exec(trimmed)?.[0] ?? '';
  // `FOO=1 node x` is an assignment prefix; `exec FOO=1 node` would try to run "FOO=1".
  if (first === '' || first.includes('=') || NOT_EXECUTABLE.has(first)) return command;
  return `exec ${trimmed}`;
}
