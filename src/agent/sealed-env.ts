// Slot environments at rest on the machine (issue 20): the agent keeps each slot's environment
// (app config, secrets included) in its state files so it can restart the slot while the server
// is away, but sealed with a per-machine key kept beside them, never in them. AES-256-GCM as on
// the server (ADR 0027); a copy of the state files alone holds no secret.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeKeyFile } from '../shared/index.ts';

/** A slot's environment as the state file holds it. */
export interface SealedEnv {
  iv: string;
  tag: string;
  data: string;
}

const AAD = Buffer.from('cutover slot env v1');

/** The machine's key file, next to the state files (`agent/private/`, 0700). */
export const envKeyFile = (stateBase: string): string => join(dirname(stateBase), 'slot-env.key');

/**
 * The machine's key: read, or written once (0600, exclusive create, fsynced) when there is none.
 * Two agents racing to create it: the loser reads the winner's.
 */
export function machineEnvKey(stateBase: string): Buffer {
  const file = envKeyFile(stateBase);
  try {
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  try {
    writeKeyFile(file, key);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    throw error;
  }
}

/** `aad` tells what was sealed (a slot environment by default), so one kind never opens as another. */
export function sealEnv(key: Buffer, env: Record<string, string>, aad: Buffer = AAD): SealedEnv {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const data = Buffer.concat([cipher.update(JSON.stringify(env), 'utf8'), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/** The environment, or undefined when the key does not open it (another machine's key, or a damaged file). */
export function openEnv(key: Buffer, sealed: SealedEnv, aad: Buffer = AAD): Record<string, string> | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(aad);
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    const text = Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
    const env = JSON.parse(text) as unknown;
    return typeof env === 'object' && env !== null && !Array.isArray(env) ? (env as Record<string, string>) : undefined;
  } catch {
    return undefined;
  }
}
