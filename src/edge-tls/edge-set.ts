// The set of certificates an agent's router serves: the server's (one per host name it was set
// for) and the agent's own watched file pair, merged without a name twice (the router refuses a
// host in two certificates). Pure.

/** A pair as the router takes it (`EdgeCertificate`). */
export interface ServedPair {
  hosts: readonly string[];
  cert: string;
  key: string;
  isDefault?: boolean;
}

/**
 * The file pair is the default (it is what a one-machine install serves for every name) and keeps
 * only the names no server certificate claims: a host set with `tls set` is served by that
 * certificate. Without a file pair, the server's default (if any) is the default.
 */
export function mergeEdgeSet(file: ServedPair | undefined, server: readonly ServedPair[]): ServedPair[] {
  const claimed = new Set(server.flatMap((p) => p.hosts));
  const fromServer = server.map((p) => ({ hosts: p.hosts, cert: p.cert, key: p.key, isDefault: file === undefined && p.isDefault === true }));
  if (file === undefined) return fromServer;
  return [{ hosts: file.hosts.filter((h) => !claimed.has(h)), cert: file.cert, key: file.key, isDefault: true }, ...fromServer];
}
