export { apiRoutes, createApi } from './api.ts';
export type { ApiDeps } from './api.ts';
export type { InstanceStatus } from './instance-status.ts';
