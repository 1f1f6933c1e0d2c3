import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CutoverError } from '../shared/index.ts';
import type { SealedValue } from '../store/index.ts';

// AES-256-GCM from node:crypto (ADR 0027): authenticated, so a wrong key or a changed byte fails
// instead of yielding garbage; a 96-bit random IV per seal (NIST SP 800-38D §8.2.2), far below the
// 2^32 seals per key where random IVs stop being safe.
const ALGORITHM = 'aes-256-gcm';
export const KEY_BYTES = 32;
const IV_BYTES = 12;
/** Key ids name files (`<id>.key`): short and path-safe. */
export const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** The keys this process holds, by id. Other replicas may hold more or fewer. */
export type KeyRing = ReadonlyMap<string, Buffer>;

/**
 * A key's check value: an HMAC under the key of a fixed label, stored with the config. A key file
 * for the same id whose check differs is the wrong file; it never decrypts anything.
 */
export function keyCheck(key: Buffer): string {
  return createHmac('sha256', key).update('cutover app-config key check v1').digest('hex').slice(0, 16);
}

/**
 * The fingerprint of a secret value: the first 12 hex digits of an HMAC-SHA-256 keyed by a key
 * derived from the ring's key. A viewer who sees it cannot test guesses offline, as they could
 * against a bare hash; two entries with the same value and key have the same fingerprint.
 */
export function fingerprint(key: Buffer, value: string): string {
  const fpKey = createHmac('sha256', key).update('cutover app-config fingerprint v1').digest();
  return createHmac('sha256', fpKey).update(value).digest('hex').slice(0, 12);
}

export function seal(keyId: string, key: Buffer, value: string): SealedValue {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(Buffer.from(keyId));
  const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return { keyId, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/** The key of `keyId`, or `SECRET_KEY_MISSING` naming it (the only thing refused is what needs it). */
export function keyFor(ring: KeyRing, keyId: string): Buffer {
  const key = ring.get(keyId);
  if (key === undefined) {
    throw new CutoverError('SECRET_KEY_MISSING', `this server has no key file for app-config key ${keyId}; copy ${keyId}.key into its key directory (see docs/app-config.md)`, {
      details: { keyId },
    });
  }
  return key;
}

export function open(ring: KeyRing, sealed: SealedValue): string {
  const key = keyFor(ring, sealed.keyId);
  try {
    const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(sealed.keyId));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new CutoverError('SECRET_KEY_INVALID', `app-config key ${sealed.keyId} does not decrypt a stored secret; its key file is not the one the secret was sealed with`, {
      details: { keyId: sealed.keyId },
      cause,
    });
  }
}

/**
 * Key ids whose file here does not match the stored check value, and ids the store knows that this
 * ring lacks. A wrong file is refused at start; a missing one only when a secret needs it.
 */
export function checkRing(ring: KeyRing, checks: Readonly<Record<string, string>>): { wrong: string[]; missing: string[] } {
  const wrong: string[] = [];
  const missing: string[] = [];
  for (const [id, check] of Object.entries(checks)) {
    const key = ring.get(id);
    if (key === undefined) missing.push(id);
    else if (!timingSafeEqual(Buffer.from(keyCheck(key)), Buffer.from(check))) wrong.push(id);
  }
  return { wrong: wrong.sort(), missing: missing.sort() };
}

export function newKey(): Buffer {
  return randomBytes(KEY_BYTES);
}
