// What a relayed call leaves in the database is sealed for the one replica that reads it (ADR 0025):
// a `slot.start` carries the slot's environment, app-config secrets opened among it (issue 20), and
// an `instance.preview` its token; rows are deleted within milliseconds, but PostgreSQL's WAL and
// free pages keep what was written. Each replica makes an X25519 key pair when it starts, keeps the
// private key in memory only and publishes the public key in its `replicas` row; a body is sealed
// with AES-256-GCM under a key both ends derive (X25519, then HKDF-SHA-256 over both public keys),
// the call's machine and message name as additional data. Once both processes have ended no key
// that could open an old row exists anywhere.
import { createCipheriv, createDecipheriv, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** A replica's relay keys: the public key as published (base64 SPKI DER) and the private key, never written. */
export interface RelayKeys {
  publicKey: string;
  privateKey: KeyObject;
}

/** What a sealed body or answer looks like in its JSON column. */
export interface SealedJson {
  sealed: 1;
  iv: string;
  tag: string;
  data: string;
}

export function newRelayKeys(): RelayKeys {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), privateKey };
}

/** The key `mine` shares with the replica whose public key is `theirs` (the same at both ends), cached per peer. */
export function relayCipher(mine: RelayKeys) {
  const shared = new Map<string, Buffer>();
  const keyWith = (theirs: string): Buffer => {
    let key = shared.get(theirs);
    if (!key) {
      const secret = diffieHellman({ privateKey: mine.privateKey, publicKey: createPublicKey({ key: Buffer.from(theirs, 'base64'), format: 'der', type: 'spki' }) });
      const pair = [mine.publicKey, theirs].sort().join(' ');
      key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `cutover relayed call ${pair}`, 32));
      shared.set(theirs, key);
    }
    return key;
  };
  return {
    /** `value` as JSON, sealed for the replica whose public key is `theirs`; `context` must match at the other end. */
    seal(theirs: string, value: unknown, context: string): SealedJson {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', keyWith(theirs), iv);
      cipher.setAAD(Buffer.from(context));
      const data = Buffer.concat([cipher.update(JSON.stringify(value ?? null)), cipher.final()]);
      return { sealed: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
    },
    /** What `seal` sealed for this replica; throws when it was changed, sealed for another, or under another context. */
    open(theirs: string, sealed: SealedJson, context: string): unknown {
      const decipher = createDecipheriv('aes-256-gcm', keyWith(theirs), Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      return JSON.parse(Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8')) as unknown;
    },
  };
}

export const isSealed = (value: unknown): value is SealedJson => typeof value === 'object' && value !== null && (value as { sealed?: unknown }).sealed === 1;
