// App config: values and secrets given to an app's slots, in layers, versioned, secrets sealed
// with a key ring. The pure rules and resolution, plus the key files (docs/app-config.md).
export { KEY_MAX_BYTES, VALUE_MAX_BYTES, hasUrlPassword, keyProblem, stripOneNewline, valueProblem } from './key-rules.ts';
export { LAYER_ORDER, layerApplies, layerFromFlags, layerLabel, layerRank, layersOf, sameLayer } from './layers.ts';
export type { InstanceScope, SourceLayer } from './layers.ts';
export { missingRequired, missingRequiredMessage, resolveConfig } from './resolve-config.ts';
export type { MissingKey, ResolvedEntry } from './resolve-config.ts';
export { applyChange, kindConflicts } from './change-config.ts';
export type { ChangeOutcome, ConfigChange } from './change-config.ts';
export { KEY_ID, checkRing, fingerprint, keyCheck, keyFor, newKey, open, seal } from './key-ring.ts';
export type { KeyRing } from './key-ring.ts';
export { loadKeyRing, writeNewKey } from './key-files.ts';
export { EMPTY_VERSION, entryFor, nextVersion, resealVersions, sealingKeyId, shownValue } from './config-versions.ts';
export type { ChangeRecord } from './config-versions.ts';
export { diffConfig, showConfig, slotEnvOf } from './config-view.ts';
export type { ConfigDifference, ShownEntry } from './config-view.ts';
export { openServerKeyRing } from './server-key-ring.ts';
export { RETENTION_MS, versionsToPrune } from './retention.ts';
