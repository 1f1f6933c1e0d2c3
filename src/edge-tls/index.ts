// TLS at the edge, the pure part (issue 21): what a certificate pair is, whether it serves a host,
// which machines need it, and when it expires. The server's `tls set` and the agent share it.
export { EXPIRY_WARNING_DAYS, daysLeft, dnsNamesOf, expiresSoon, hostProblem, inspectPair, nameCovers } from './inspect-pair.ts';
export type { CertPair, PairFacts } from './inspect-pair.ts';
export { certServesHost, certificatesFor, machinesServing } from './serving-machines.ts';
export type { CertTarget, ServedInstance } from './serving-machines.ts';
export { mergeEdgeSet } from './edge-set.ts';
export type { ServedPair } from './edge-set.ts';
