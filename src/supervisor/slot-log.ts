import { watch, type FSWatcher } from 'node:fs';
import { copyFile, mkdir, open, rename, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from '../shared/index.ts';
import { LineSplitter } from './line-splitter.ts';

/** When a slot log is rotated: past `maxBytes`, keeping `files` older files (`<file>.1` newest). */
export interface LogRotation {
  maxBytes: number;
  files: number;
}

/** How much of an existing file is read at open to fill the tail. */
const PREFILL_BYTES = 64 * 1024;
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * One slot's log file and its tail.
 *
 * The app's stdout and stderr are the file itself (the child gets the file descriptor, not a
 * pipe), so a slot keeps running, and keeps logging, when the agent is restarted and a new agent
 * adopts it. The price: lines the app writes carry no timestamp nor out/err mark (the agent never
 * sees them pass), so app output is stored raw; the supervisor's own notes read
 * `<ISO time> sup <text>`. The tail and followers are fed by reading the file as it grows
 * (woken by `fs.watch`, with a poll every `pollMs` as the bound), so they show exactly what the
 * file holds, in its order.
 */
export class SlotLog {
  readonly file: string;
  readonly #clock: Clock;
  readonly #onLine: (line: string) => void;
  readonly #pollMs: number;
  readonly #rotation: LogRotation | undefined;
  readonly #ring: string[];
  readonly #splitter: LineSplitter;
  readonly #buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  #next = 0;
  #count = 0;
  #writer: FileHandle | undefined;
  #reader: FileHandle | undefined;
  #offset = 0;
  #writes: Promise<void> = Promise.resolve();
  #reading: Promise<void> | undefined;
  #again = false;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(file: string, capacity: number, clock: Clock, onLine: (line: string) => void, pollMs = 250, rotation?: LogRotation) {
    this.file = file;
    this.#rotation = rotation;
    this.#clock = clock;
    this.#onLine = onLine;
    this.#pollMs = pollMs;
    this.#ring = new Array<string>(Math.max(1, capacity));
    this.#splitter = new LineSplitter((line) => this.#push(line, true));
  }

  /**
   * Creates the directory and the file, fills the tail from the end of what the file already
   * holds (an earlier run of the same version, or a process being adopted), and starts following it.
   */
  async open(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    // Apps print things operators should see but others should not: owner and group only.
    this.#writer = await open(this.file, 'a', 0o640);
    this.#reader = await open(this.file, 'r');
    const { size } = await this.#reader.stat();
    await this.#prefill(size);
    this.#offset = size;
    if (this.#closed) return;
    try {
      this.#watcher = watch(this.file, { persistent: false }, () => void this.#read());
      this.#watcher.on('error', () => this.#unwatch());
    } catch {
      // No inotify (or its limit reached): the poll alone bounds the delay.
    }
    this.#timer = setInterval(() => void this.#poll(), this.#pollMs);
    this.#timer.unref();
  }

  /** A write handle for a child's stdout/stderr (append mode, so the app and notes never overwrite each other). */
  openForChild(): Promise<FileHandle> {
    return open(this.file, 'a', 0o640);
  }

  /**
   * Appends a supervisor note. It reaches the tail once read back from the file (`catchUp`), so
   * it lands in the tail where it landed in the file. After `close`, or when the file cannot be
   * written (full disk), it goes to the tail and followers directly.
   */
  note(text: string): Promise<void> {
    const line = `${new Date(this.#clock.now()).toISOString()} sup ${text}`;
    const writer = this.#writer;
    if (this.#closed || writer === undefined) {
      this.#push(line, true);
      return Promise.resolve();
    }
    this.#writes = this.#writes.then(async () => {
      try {
        // The app may be mid-line (it wrote no newline yet): start the note on a line of its own.
        const lead = (await this.#endsMidLine(writer)) ? '\n' : '';
        await writer.appendFile(`${lead}${line}\n`);
        void this.#read();
      } catch {
        this.#push(line, true);
      }
    });
    return this.#writes;
  }

  async #endsMidLine(writer: FileHandle): Promise<boolean> {
    const { size } = await writer.stat();
    if (size === 0) return false;
    const reader = this.#reader ?? writer;
    const byte = Buffer.alloc(1);
    const { bytesRead } = await reader.read(byte, 0, 1, size - 1);
    return bytesRead === 1 && byte[0] !== 0x0a;
  }

  /** Resolves once every note written so far and everything in the file up to now is in the tail. */
  async catchUp(): Promise<void> {
    await this.#writes;
    await this.#read();
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

  /** Reads what is left, emits a last unterminated line, stops following and closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.catchUp();
    if (this.#closed) return;
    this.#closed = true;
    this.#splitter.end();
    this.#unwatch();
    clearInterval(this.#timer);
    const handles = [this.#writer, this.#reader];
    this.#writer = undefined;
    this.#reader = undefined;
    await Promise.all(handles.map((h) => h?.close().catch(() => undefined)));
  }

  #push(line: string, deliver: boolean): void {
    this.#ring[this.#next] = line;
    this.#next = (this.#next + 1) % this.#ring.length;
    if (this.#count < this.#ring.length) this.#count += 1;
    if (deliver) this.#onLine(line);
  }

  async #prefill(size: number): Promise<void> {
    const reader = this.#reader;
    if (reader === undefined || size === 0) return;
    const start = Math.max(0, size - PREFILL_BYTES);
    const buffer = Buffer.allocUnsafe(size - start);
    const { bytesRead } = await reader.read(buffer, 0, buffer.length, start);
    const lines = buffer.subarray(0, bytesRead).toString('utf8').split('\n');
    // A cut first line is only part of a line; a trailing '' is the final newline.
    if (start > 0) lines.shift();
    if (lines.at(-1) === '') lines.pop();
    for (const line of lines.slice(-this.#ring.length)) this.#push(line.replace(/\r$/, ''), false);
  }

  /** Reads the file to its end, once at a time; a call during a read makes that read go round again. */
  #read(): Promise<void> {
    if (this.#reading !== undefined) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#readToEnd();
        } while (this.#again);
      } catch {
        // Closed under us, or the file vanished: the next poll (if any) tries again.
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  async #readToEnd(): Promise<void> {
    for (;;) {
      const reader = this.#reader;
      if (reader === undefined) return;
      const { bytesRead } = await reader.read(this.#buffer, 0, this.#buffer.length, this.#offset);
      if (bytesRead === 0) return;
      this.#offset += bytesRead;
      this.#splitter.push(this.#buffer.subarray(0, bytesRead));
    }
  }

  async #poll(): Promise<void> {
    const reader = this.#reader;
    if (reader === undefined) return;
    // Truncated by hand (`: > file`): start over from the top rather than wait for it to regrow.
    const size = await reader.stat().then(
      (s) => s.size,
      () => this.#offset,
    );
    if (size < this.#offset) this.#offset = 0;
    await this.#read();
    if (this.#rotation && size >= this.#rotation.maxBytes) await this.#rotate(this.#rotation);
  }

  /**
   * Copy, then truncate (logrotate's copytruncate): the app holds the file open in append mode
   * and keeps writing to it, so the file cannot be renamed away. Lines written between the copy
   * and the truncation are lost, a window of microseconds once per `maxBytes`.
   */
  #rotate(rotation: LogRotation): Promise<void> {
    this.#writes = this.#writes.then(async () => {
      if (this.#closed) return;
      try {
        if (rotation.files > 0) {
          for (let i = rotation.files - 1; i >= 1; i -= 1) {
            await rename(`${this.file}.${i}`, `${this.file}.${i + 1}`).catch(() => undefined);
          }
          await copyFile(this.file, `${this.file}.1`);
        }
        await this.#read(); // what came since the copy reaches the tail before the cut
        await truncate(this.file, 0);
        this.#offset = 0;
      } catch {
        // A full disk or a vanished file: try again at the next poll; the app is never touched.
      }
    });
    return this.#writes;
  }

  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
