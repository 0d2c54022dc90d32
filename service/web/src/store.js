// @ts-check
// A small store: the state is one frozen object, read with get(), changed with set(patch), and
// watched with subscribe(listener); a listener hears which keys changed. No DOM, no network.

/**
 * @template {object} S
 * @typedef {object} Store
 * @property {() => Readonly<S>} get
 * @property {(patch: Partial<S>) => void} set
 * @property {(listener: (state: Readonly<S>, changed: Set<keyof S>) => void) => () => void} subscribe
 */

/**
 * @template {object} S
 * @param {S} initial
 * @returns {Store<S>}
 */
export function createStore(initial) {
  /** @type {Readonly<S>} */
  let state = Object.freeze({ ...initial });
  /** @type {Set<(state: Readonly<S>, changed: Set<keyof S>) => void>} */
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      const keys = /** @type {(keyof S)[]} */ (Object.keys(patch));
      const changed = new Set(keys.filter((key) => !Object.is(patch[key], state[key])));
      if (!changed.size) return;
      state = Object.freeze({ ...state, ...patch });
      for (const listener of [...listeners]) listener(state, changed);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
