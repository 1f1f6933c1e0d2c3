import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock } from '../shared/index.ts';
import { LineSplitter } from './line-splitter.ts';

/** Where a line came from: the app's stdout, its stderr, or the supervisor's own notes (start, exit, SIGKILL). */
export type LineSource = 'out' | 'err' | 'sup';

/**
 * One slot's output: appended to a log file, kept in a ring of the last `capacity` lines
 * (which outlives the process, so a failed deployment can show why), and passed to `onLine`.
 * Lines read `<ISO time> <source> <text>` everywhere, so the tail matches the file.
 */
export class SlotLog {
  readonly file: string;
  readonly #clock: Clock;
  readonly #onLine: (line: string) => void;
  readonly #ring: string[];
  #next = 0;
  #count = 0;
  #stream: WriteStream | undefined;
  #closed = false;
  /** Readables paused until the file stream drains. */
  readonly #paused = new Set<Readable>();

  constructor(file: string, capacity: number, clock: Clock, onLine: (line: string) => void) {
    this.file = file;
    this.#clock = clock;
    this.#onLine = onLine;
    this.#ring = new Array<string>(Math.max(1, capacity));
  }

  /** Creates the directory and opens the file for appending. */
  async open(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    if (this.#closed) return;
    // Apps print things operators should see but others should not: owner and group only.
    const stream = createWriteStream(this.file, { flags: 'a', mode: 0o640 });
    // A full disk must not take the agent down: the ring and followers keep working without the file.
    stream.on('error', () => {
      this.#stream = undefined;
      this.#resumeAll();
    });
    stream.on('drain', () => this.#resumeAll());
    this.#stream = stream;
  }

  /** Records one line. After `close` it still reaches the ring and followers, just not the file. */
  write(source: LineSource, text: string): void {
    const line = `${new Date(this.#clock.now()).toISOString()} ${source} ${text}`;
    this.#ring[this.#next] = line;
    this.#next = (this.#next + 1) % this.#ring.length;
    if (this.#count < this.#ring.length) this.#count += 1;
    if (this.#stream !== undefined && !this.#closed) this.#stream.write(`${line}\n`);
    this.#onLine(line);
  }

  /**
   * Reads a child's stdout or stderr line by line until it ends. When the file falls behind,
   * the pipe is paused (the app then blocks on write, as it would writing to a slow disk)
   * instead of buffering without bound in the agent.
   */
  capture(readable: Readable, source: 'out' | 'err'): Promise<void> {
    const splitter = new LineSplitter((text) => this.write(source, text));
    return new Promise((resolve) => {
      readable.on('data', (chunk: Buffer) => {
        splitter.push(chunk);
        if (this.#stream !== undefined && this.#stream.writableNeedDrain && !this.#closed) {
          readable.pause();
          this.#paused.add(readable);
        }
      });
      let ended = false;
      const done = (): void => {
        if (ended) return;
        ended = true;
        this.#paused.delete(readable);
        splitter.end();
        resolve();
      };
      readable.once('end', done);
      readable.once('close', done);
      readable.once('error', done);
    });
  }

  /** The last `lines` lines, oldest first. */
  tail(lines = this.#count): string[] {
    const n = Math.max(0, Math.min(lines, this.#count));
    const out: string[] = [];
    for (let i = this.#count - n; i < this.#count; i += 1) {
      const index = (this.#next - this.#count + i + this.#ring.length) % this.#ring.length;
      out.push(this.#ring[index] as string);
    }
    return out;
  }

  /** Flushes and closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#resumeAll();
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream === undefined || stream.destroyed) return;
    await new Promise<void>((resolve) => {
      stream.once('close', () => resolve());
      stream.end();
    });
  }

  #resumeAll(): void {
    for (const readable of this.#paused) readable.resume();
    this.#paused.clear();
  }
}
