// The one poll-until helper of the tests and benchmarks. Tests never sleep to wait for a condition
// (docs/conventions): they await an event or poll with a deadline, and this is the poll.
import { setTimeout as delay } from 'node:timers/promises';

/** What a check may answer: a value that is truthy ends the wait and is returned. */
type Answer<T> = T | false | null | undefined;

export interface WaitOptions {
  /** Give up after this long (default 5 s; e2e tests that run the CLI pass more). */
  readonly timeoutMs?: number;
  /**
   * The longest pause between two checks (default 50 ms). The first pause is 5 ms (or this, if
   * less) and doubles up to it: a condition a few milliseconds away is seen at once, and a slow one
   * (a CLI process per check) does not run the check in a tight loop. 0 checks back to back.
   */
  readonly intervalMs?: number;
}

/**
 * Calls `check` until it answers a truthy value, and returns that value; throws
 * `timed out waiting for <what>` once `timeoutMs` has passed. `what` may be a function, called only
 * on a timeout, to put the state that was last seen in the message. A number for `options` is the
 * timeout.
 */
export async function waitFor<T>(
  what: string | (() => string | Promise<string>),
  check: () => Answer<T> | Promise<Answer<T>>,
  options: WaitOptions | number = {},
): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 50 } =
    typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let pause = Math.min(5, intervalMs);
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : await what()}`);
    }
    if (pause > 0) await delay(pause);
    else await new Promise((resolve) => setImmediate(resolve));
    pause = Math.min(pause * 2, intervalMs);
  }
}
