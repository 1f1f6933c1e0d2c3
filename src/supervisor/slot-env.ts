import type { SlotSpec } from './types.ts';

/**
 * The only variables a slot inherits from the agent. Everything else in the agent's
 * environment (API tokens, database URLs, NODE_OPTIONS) stays out of the app.
 */
export const INHERITED_ENV_KEYS: readonly string[] = ['PATH', 'HOME', 'LANG', 'TZ', 'USER', 'SHELL'];

/**
 * The variables every process the agent starts for an instance inherits (slots and release
 * tests alike): the minimal set from the agent's environment, and `USER` as the uid it runs as
 * (the agent's, root, would be a lie).
 */
export function inheritedEnv(user: SlotSpec['user'], baseEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV_KEYS) {
    const value = baseEnv[key];
    if (value !== undefined) env[key] = value;
  }
  if (user !== undefined) {
    if (user.name === undefined) delete env.USER;
    else env.USER = user.name;
  }
  return env;
}

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
  const env = inheritedEnv(spec.user, baseEnv);
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
