// App config as the store keeps it: immutable versions, each holding every entry of every layer.
// Secrets are sealed before they reach the store; it never sees a clear value.

/** Where an entry applies (lowest first after the release's `env`: app < environment < app+environment < instance). */
export type AppConfigLayer =
  | { kind: 'app'; app: string }
  | { kind: 'environment'; environment: string }
  | { kind: 'app-environment'; app: string; environment: string }
  | { kind: 'instance'; instance: string };

/** A secret encrypted with one key of the key ring (AES-256-GCM; base64 fields). */
export interface SealedValue {
  keyId: string;
  iv: string;
  tag: string;
  data: string;
}

export type AppConfigEntry =
  | { layer: AppConfigLayer; key: string; secret: false; value: string }
  | { layer: AppConfigLayer; key: string; secret: true; sealed: SealedValue; fingerprint: string };

/**
 * One immutable version of the app config: every entry, the key new secrets are sealed with, and a
 * check value per key id (so a replica with a missing or wrong key file says so instead of
 * decrypting garbage). Version 1 is the first change; ids have no gaps.
 */
export interface AppConfigVersion {
  id: number;
  createdAt: number;
  actor: string;
  /** What changed, in words without values (e.g. `set DATABASE_URL at instance acme-live`). */
  change: string;
  entries: AppConfigEntry[];
  /** The key id new secrets are sealed with; null until the first secret. */
  activeKeyId: string | null;
  /** Key id → check value (see `appconfig/key-ring.ts`). */
  keyChecks: Record<string, string>;
}
