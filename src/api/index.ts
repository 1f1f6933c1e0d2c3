export { apiRoutes, createApi } from './api.ts';
export type { ApiDeps } from './api-deps.ts';
// The answers' shapes, for clients in this repository (the CLI), which import only types from here.
export type * from './wire.ts';
