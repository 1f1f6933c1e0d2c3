import type { SlotSpec } from './types.ts';

/**
 * The only variables a slot inherits from the agent. Everything else in the agent's
 * environment (API tokens, database URLs, NODE_OPTIONS) stays out of the app.
 */
export const INHERITED_ENV_KEYS: readonly string[] = ['PATH', 'HOME', 'LANG', 'TZ', 'USER', 'SHELL'];

/**
 * Builds a slot's environment: the minimal inherited variables, then the release/instance
 * config, then the variables Cutover owns (these win, so config cannot point the app at the wrong port,
 * nor its HOME outside the instance's state directory).
 */
export function buildSlotEnv(
  spec: Pick<SlotSpec, 'instance' | 'color' | 'version' | 'env' | 'user' | 'stateDir'>,
  port: number,
  baseEnv: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV_KEYS) {
    const value = baseEnv[key];
    if (value !== undefined) env[key] = value;
  }
  // The agent's USER (root) would be a lie for a slot running as its own uid.
  if (spec.user !== undefined) {
    if (spec.user.name === undefined) delete env.USER;
    else env.USER = spec.user.name;
  }
  Object.assign(env, spec.env);
  if (spec.stateDir !== undefined) {
    env.HOME = spec.stateDir;
    env.CUTOVER_STATE_DIR = spec.stateDir;
  }
  env.PORT = String(port);
  env.APP_VERSION = spec.version;
  env.CUTOVER_COLOR = spec.color;
  env.CUTOVER_INSTANCE = spec.instance;
  return env;
}
