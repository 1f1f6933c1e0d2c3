import type { IncomingMessage } from 'node:http';
import type { RequestScan } from './headers.ts';
import type { ProxyResponse } from './proxy-handler.ts';

/** A request waiting for its instance to get an active colour (the pause). */
export class HeldRequest {
  readonly req: IncomingMessage;
  readonly res: ProxyResponse;
  readonly headers: string[];
  readonly scan: RequestScan;
  readonly deadline: number;
  /** The client went away while waiting. */
  gone = false;

  constructor(
    req: IncomingMessage,
    res: ProxyResponse,
    headers: string[],
    scan: RequestScan,
    deadline: number,
  ) {
    this.req = req;
    this.res = res;
    this.headers = headers;
    this.scan = scan;
    this.deadline = deadline;
  }
}

/** Shared 'close' listener of held responses. */
function onHeldClose(this: ProxyResponse): void {
  if (this.held !== null) this.held.gone = true;
}

/**
 * The requests one instance holds while it has no active colour, oldest first. Every request
 * waits the same time, so deadlines are in order and one timer (for the oldest) serves them all.
 * Holding is the rare path (an outage or a restart), so it may allocate.
 */
export class HoldQueue {
  readonly #timeoutMs: number;
  readonly #expire: (held: HeldRequest) => void;
  #items: HeldRequest[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(timeoutMs: number, expire: (held: HeldRequest) => void) {
    this.#timeoutMs = timeoutMs;
    this.#expire = expire;
  }

  /** Requests in the queue, including ones whose client left (the bound on memory). */
  get size(): number {
    return this.#items.length;
  }

  /** Requests still waiting for an answer. */
  get waiting(): number {
    let n = 0;
    for (const held of this.#items) if (!held.gone) n++;
    return n;
  }

  hold(req: IncomingMessage, res: ProxyResponse, headers: string[], scan: RequestScan): void {
    const held = new HeldRequest(req, res, headers, scan.copy(), performance.now() + this.#timeoutMs);
    res.held = held;
    res.on('close', onHeldClose);
    this.#items.push(held);
    if (this.#timer === null) this.#arm(this.#timeoutMs);
  }

  /** Removes and returns every waiting request that is still wanted. */
  takeAll(): HeldRequest[] {
    const items = this.#items;
    this.#items = [];
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const out: HeldRequest[] = [];
    for (const held of items) {
      held.res.held = null;
      held.res.off('close', onHeldClose);
      if (!held.gone) out.push(held);
    }
    return out;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#onTimer(), ms);
    this.#timer.unref();
  }

  #onTimer(): void {
    this.#timer = null;
    const now = performance.now();
    let i = 0;
    const items = this.#items;
    while (i < items.length && (items[i] as HeldRequest).deadline <= now) i++;
    const expired = items.splice(0, i);
    const next = items[0];
    if (next !== undefined) this.#arm(Math.max(1, next.deadline - now));
    for (const held of expired) {
      held.res.held = null;
      held.res.off('close', onHeldClose);
      if (!held.gone) this.#expire(held);
    }
  }
}
