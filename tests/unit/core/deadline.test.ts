import { strict as assert } from "node:assert";
import * as sinon from "sinon";
import { RequestTimeout, withDeadline } from "../../../src/core/deadline";

describe("withDeadline (fake timers)", () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => { clock = sinon.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] }); });
  afterEach(() => { clock.restore(); });

  /** A call that never answers and ignores its signal, like a token request that does not take one. */
  const neverAnswers = () => new Promise<string>(() => {});

  async function outcomeAfter(ms: number, call: Promise<string>): Promise<string | Error | undefined> {
    let outcome: string | Error | undefined;
    call.then((value) => { outcome = value; }, (error: unknown) => { outcome = error as Error; });
    await clock.tickAsync(ms);
    return outcome;
  }

  it("releases the caller of a hung call at its deadline with a RequestTimeout naming the call", async () => {
    const call = withDeadline("ARM: GET of container group azp-1", 60_000, undefined, neverAnswers);
    assert.equal(await outcomeAfter(59_999, call), undefined);
    const outcome = await outcomeAfter(1, call);
    assert.ok(outcome instanceof RequestTimeout);
    assert.equal(outcome.message, "ARM: GET of container group azp-1: no answer within 60 s");
  });

  it("aborts the call's own signal at the deadline", async () => {
    let seen: AbortSignal | undefined;
    const call = withDeadline("x", 1_000, undefined, (signal) => { seen = signal; return neverAnswers(); });
    await outcomeAfter(1_000, call);
    assert.ok(seen?.aborted === true && seen.reason instanceof RequestTimeout);
  });

  it("ends at once, with the outer reason, when the step's signal aborts first", async () => {
    const step = new AbortController();
    const call = withDeadline("x", 60_000, step.signal, neverAnswers);
    assert.equal(await outcomeAfter(10, call), undefined);
    step.abort(new Error("cancelled"));
    const outcome = await outcomeAfter(0, call);
    assert.ok(outcome instanceof Error);
    assert.equal(outcome.message, "cancelled");
  });

  it("ends at once with the outer reason when the step's signal aborted before the call, and leaves the call's own failure to no one", async () => {
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => { unhandled.push(reason); };
    process.on("unhandledRejection", note);
    try {
      const step = new AbortController();
      step.abort(new Error("cancelled"));
      // As the SDK's request does: it rejects as soon as it sees its signal aborted.
      const call = withDeadline("x", 60_000, step.signal, (signal) => Promise.reject(signal.reason as Error));
      const outcome = await outcomeAfter(0, call);
      assert.ok(outcome instanceof Error);
      assert.equal(outcome.message, "cancelled");
      // Node reports a rejection no one handled once the microtasks it came from have run (setImmediate is not faked).
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", note);
    }
  });

  it("passes an answer through and leaves no timer behind", async () => {
    assert.equal(await outcomeAfter(0, withDeadline("x", 60_000, undefined, () => Promise.resolve("ok"))), "ok");
    assert.equal(clock.countTimers(), 0);
  });
});
