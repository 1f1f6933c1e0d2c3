import { formatIn, isStructured, serialise } from './output.ts';
import { buildInfo } from './version.ts';

// The root options that may come before `--version`, and those of them that take a value.
const VALUED = ['--data-dir', '--timeout', '-o', '--output'];

/**
 * Prints the version and returns 0 when the first word that is not a root option is `--version`
 * or `-V`; otherwise undefined. Not commander's .version(): a root option is matched anywhere on
 * the line and would swallow the `--version` of `instance target` and `problem list`. Light on
 * purpose: main.ts answers `--version` with it before it loads the command tree.
 */
export function versionAnswer(argv: readonly string[]): number | undefined {
  const first = argv.filter(
    (a, i) =>
      a !== '--json' &&
      !VALUED.includes(a) &&
      !VALUED.includes(argv[i - 1] ?? '') &&
      !VALUED.some((v) => a.startsWith(v.startsWith('--') ? `${v}=` : v) && a !== v),
  )[0];
  if (first !== '--version' && first !== '-V') return undefined;
  const info = buildInfo();
  const format = formatIn(argv);
  process.stdout.write(isStructured(format) ? serialise(info, format as 'json') : `${info.version}\n`);
  return 0;
}
