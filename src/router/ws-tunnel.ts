import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { clientCloseGoingAway, FrameTracker, SERVER_CLOSE_GOING_AWAY } from './ws-frames.ts';

/** How long a side may take to finish closing (close handshake, FIN) before it is destroyed. */
const CLOSE_GRACE_MS = 5000;

// What one direction of a tunnel does with the bytes it reads.
const FORWARD = 0;
/** Forward only up to the end of the current frame, then send our close frame. */
const TO_BOUNDARY = 1;
/** Our close frame went out: read and drop (never leave bytes unread, or the kernel sends RST). */
const DISCARD = 2;

function noop(): void {}

/** Who owns a tunnel: told once when both sockets are closed. */
export interface TunnelOwner {
  tunnelClosed(tunnel: Tunnel): void;
}

/**
 * The byte tunnel of one upgraded connection (WebSocket or another Upgrade protocol) between a
 * client socket and an upstream socket, with backpressure both ways. `goingAway()` closes it
 * politely: for a WebSocket, a close frame 1001 goes to the client (unmasked, at a frame boundary
 * of what the app was sending) and a masked one to the app (at a boundary of what the client was
 * sending), then each side gets a FIN; other protocols just get a FIN both ways. Sockets are only
 * destroyed when a side does not finish closing within a grace period, or by `destroy()`.
 * Upgrades are rare and long-lived, so closures here are fine.
 */
export class Tunnel {
  readonly client: Duplex;
  readonly upstream: Duplex;
  readonly websocket: boolean;
  readonly #owner: TunnelOwner;
  /** Frames the app sends to the client (WebSocket only). */
  readonly #toClient: FrameTracker | null;
  /** Frames the client sends to the app (WebSocket only). */
  readonly #toUpstream: FrameTracker | null;
  #toClientMode = FORWARD;
  #toUpstreamMode = FORWARD;
  #closing = false;
  #clientClosed = false;
  #upstreamClosed = false;
  #done = false;
  #timer: NodeJS.Timeout | null = null;
  /** performance.now() at which the scheduled goingAway() runs (Infinity: none scheduled). */
  #due = Infinity;

  constructor(owner: TunnelOwner, client: Duplex, upstream: Duplex, websocket: boolean, head: Buffer) {
    this.#owner = owner;
    this.client = client;
    this.upstream = upstream;
    this.websocket = websocket;
    this.#toClient = websocket ? new FrameTracker() : null;
    this.#toUpstream = websocket ? new FrameTracker() : null;
    client.on('error', noop);
    upstream.on('error', noop);
    if (head.length > 0) this.#fromClient(head);
    upstream.on('data', (chunk: Buffer) => this.#fromUpstream(chunk));
    client.on('data', (chunk: Buffer) => this.#fromClient(chunk));
    client.on('drain', () => upstream.resume());
    upstream.on('drain', () => client.resume());
    // Upgraded sockets are half-open capable; a FIN from one side is passed on to the other.
    upstream.on('end', () => client.end());
    client.on('end', () => upstream.end());
    upstream.on('close', () => {
      this.#upstreamClosed = true;
      this.#sideClosed(client, this.#clientClosed);
    });
    client.on('close', () => {
      this.#clientClosed = true;
      this.#sideClosed(upstream, this.#upstreamClosed);
    });
    // The upstream pool paused the socket when it handed it over (bytes already read were unshifted).
    upstream.resume();
    client.resume();
  }

  /**
   * Starts `goingAway()` after `delayMs` (unless the tunnel closes first). The earliest schedule
   * wins: a later flip or the slot's stop may bring the close forward, never push it back.
   */
  scheduleGoingAway(delayMs: number): void {
    if (this.#closing || this.#done) return;
    const due = performance.now() + delayMs;
    if (this.#timer !== null) {
      if (this.#due <= due) return;
      clearTimeout(this.#timer);
    }
    this.#due = due;
    this.#timer = setTimeout(() => this.goingAway(), delayMs);
    this.#timer.unref();
  }

  /** Forgets a scheduled `goingAway()` (its colour serves again); a started close goes on. */
  cancelGoingAway(): void {
    if (this.#closing || this.#done || this.#timer === null || this.#due === -Infinity) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#due = Infinity;
  }

  /** Closes the tunnel politely (see the class comment). Idempotent. */
  goingAway(): void {
    if (this.#closing || this.#done) return;
    this.#closing = true;
    this.#armGrace();
    if (!this.websocket) {
      this.client.end();
      this.upstream.end();
      return;
    }
    if ((this.#toClient as FrameTracker).atBoundary) this.#closeClient();
    else this.#toClientMode = TO_BOUNDARY;
    if ((this.#toUpstream as FrameTracker).atBoundary) this.#closeUpstream();
    else this.#toUpstreamMode = TO_BOUNDARY;
  }

  /** Cuts both sockets now. */
  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  #fromUpstream(chunk: Buffer): void {
    const mode = this.#toClientMode;
    if (mode === DISCARD) return;
    const tracker = this.#toClient;
    if (mode === TO_BOUNDARY && tracker !== null) {
      const end = tracker.feedToBoundary(chunk);
      if (end === -1) {
        this.client.write(chunk);
        return;
      }
      if (end > 0) this.client.write(chunk.subarray(0, end));
      this.#closeClient();
      return;
    }
    if (tracker !== null) tracker.feed(chunk);
    if (!this.client.write(chunk)) this.upstream.pause();
  }

  #fromClient(chunk: Buffer): void {
    const mode = this.#toUpstreamMode;
    if (mode === DISCARD) return;
    const tracker = this.#toUpstream;
    if (mode === TO_BOUNDARY && tracker !== null) {
      const end = tracker.feedToBoundary(chunk);
      if (end === -1) {
        this.upstream.write(chunk);
        return;
      }
      if (end > 0) this.upstream.write(chunk.subarray(0, end));
      this.#closeUpstream();
      return;
    }
    if (tracker !== null) tracker.feed(chunk);
    if (!this.upstream.write(chunk)) this.client.pause();
  }

  #closeClient(): void {
    this.#toClientMode = DISCARD;
    this.upstream.resume();
    if (this.client.writable) {
      this.client.write(SERVER_CLOSE_GOING_AWAY);
      this.client.end();
    }
  }

  #closeUpstream(): void {
    this.#toUpstreamMode = DISCARD;
    this.client.resume();
    if (this.upstream.writable) {
      this.upstream.write(clientCloseGoingAway(randomBytes(4)));
      this.upstream.end();
    }
  }

  #sideClosed(other: Duplex, otherClosed: boolean): void {
    if (!otherClosed) {
      // The other side may still have bytes to flush: a FIN, not a reset, bounded by the grace.
      other.end();
      this.#armGrace();
      return;
    }
    if (this.#done) return;
    this.#done = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#owner.tunnelClosed(this);
  }

  #armGrace(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    // The grace timer is never replaced by a going-away schedule nor cancelled.
    this.#due = -Infinity;
    this.#timer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    this.#timer.unref();
  }
}
