import { createRequire } from 'node:module';
import type { pino as Pino } from 'pino';

// pino (and its ~30 modules) loads on the first logger, not with this module: the CLI imports
// `shared` for its errors and must start fast (issue 22). pino is CommonJS, so a synchronous
// require keeps createLogger synchronous.
const load = () => (createRequire(import.meta.url)('pino') as { pino: typeof Pino }).pino;

/** The log shape business code depends on; pino satisfies it, tests can pass a silent one. */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * JSON logs on stderr (stdout stays for what a command prints). Redacts the fields a secret
 * could travel in, so a token never reaches a log line.
 */
export function createLogger(name: string, level: string): Logger {
  const pino = load();
  return pino(
    {
      name,
      level,
      redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'env', '*.env'], censor: '[redacted]' },
    },
    pino.destination({ dest: 2, sync: false }),
  );
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
