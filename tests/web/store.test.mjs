// Unit tests of the app's store and timers (service/web/src/store.js, schedule.js):
// `node --test tests/web/` (run by `make test`).
import assert from "node:assert/strict";
import { test } from "node:test";
import { backoff, debounced } from "../../service/web/src/schedule.js";
import { createStore } from "../../service/web/src/store.js";

test("a store's listeners hear what changed, and nothing when nothing did", () => {
  const store = createStore({ stale: true, evaluatedKey: null, alert: null });
  const heard = [];
  const stop = store.subscribe((state, changed) => heard.push([[...changed].sort(), state.stale]));
  store.set({ stale: false, evaluatedKey: "k1" });
  store.set({ stale: false });
  store.set({ evaluatedKey: "k1" });
  assert.deepEqual(heard, [[["evaluatedKey", "stale"], false]]);
  assert.equal(store.get().evaluatedKey, "k1");
  assert.throws(() => {
    store.get().stale = true;
  }, TypeError);
  stop();
  store.set({ stale: true });
  assert.equal(heard.length, 1);
});

test("the decision is looked for after 2 s, then doubling waits up to a minute", () => {
  const waits = backoff(2000, 60000);
  const seen = Array.from({ length: 8 }, () => waits.next());
  assert.deepEqual(seen, [2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  waits.reset();
  assert.equal(waits.next(), 2000);
});

test("a burst of changes makes one run, after the last of them", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  let runs = 0;
  const later = debounced(() => runs++, 300);
  later.call();
  t.mock.timers.tick(200);
  later.call();
  t.mock.timers.tick(299);
  assert.equal(runs, 0);
  assert.ok(later.pending());
  t.mock.timers.tick(1);
  assert.equal(runs, 1);
  assert.ok(!later.pending());
  later.call();
  later.cancel();
  t.mock.timers.tick(1000);
  assert.equal(runs, 1);
});
