export { configSchema, loadConfig, configFromEnv, settingEnvName, parseListenAddress } from './config.ts';
export type { Config, ConfigInput } from './config.ts';
export { settingDocs } from './setting-docs.ts';
export type { SettingDoc } from './setting-docs.ts';
export { readEnv, cliEnv, cliConfigDir, ciEnv, joinTokenFromEnv, metricsTokenFromEnv } from './env.ts';
