/**
 * Node/V8 flags the agent process (the router's host) runs with. A 2 MiB young-generation
 * semi-space instead of V8's default (up to 16 MiB on this machine, grown under load) keeps the
 * router's short-lived per-request garbage in cache-sized nurseries: measured with
 * `bench/router-proxy.ts`, CPU per proxied request went from ~100 to ~80 µs, throughput +27 %, and
 * RSS with 5,000 idle connections from ~205 to ~165 MiB (docs/benchmarks.md). `bin/cutover`
 * repeats them for `cutover agent` (a shell script cannot import this).
 */
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=2']);
