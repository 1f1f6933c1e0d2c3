// A call the server may send again after a lost link (ADR 0019): a `once` message (a slot start, a
// release's test) repeated with the same key gets the answer of the first, or waits for it while
// it runs, instead of acting twice.

const KEEP = 256;
const KEEP_MS = 10 * 60_000;

export class OnceAnswers {
  #answers = new Map<string, { at: number; answer: Promise<unknown> }>();
  #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The answer of the call with this key: remembered (a failure is not: a repeat tries again), or run now. */
  run<T>(key: string, call: () => Promise<T>): Promise<T> {
    const now = this.#now();
    const known = this.#answers.get(key);
    if (known && now - known.at < KEEP_MS) return known.answer as Promise<T>;
    const answer = call();
    this.#answers.set(key, { at: now, answer });
    answer.catch(() => {
      if (this.#answers.get(key)?.answer === answer) this.#answers.delete(key);
    });
    // Oldest first (insertion order): the last 256 stay.
    for (const oldKey of this.#answers.keys()) {
      if (this.#answers.size <= KEEP) break;
      this.#answers.delete(oldKey);
    }
    return answer;
  }

  /**
   * Forgets the answers whose key starts with `prefix`: a later call changed what they answered (a
   * slot stopped since its start), so the same key again is a new call, not a replay.
   */
  forget(prefix: string): void {
    for (const key of [...this.#answers.keys()]) if (key.startsWith(prefix)) this.#answers.delete(key);
  }
}
