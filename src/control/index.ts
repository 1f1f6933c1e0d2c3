export { publishRelease } from './publish-release.ts';
export type { PublishResult } from './publish-release.ts';
export { createInstance, createInstanceSchema } from './create-instance.ts';
export type { CreateInstanceInput } from './create-instance.ts';
export { bootstrapAdminToken, hashToken, newToken, roleAllows } from './tokens.ts';
