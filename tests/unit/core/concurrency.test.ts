import { strict as assert } from "node:assert";
import { setTimeout as delay } from "node:timers/promises";
import { Limiter } from "../../../src/core/concurrency";

describe("Limiter", () => {
  for (const limit of [1, 3, 8]) {
    it(`never has more than ${limit} call(s) in flight, and runs every call once, in order of arrival`, async () => {
      const limiter = new Limiter(limit);
      let active = 0;
      let most = 0;
      const started: number[] = [];
      const call = (index: number) =>
        limiter.run(async () => {
          started.push(index);
          active++;
          most = Math.max(most, active);
          await delay(index % 3);
          active--;
          return index;
        });
      const first = Array.from({ length: 20 }, (_, index) => call(index));
      // Newcomers arriving while slots are being handed over must queue behind the waiters.
      await delay(1);
      const late = Array.from({ length: 10 }, (_, index) => call(20 + index));
      const results = await Promise.all([...first, ...late]);
      assert.deepEqual(results, Array.from({ length: 30 }, (_, index) => index));
      assert.deepEqual(started, Array.from({ length: 30 }, (_, index) => index));
      assert.ok(most <= limit, `${most} calls were in flight`);
      assert.equal(most, limit);
    });
  }

  it("frees the slot of a call that throws", async () => {
    const limiter = new Limiter(1);
    await assert.rejects(limiter.run(() => Promise.reject(new Error("boom"))), /boom/);
    assert.equal(await limiter.run(() => Promise.resolve("next")), "next");
  });

  it("never runs a queued call whose signal aborts, and keeps the queue's order for the rest", async () => {
    const limiter = new Limiter(1);
    let releaseFirst = () => {};
    const ran: string[] = [];
    const first = limiter.run(() => new Promise<void>((resolve) => { ran.push("first"); releaseFirst = resolve; }));
    const cancel = new AbortController();
    const cancelled = limiter.run(() => { ran.push("cancelled"); return Promise.resolve(); }, cancel.signal);
    const last = limiter.run(() => { ran.push("last"); return Promise.resolve(); });
    cancel.abort(new Error("cancelled"));
    await assert.rejects(cancelled, /cancelled/);
    releaseFirst();
    await Promise.all([first, last]);
    assert.deepEqual(ran, ["first", "last"]);
  });

  it("refuses a call whose signal is already aborted", async () => {
    await assert.rejects(new Limiter(2).run(() => Promise.resolve(), AbortSignal.abort(new Error("too late"))), /too late/);
  });
});
