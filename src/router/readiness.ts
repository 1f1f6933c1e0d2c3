// `GET /.well-known/cutover/ready` (issue 18): an outside load balancer's health check of one
// instance on this machine. Ready means the machine holds the instance's live release and is not
// draining, so a machine that joined, lags behind or is being emptied gets no traffic. The
// decision is a pure function over what the machine's desired state expects and what the router
// serves; the router answers it itself, before maintenance, pausing and routing, so it never
// reaches the app, never waits, and never counts in a colour's counters (which the bake reads).
import type { ServerResponse } from 'node:http';

export const READY_PATH = '/.well-known/cutover/ready';

/** What the machine's desired-state document expects of one instance. */
export interface InstanceExpectation {
  /** The release version the document says is live; null when it names none. */
  live: string | null;
  /**
   * Traffic was flipped on this machine after the document was accepted: a newer word of the
   * server (a deployment's flip, which the next document will state) or a local rollback. What
   * the router serves then stands, so a deployment does not make every machine unready until the
   * server sends the next document.
   */
  flippedSince: boolean;
}

/** What the machine's accepted desired-state document expects (the agent gives it to the router). */
export interface MachineExpectation {
  /** The machine is draining (`machine drain`): nothing is ready. */
  draining: boolean;
  /** By instance name; an instance the router routes but the document does not list is being removed. */
  instances: ReadonlyMap<string, InstanceExpectation>;
}

/** Why an instance is not ready on this machine. */
export type NotReadyReason = 'draining' | 'removing' | 'no-active-slot' | 'no-live-release' | 'live-not-served';

/** The ready endpoint's answer (its JSON body; 200 when `ready`, else 503). */
export type ReadyAnswer =
  | { ready: true; instance: string; version: string }
  | { ready: false; instance: string; reason: NotReadyReason; live?: string; serving?: string };

/**
 * Whether `instance` is ready on this machine, given the machine's expectation (null: the agent
 * never accepted a desired-state document, a router on its own) and the version its active colour
 * serves (null: no active colour, or the serving slot is down and the agent paused it). In order:
 * a draining machine is not ready; an instance the document does not list is being removed; with
 * no active colour nothing is ready; without a document, or after a flip newer than it, an active
 * colour is enough; else the active colour must serve the document's live version.
 */
export function decideReady(expected: MachineExpectation | null, instance: string, serving: string | null): ReadyAnswer {
  const entry = expected?.instances.get(instance);
  if (expected?.draining === true) return { ready: false, instance, reason: 'draining' };
  if (expected !== null && entry === undefined) return { ready: false, instance, reason: 'removing' };
  if (serving === null) return { ready: false, instance, reason: 'no-active-slot' };
  if (entry === undefined || entry.flippedSince) return { ready: true, instance, version: serving };
  if (entry.live === null) return { ready: false, instance, reason: 'no-live-release', serving };
  if (entry.live !== serving) return { ready: false, instance, reason: 'live-not-served', live: entry.live, serving };
  return { ready: true, instance, version: serving };
}

/** Sends the answer: 200 or 503, JSON, never cached (headers only for HEAD). */
export function sendReady(res: ServerResponse, answer: ReadyAnswer, head: boolean): void {
  const body = JSON.stringify(answer);
  res.writeHead(answer.ready ? 200 : 503, [
    'content-type',
    'application/json; charset=utf-8',
    'cache-control',
    'no-store',
    'content-length',
    String(Buffer.byteLength(body)),
  ]);
  if (head) res.end();
  else res.end(body);
}
