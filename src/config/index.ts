export { configSchema, loadConfig, configFromEnv } from './config.ts';
export type { Config, ConfigInput } from './config.ts';
export { readEnv, cliEnv, cliConfigDir } from './env.ts';
