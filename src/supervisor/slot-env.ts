import type { SlotSpec } from './types.ts';

/**
 * The only variables a slot inherits from the agent. Everything else in the agent's
 * environment (API tokens, database URLs, NODE_OPTIONS) stays out of the app.
 */
export const INHERITED_ENV_KEYS: readonly string[] = ['PATH', 'HOME', 'LANG', 'TZ', 'USER', 'SHELL'];

/**
 * Builds a slot's environment: the minimal inherited variables, then the release/instance
 * config, then the variables Cutover owns (these win, so config cannot point the app at the wrong port).
 */
export function buildSlotEnv(
  spec: Pick<SlotSpec, 'instance' | 'color' | 'version' | 'env'>,
  port: number,
  baseEnv: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV_KEYS) {
    const value = baseEnv[key];
    if (value !== undefined) env[key] = value;
  }
  Object.assign(env, spec.env);
  env.PORT = String(port);
  env.APP_VERSION = spec.version;
  env.CUTOVER_COLOR = spec.color;
  env.CUTOVER_INSTANCE = spec.instance;
  return env;
}
