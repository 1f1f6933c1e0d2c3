import { pino } from 'pino';

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
