// @ts-check
// Timers that run only while there is something to do: a debounce (one run after the last of a
// burst of calls) and a backoff (waits that double up to a longest). No DOM, no network.

/**
 * `run` once, `waitMs` after the last call of a burst; `cancel()` drops a run not yet made,
 * `pending()` says whether one is waiting.
 * @param {() => void} run
 * @param {number} waitMs
 */
export function debounced(run, waitMs) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  const cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  const call = () => {
    cancel();
    timer = setTimeout(() => {
      timer = null;
      run();
    }, waitMs);
  };
  return { call, cancel, pending: () => timer !== null };
}

/**
 * The waits between looks: `firstMs`, then doubling, never above `longestMs`.
 * @param {number} firstMs
 * @param {number} longestMs
 */
export function backoff(firstMs, longestMs) {
  let wait = firstMs;
  return {
    next() {
      const now = wait;
      wait = Math.min(wait * 2, longestMs);
      return now;
    },
    reset() {
      wait = firstMs;
    },
  };
}
