import { randomBytes } from 'node:crypto';
import type { Logger } from '../shared/index.ts';
import type { Store } from '../store/index.ts';
import { loadKeyRing, writeNewKey } from './key-files.ts';
import { checkRing } from './key-ring.ts';
import type { KeyRing } from './key-ring.ts';

/**
 * The server's key ring at start: a first key is written when the directory holds none (a random
 * id, so two replicas that both start empty never hold different keys under one id), and the files
 * are checked against the stored check values. A wrong or missing key is logged by id here and
 * refused where a secret needs it, so the rest of the server works. Returns a reader that loads
 * the files at each use: a key added for a rotation needs no restart.
 */
export async function openServerKeyRing(dir: string, store: Store, log: Logger): Promise<() => KeyRing> {
  if (loadKeyRing(dir).size === 0) {
    const id = `k-${randomBytes(4).toString('hex')}`;
    writeNewKey(dir, id);
    log.info({ keyId: id, dir }, 'wrote a new app-config key; replicas sharing this database need a copy of it');
  }
  const latest = await store.getAppConfigVersion();
  const { wrong, missing } = checkRing(loadKeyRing(dir), latest?.keyChecks ?? {});
  if (wrong.length > 0) log.error({ keyIds: wrong, dir }, 'app-config key files do not match the stored check values: secrets sealed with them are refused');
  if (missing.length > 0) log.warn({ keyIds: missing, dir }, 'app-config keys missing here: secrets sealed with them are refused on this server');
  return () => loadKeyRing(dir);
}
