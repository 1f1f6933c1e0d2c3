// Entry of the router subsystem: the data plane's HTTP/1.1 reverse proxy.
export { createRouter } from './router.ts';
export type { Router, RouterOptions, RouterInstanceState, RouterSlotState } from './router.ts';
export type { UpstreamTarget } from './upstream.ts';
