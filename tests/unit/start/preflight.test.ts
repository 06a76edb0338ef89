// Pre-flight's reads against services that each take one round trip to answer, ARM's after the
// sign-in's two (sinon's fake timers): a check waits only for the reads it needs, so the first
// create or claim is that many round trips in, not one per check.
import { strict as assert } from "node:assert";
import * as sinon from "sinon";
import { AzureError } from "../../../src/azure/aci";
import { InputError } from "../../../src/core/errors";
import { InFlight } from "../../../src/start/inFlight";
import { preflight } from "../../../src/start/preflight";
import { CallLog, FakeAci, FakePool, FakeStandbyAci } from "./fakeAzure";
import { configWith } from "./fixtures";

/** A round trip to ARM or Azure DevOps from a hosted agent: the unit of the table below. */
const roundTripMs = 100;

/** A call's abort signal, in either shape the services take: `{ signal }` or the signal itself. */
function signalIn(args: unknown[]): AbortSignal | undefined {
  for (const arg of args) {
    if (arg instanceof AbortSignal) return arg;
    const signal = (arg as { signal?: unknown } | undefined)?.signal;
    if (signal instanceof AbortSignal) return signal;
  }
  return undefined;
}

/**
 * The same object, with every method's answer one round trip late, after `ready` (ARM's sign-in);
 * meanwhile the call listens to its abort signal, as the SDK's requests do.
 */
function answeringAfterRoundTrip<T extends object>(service: T, ready: () => Promise<void> = () => Promise.resolve()): T {
  return new Proxy(service, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        new Promise((resolve, reject) => {
          const signal = signalIn(args);
          const onAbort = () => {};
          signal?.addEventListener("abort", onAbort);
          void ready().then(() =>
            setTimeout(() => {
              signal?.removeEventListener("abort", onAbort);
              (Promise.resolve(Reflect.apply(value, target, args)) as Promise<unknown>).then(resolve, reject);
            }, roundTripMs),
          );
        });
    },
  });
}

/** The fake of a standby start (timed makes one when the inputs name a standby pool). */
function standbyFake(aci: FakeAci): FakeStandbyAci {
  assert.ok(aci instanceof FakeStandbyAci);
  return aci;
}

/**
 * The service connection's sign-in, which ARM's first requests wait for together (the SDK shares
 * one token between them): Entra's metadata, then the token. Azure DevOps takes the pipeline's
 * token or a PAT and waits for none.
 */
function signingIn(): () => Promise<void> {
  let signedIn: Promise<void> | undefined;
  return () => (signedIn ??= new Promise((resolve) => setTimeout(resolve, 2 * roundTripMs)));
}

describe("preflight: round trips before the first create or claim", () => {
  let clock: sinon.SinonFakeTimers;

  let unhandled: unknown[];
  const noteUnhandled = (reason: unknown) => { unhandled.push(reason); };
  let warnings: string[];
  const noteWarning = (warning: Error) => { warnings.push(`${warning.name}: ${warning.message}`); };

  beforeEach(() => {
    unhandled = [];
    warnings = [];
    process.on("unhandledRejection", noteUnhandled);
    process.on("warning", noteWarning);
    clock = sinon.useFakeTimers({ now: Date.parse("2026-03-01T12:00:00Z"), toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    clock.restore();
    process.off("unhandledRejection", noteUnhandled);
    process.off("warning", noteWarning);
  });

  /** Runs pre-flight for `inputs` against slow fakes; the fake time it took, or its error. */
  async function timed(inputs: Record<string, string>, arrange: (aci: FakeAci, pool: FakePool) => void = () => {}): Promise<{ ms: number } | { error: Error }> {
    const calls = new CallLog();
    const pool = new FakePool(calls);
    const aci = inputs.standbyPool === undefined ? new FakeAci(calls, pool) : new FakeStandbyAci(calls, pool);
    arrange(aci, pool);
    const signal = new AbortController().signal;
    const started = Date.now();
    let outcome: { ms: number } | { error: Error } | undefined;
    const signIn = signingIn();
    const slowAci = answeringAfterRoundTrip(aci, signIn);
    preflight({
      config: configWith(inputs),
      services: { aci: slowAci, ...(aci instanceof FakeStandbyAci ? { standby: answeringAfterRoundTrip(aci, signIn) } : {}), pools: answeringAfterRoundTrip(pool), log: { warning: () => {} } },
      names: ["azp-1234-1-1", "azp-1234-1-2"],
      signal,
      inFlight: new InFlight(signal),
    }).then(
      () => { outcome = { ms: Date.now() - started }; },
      (error: unknown) => { outcome = { error: error as Error }; },
    );
    for (let turn = 0; outcome === undefined && turn < 20; turn++) await clock.tickAsync(roundTripMs);
    assert.ok(outcome !== undefined, "pre-flight did not end within 20 round trips");
    return outcome;
  }

  // Each case's longest chain of reads that depend on one another (the fake standby pool keeps three ready).
  const cases: { what: string; inputs: Record<string, string>; arrange?: (aci: FakeAci) => void; roundTrips: number; chain: string }[] = [
    { what: "a standby start", inputs: { standbyPool: "warm" }, roundTrips: 3, chain: "the sign-in, then the standby pool and the profile named like it at once" },
    {
      what: "a standby start from a pool given by resource id",
      inputs: { standbyPool: "/subscriptions/s/resourceGroups/pools/providers/Microsoft.StandbyPool/standbyContainerGroupPools/warm" },
      arrange: (aci) => {
        const pool = standbyFake(aci).poolInfo;
        pool.id = "/subscriptions/s/resourceGroups/pools/providers/Microsoft.StandbyPool/standbyContainerGroupPools/warm";
        pool.profileId = "/subscriptions/s/resourceGroups/pools/providers/Microsoft.ContainerInstance/containerGroupProfiles/warm";
      },
      roundTrips: 3,
      chain: "the sign-in, then the pool and the profile named like it beside it at once",
    },
    {
      what: "a standby start whose pool names a profile of another name",
      inputs: { standbyPool: "warm" },
      arrange: (aci) => { standbyFake(aci).poolInfo.profileId = "/subscriptions/s/resourceGroups/ci-agents/providers/Microsoft.ContainerInstance/containerGroupProfiles/agents"; },
      roundTrips: 4,
      chain: "the sign-in, then the standby pool, then the profile it names",
    },
    {
      what: "a standby start of more agents than the pool keeps ready",
      inputs: { standbyPool: "warm", agentCount: "2" },
      arrange: (aci) => { standbyFake(aci).ready = 1; },
      roundTrips: 4,
      chain: "the sign-in, then the standby pool, then its region's usage for the fresh groups",
    },
    { what: "a cold start without location", inputs: {}, roundTrips: 4, chain: "the sign-in, then the resource group, then its region's usage" },
    { what: "a cold start with location", inputs: { location: "westeurope" }, roundTrips: 3, chain: "the sign-in, then the region's usage" },
  ];
  for (const { what, inputs, arrange, roundTrips, chain } of cases) {
    it(`${what} is ready after ${roundTrips} round trips (${chain})`, async () => {
      const outcome = await timed(inputs, arrange);
      assert.ok("ms" in outcome, "error" in outcome ? outcome.error.message : "");
      assert.equal(outcome.ms, roundTrips * roundTripMs);
    });
  }

  it("does not wait for the profile named like the pool when the pool names another", async () => {
    const outcome = await timed({ standbyPool: "warm" }, (aci) => {
      const fake = standbyFake(aci);
      fake.poolInfo.profileId = "/subscriptions/s/resourceGroups/ci-agents/providers/Microsoft.ContainerInstance/containerGroupProfiles/agents";
      const read = fake.containerGroupProfile.bind(fake);
      fake.containerGroupProfile = (resourceGroup, nameOrId) => (nameOrId === "warm" ? new Promise(() => {}) : read(resourceGroup, nameOrId));
    });
    assert.ok("ms" in outcome, "error" in outcome ? outcome.error.message : "");
    assert.equal(outcome.ms, 4 * roundTripMs);
  });

  it("fails with the like-named profile's read when the pool names it, without reading it twice", async () => {
    let reads = 0;
    const outcome = await timed({ standbyPool: "warm" }, (aci) => {
      const fake = standbyFake(aci);
      fake.containerGroupProfile = () => {
        reads++;
        return Promise.reject(new AzureError("The server had an internal error.", "InternalServerError", 500));
      };
    });
    assert.ok("error" in outcome);
    assert.equal(outcome.error.message, "The server had an internal error.");
    assert.equal(reads, 1);
  });

  it("a standby start reads the usage of no region when the pool keeps every agent ready", async () => {
    const calls: string[] = [];
    await timed({ standbyPool: "warm" }, (aci) => {
      const usages = aci.usages.bind(aci);
      aci.usages = (location) => {
        calls.push(location);
        return usages(location);
      };
    });
    assert.deepEqual(calls, []);
  });

  it("lets all its reads listen to the step's signal at once: no leak warning in the user's log with three fallback regions", async () => {
    const outcome = await timed({ location: "westeurope", fallbackLocations: "northeurope,eastus,francecentral" }, (aci) => {
      aci.regions = ["westeurope", "northeurope", "eastus", "francecentral"];
    });
    assert.ok("ms" in outcome, "error" in outcome ? outcome.error.message : "");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  });

  it("still reports a name taken in the resource group, not the pool's permissions, when both are wrong", async () => {
    const outcome = await timed({ location: "westeurope" }, (aci, pool) => {
      aci.othersGroups.set("azp-1234-1-1", { name: "azp-1234-1-1", location: "westeurope", provisioningState: "Succeeded", state: "Running", tags: {}, containers: [], events: [] });
      pool.canManagePool = () => Promise.resolve(false);
    });
    assert.ok("error" in outcome);
    assert.ok(outcome.error instanceof InputError);
    assert.match(outcome.error.message, /namePrefix: azp-1234-1-1 already exists/);
    assert.doesNotMatch(outcome.error.message, /Administrator role/);
  });

  it("reports a name taken in the resource group when the permission check fails too, leaving no rejection unhandled", async () => {
    const outcome = await timed({ standbyPool: "warm" }, (aci, pool) => {
      aci.othersGroups.set("azp-1234-1-2", { name: "azp-1234-1-2", location: "westeurope", provisioningState: "Succeeded", state: "Running", tags: {}, containers: [], events: [] });
      pool.canManagePool = () => Promise.reject(new Error("Azure DevOps answered 500"));
    });
    assert.ok("error" in outcome);
    assert.match(outcome.error.message, /namePrefix: azp-1234-1-2 already exists/);
    await clock.tickAsync(roundTripMs);
    // Node reports a rejection no one handled once the microtasks it came from have run.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  });

  it("fails with the permission check's error when nothing else is wrong", async () => {
    const outcome = await timed({ standbyPool: "warm" }, (_aci, pool) => {
      pool.canManagePool = () => Promise.reject(new Error("Azure DevOps answered 500"));
    });
    assert.ok("error" in outcome);
    assert.equal(outcome.error.message, "Azure DevOps answered 500");
  });
});
