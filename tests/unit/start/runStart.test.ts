import { strict as assert } from "node:assert";
import * as sinon from "sinon";
import { AzureError } from "../../../src/azure/aci";
import { systemClock } from "../../../src/core/clock";
import { DevOpsError } from "../../../src/devops/client";
import { InputError } from "../../../src/core/errors";
import { OWN_TAGS } from "../../../src/run/tags";
import type { AgentKey } from "../../../src/run/agentIdentity";
import { runStart, type StartResult } from "../../../src/start/runStart";
import { CallLog, FakeAci, FakePool } from "./fakeAzure";
import { configWith, TEST_KEY } from "./fixtures";

type Outcome = { ok: true; result: StartResult } | { ok: false; error: Error };

interface Started {
  aci: FakeAci;
  pool: FakePool;
  calls: CallLog;
  lines: string[];
  cancel(): void;
  /** Undefined until runStart settles. */
  outcome(): Outcome | undefined;
}

describe("runStart (fake timers)", function () {
  this.timeout(10_000);
  let clock: sinon.SinonFakeTimers;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: Date.parse("2026-03-01T12:00:00Z"), toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  });
  afterEach(() => {
    clock.restore();
  });

  function start(inputs: Record<string, string>, arrange: (aci: FakeAci, pool: FakePool) => void = () => {}, makeKey: () => Promise<AgentKey> = () => Promise.resolve(TEST_KEY)): Started {
    const calls = new CallLog();
    const pool = new FakePool(calls);
    const aci = new FakeAci(calls, pool);
    arrange(aci, pool);
    const lines: string[] = [];
    const record = (message: string) => { lines.push(message); };
    const cancellation = new AbortController();
    let settled: Outcome | undefined;
    void runStart(configWith(inputs), {
      aci,
      pools: pool,
      log: { info: record, warning: record, error: record, debug: () => {}, infoExternal: record, setProgress: () => {} },
      clock: systemClock,
      signal: cancellation.signal,
      bootstrapScript: "#!/bin/sh\n",
      agentCredential: () => Promise.resolve({ kind: "token", token: "pat" }),
      makeKey,
      keepSecret: () => {},
    }).then(
      (result) => { settled = { ok: true, result }; },
      (error: unknown) => { settled = { ok: false, error: error as Error }; },
    );
    return { aci, pool, calls, lines, cancel: () => { cancellation.abort(); }, outcome: () => settled };
  }

  function failure(started: Started): Error {
    const outcome = started.outcome();
    assert.ok(outcome !== undefined, "runStart has not ended");
    assert.ok(!outcome.ok, "runStart succeeded");
    return outcome.error;
  }

  const names = (count: number) => Array.from({ length: count }, (_, i) => `azp-1234-1-${i + 1}`);

  it("starts every agent and reports when each was provisioned and online", async () => {
    const started = start({ agentCount: "3" });
    await clock.tickAsync(12_000);
    const outcome = started.outcome();
    assert.ok(outcome?.ok === true, outcome?.ok === false ? outcome.error.message : "not ended");
    assert.deepEqual(outcome.result.agents.map((a) => a.name), names(3));
    assert.ok(outcome.result.agents.every((a) => a.provisionedAfterMs !== undefined && a.onlineAfterMs !== undefined));
    assert.equal(started.calls.of("delete").length, 0);
  });

  it("registers each agent with a key of its own before its group is created, pins it with user capabilities, and gives the container only the agent's files", async () => {
    let keysMade = 0;
    const started = start({ agentCount: "3" }, () => {}, () => {
      keysMade++;
      return Promise.resolve(TEST_KEY);
    });
    await clock.tickAsync(12_000);
    assert.ok(started.outcome()?.ok === true);
    assert.equal(keysMade, 3);
    for (const name of names(3)) {
      const registered = started.calls.calls.findIndex((c) => c.op === "registered" && c.name === name);
      const put = started.calls.calls.findIndex((c) => c.op === "put" && c.name === name);
      assert.ok(registered >= 0 && registered < put, `${name} was created before it was registered`);
      assert.deepEqual(started.pool.userCapabilities.get(name), { ACI_RUN_ID: "1234", ACI_FLEET: "azp-1234" });
      const spec = started.aci.specs.get(name);
      const environment = spec?.containers[0]?.environmentVariables ?? [];
      assert.deepEqual(environment.filter((v) => v.secureValue !== undefined).map((v) => v.name), [], "a secure value reached the container");
      assert.ok(!environment.some((v) => v.name === "AZP_TOKEN"));
      assert.deepEqual(Object.keys(spec?.volumes?.[0]?.secret ?? {}), ["agent", "credentials", "credentials_rsaparams"]);
      const agentFile = Buffer.from(spec?.volumes?.[0]?.secret?.agent ?? "", "base64").toString("utf8");
      assert.match(agentFile, new RegExp(`"agentName": "${name}"`));
    }
  });

  it("a start whose create fails after registration removes the registrations it made", async () => {
    const started = start({ agentCount: "2" }, (aci) => { aci.noCapacityIn.set("westeurope", "sync"); });
    await clock.tickAsync(10_000);
    assert.match(failure(started).message, /not available in the location/);
    assert.equal(started.calls.of("registered").length, 2, "the agents were registered");
    assert.deepEqual([...started.pool.agents.keys()], [], "a registration was left");
  });

  it("a cancel while registrations are on the wire leaves no registration once they are answered", async () => {
    const started = start({ agentCount: "2" }, (_aci, pool) => { pool.registerMs = 5_000; });
    await clock.tickAsync(1_000);
    assert.equal(started.calls.of("register").length, 2);
    started.cancel();
    await clock.tickAsync(100);
    assert.deepEqual(started.calls.of("delete").map((c) => c.name).sort(), names(2), "the group DELETEs waited for the registrations");
    await clock.tickAsync(5_000);
    assert.equal(started.calls.of("registered").length, 2);
    assert.deepEqual([...started.pool.agents.keys()], [], "a registration answered after the cancel was left");
    assert.match(failure(started).message, /cancelled/);
  });

  it("a cancel during creation removes the registrations at once, with the groups", async () => {
    const started = start({ agentCount: "2" }, (aci) => { aci.putMs = 5_000; });
    await clock.tickAsync(1_000);
    assert.equal(started.pool.agents.size, 2);
    const cancelledAt = Date.now();
    started.cancel();
    await clock.tickAsync(0);
    assert.deepEqual(started.calls.of("deleteAgent").filter((c) => c.at === cancelledAt).map((c) => c.name).sort(), names(2));
    await clock.tickAsync(6_000);
    assert.deepEqual([...started.pool.agents.keys()], []);
  });

  it("registers again when a retried registration finds its name taken by its own key (the first answer was lost)", async () => {
    const started = start({ agentCount: "1" }, (_aci, pool) => {
      // The first answer is lost: the agent is registered, but the step hears 409 on its retry.
      const register = pool.registerAgent.bind(pool);
      let first = true;
      pool.registerAgent = async (poolId, registration) => {
        if (!first) return register(poolId, registration);
        first = false;
        await register(poolId, registration);
        return register(poolId, registration);
      };
    });
    await clock.tickAsync(12_000);
    const outcome = started.outcome();
    assert.ok(outcome?.ok === true, outcome?.ok === false ? outcome.error.message : "not ended");
    assert.equal(started.pool.agents.size, 1);
    // Its own registration, whose answer was lost, was removed and made again.
    assert.equal(started.calls.of("deleteAgent").length, 1);
    assert.equal(started.calls.of("registered").length, 2);
  });

  it("leaves alone an agent of another step registered under a planned name meanwhile, and removes its own", async () => {
    const started = start({ agentCount: "2" }, (_aci, pool) => {
      const register = pool.registerAgent.bind(pool);
      pool.registerAgent = async (poolId, registration) => {
        if (registration.name === "azp-1234-1-2") {
          await register(poolId, { ...registration, authorization: { publicKey: { exponent: "AQAB", modulus: "b3RoZXI=" } } });
        }
        return register(poolId, registration);
      };
    });
    await clock.tickAsync(15_000);
    assert.match(failure(started).message, /^namePrefix: the agent azp-1234-1-2 is already registered in pool 'aci' by someone else/);
    assert.deepEqual([...started.pool.agents.keys()], ["azp-1234-1-2"], "the other step's agent was removed, or its own left");
    assert.equal(started.pool.agents.get("azp-1234-1-2")?.authorization?.publicKey?.modulus, "b3RoZXI=");
  });

  it("reads the pool gently until a group is provisioned, then every 250 ms until its agent is online", async () => {
    const started = start({ agentCount: "1" });
    await clock.tickAsync(12_000);
    const outcome = started.outcome();
    assert.ok(outcome?.ok === true, outcome?.ok === false ? outcome.error.message : "not ended");
    const [agent] = outcome.result.agents;
    const provisionedAt = agent?.provisionedAfterMs;
    const onlineAt = agent?.onlineAfterMs;
    assert.ok(provisionedAt !== undefined && onlineAt !== undefined);
    const startedAt = Date.parse("2026-03-01T12:00:00Z");
    // The first list is pre-flight's check that the planned names are not registered.
    const reads = started.calls.of("listAgents").slice(1).map((call) => call.at - startedAt);
    const gaps = reads.slice(1).map((at, i) => ({ at, gap: at - (reads[i] ?? 0) }));
    const beforeProvisioned = gaps.filter((g) => g.at < provisionedAt - 1000);
    // The gentle read under way when the group is provisioned (up to 1 s) ends first.
    const whileRegistering = gaps.filter((g) => g.at > provisionedAt + 1000);
    assert.ok(beforeProvisioned.length > 0 && beforeProvisioned.every((g) => g.gap >= 500), JSON.stringify(beforeProvisioned));
    assert.ok(whileRegistering.length > 0 && whileRegistering.every((g) => g.gap <= 300), JSON.stringify(whileRegistering));
    assert.ok(onlineAt - (reads.at(-1) ?? 0) <= 0, "the step noticed the agent at its last read");
  });

  it("reads the pool every 250 ms once an agent of the fleet is online, though the step has not seen the others' groups provisioned", async () => {
    // A prebuilt image's agent is online a second after its group is; a 50-agent fleet polls each
    // create every 6.7 s, so the step learns of a provisioned group seconds after its agent is up.
    const onlineAt = new Map<string, number>();
    const started = start({ agentCount: "50" }, (aci, pool) => {
      aci.provisionMs = 7000;
      aci.onlineMs = 1000;
      const bringOnline = pool.bringOnline.bind(pool);
      pool.bringOnline = (name) => {
        const late = name === "azp-1234-1-50" ? 2500 : 0;
        setTimeout(() => {
          onlineAt.set(name, Date.now());
          bringOnline(name);
        }, late);
      };
    });
    await clock.tickAsync(30_000);
    const outcome = started.outcome();
    assert.ok(outcome?.ok === true, outcome?.ok === false ? outcome.error.message : "not ended");
    const startedAt = Date.parse("2026-03-01T12:00:00Z");
    const last = outcome.result.agents.find((a) => a.name === "azp-1234-1-50");
    const cameOnline = onlineAt.get("azp-1234-1-50");
    assert.ok(last?.onlineAfterMs !== undefined && cameOnline !== undefined);
    const noticedAfter = startedAt + last.onlineAfterMs - cameOnline;
    assert.ok(noticedAfter >= 0 && noticedAfter <= 300, `the step noticed the last agent ${noticedAfter} ms after it came online`);
  });

  it("keeps a large fleet within ARM's read bucket: 50 agents poll each create every 6.7 s and read each group every 20 s", async () => {
    const started = start({ agentCount: "50", timeoutMinutes: "2" }, (aci) => { aci.container = { state: "Running" }; aci.onlineMs = 600_000; });
    await clock.tickAsync(61_000);
    assert.deepEqual(new Set(started.aci.pollIntervals), new Set([6_700]));
    const reads = started.calls.of("get").filter((c) => c.name === "azp-1234-1-1").map((c) => c.at);
    const gaps = reads.slice(1).map((at, i) => at - (reads[i] ?? at));
    assert.ok(gaps.length >= 2 && gaps.every((gap) => gap >= 20_000), `reads of one group ${gaps.join(", ")} ms apart`);
    started.cancel();
    await clock.tickAsync(5_000);
  });

  it("a single agent polls its create every 2 s and reads its group every 10 s", async () => {
    const started = start({ agentCount: "1", timeoutMinutes: "2" }, (aci) => { aci.container = { state: "Running" }; aci.onlineMs = 600_000; });
    await clock.tickAsync(41_000);
    assert.deepEqual(started.aci.pollIntervals, [2_000]);
    const reads = started.calls.of("get").filter((c) => c.name === "azp-1234-1-1").map((c) => c.at);
    const gaps = reads.slice(1).map((at, i) => at - (reads[i] ?? at));
    assert.ok(gaps.length >= 2 && gaps.every((gap) => gap >= 10_000 && gap < 11_000), `reads of one group ${gaps.join(", ")} ms apart`);
    started.cancel();
    await clock.tickAsync(5_000);
  });

  it("succeeds once every agent is online, while a create operation is still polling", async () => {
    const started = start({ agentCount: "3" }, (aci) => { aci.hangs.add("poll"); });
    await clock.tickAsync(12_000);
    const outcome = started.outcome();
    assert.ok(outcome?.ok === true, outcome?.ok === false ? outcome.error.message : "not ended with every agent online");
    assert.equal(started.calls.of("delete").length, 0);
  });

  it("ends at timeoutMinutes when the agents never come online, and removes every group", async () => {
    const started = start({ agentCount: "2", timeoutMinutes: "1" }, (aci) => { aci.container = { state: "Running" }; });
    await clock.tickAsync(59_000);
    assert.equal(started.outcome(), undefined);
    await clock.tickAsync(2_000);
    await clock.tickAsync(5_000);
    assert.match(failure(started).message, /2 of 2 agent\(s\) did not come online within 1 minute\(s\) \(timeoutMinutes\): azp-1234-1-1, azp-1234-1-2/);
    assert.deepEqual(started.calls.of("logs").map((c) => c.name), names(2), "the containers' logs were not shown");
    assert.equal(started.aci.groups.size, 0);
  });

  it("ends at timeoutMinutes when a read of a group hangs, names it, and removes every group", async () => {
    const started = start({ agentCount: "2", timeoutMinutes: "1" }, (aci) => {
      aci.container = { state: "Running" };
      aci.hangs.add("get");
    });
    await clock.tickAsync(61_000);
    // The log shown on failure gets 30 s, the deletes their time.
    await clock.tickAsync(35_000);
    const message = failure(started).message;
    assert.match(message, /timeoutMinutes/);
    assert.match(message, /still waiting for ARM to read container group azp-1234-1-1/);
    assert.equal(started.aci.groups.size, 0);
  });

  it("ends at timeoutMinutes when an Azure DevOps call hangs, names it, and has deleted every group by then", async () => {
    const started = start({ agentCount: "2", timeoutMinutes: "1" }, (_aci, pool) => { pool.hangs.add("listAgents"); });
    await clock.tickAsync(61_000);
    assert.equal(started.aci.groups.size, 0, "groups left after the timeout");
    await clock.tickAsync(16 * 60_000);
    const message = failure(started).message;
    assert.match(message, /timeoutMinutes/);
    assert.match(message, /still waiting for Azure DevOps to list the agents of pool 'aci'/);
  });

  it("ends at timeoutMinutes when the list of existing groups hangs in pre-flight, names it, and creates nothing", async () => {
    const started = start({ timeoutMinutes: "1" }, (aci) => { aci.hangs.add("list"); });
    await clock.tickAsync(60_000);
    assert.match(failure(started).message, /^timeoutMinutes \(1\) passed during pre-flight; still waiting for ARM to list the container groups of 'ci-agents'\. Nothing was created\.$/);
    assert.equal(started.calls.of("put").length, 0);
  });

  it("on cancel during pre-flight, sends a DELETE for every planned name at once and ends", async () => {
    const started = start({ agentCount: "3" }, (aci) => { aci.hangs.add("list"); });
    await clock.tickAsync(1_000);
    started.cancel();
    await clock.tickAsync(0);
    assert.deepEqual(started.calls.of("delete").map((c) => c.name).sort(), names(3));
    assert.match(failure(started).message, /cancelled during pre-flight, before anything was created/);
    assert.equal(started.calls.of("put").length, 0);
  });

  it("ends at timeoutMinutes when a create is never answered, names it, and deletes every name again once the PUT gives up", async () => {
    const started = start({ agentCount: "2", timeoutMinutes: "1" }, (aci) => { aci.hangs.add("put"); });
    await clock.tickAsync(60_000);
    await clock.tickAsync(1_000);
    const message = failure(started).message;
    assert.match(message, /2 of 2 agent\(s\) did not come online within 1 minute\(s\) \(timeoutMinutes\)/);
    assert.match(message, /still waiting for ARM to answer the create of container group azp-1234-1-1/);
    assert.equal(started.calls.of("delete").length, 4);
    assert.equal(started.aci.groups.size, 0);
  });

  it("fails, naming the create, when one PUT is never answered within its deadline", async () => {
    const started = start({ agentCount: "1" }, (aci) => { aci.hangs.add("put"); });
    await clock.tickAsync(61_000);
    assert.match(failure(started).message, /^azp-1234-1-1: ARM: create of container group azp-1234-1-1: no answer within 60 s\. Everything this step created was removed/);
  });

  it("judges a crash-looping long-lived agent dead at once, shows its log and removes it", async () => {
    const started = start({ agentCount: "1", ephemeral: "false", maxLifetimeMinutes: "0" }, (aci) => {
      aci.container = { state: "Waiting", restartCount: 2, previousState: { state: "Terminated", exitCode: 1 } };
    });
    await clock.tickAsync(30_000);
    assert.match(failure(started).message, /azp-1234-1-1: the container keeps exiting \(code 1, restarted 2 time\(s\)\)/);
    assert.equal(started.calls.of("logs").length, 1);
    assert.equal(started.aci.groups.size, 0);
  });

  it("on cancel during a region-fallback delete, sends a DELETE for every planned name at once and ends", async () => {
    const started = start({ agentCount: "3", fallbackLocations: "northeurope" }, (aci) => {
      aci.noCapacityIn.set("westeurope", "async");
      aci.hangs.add("deleteWait");
    });
    // Every create operation has failed for capacity, and each group's delete is under way.
    await clock.tickAsync(8_000);
    assert.equal(started.calls.of("delete").length, 3);
    assert.equal(started.outcome(), undefined);
    const cancelledAt = Date.now();
    started.cancel();
    await clock.tickAsync(100);
    const deletesAfterCancel = started.calls.of("delete").filter((c) => c.at >= cancelledAt);
    assert.deepEqual(deletesAfterCancel.map((c) => c.name).sort(), names(3));
    assert.ok(deletesAfterCancel.every((c) => c.at === cancelledAt), "a DELETE waited for something");
    assert.ok(!started.calls.calls.some((c) => c.at >= cancelledAt && c.op === "get"), "read a group before deleting it");
    await clock.tickAsync(1_000);
    assert.match(failure(started).message, /cancelled/);
  });

  it("deletes a group whose create is answered after the cancel's DELETE", async () => {
    const started = start({ agentCount: "2" }, (aci) => { aci.putMs = 5_000; });
    await clock.tickAsync(1_000);
    started.cancel();
    await clock.tickAsync(100);
    assert.deepEqual(started.calls.of("delete").map((c) => c.name).sort(), names(2), "the DELETEs waited for the creates");
    await clock.tickAsync(5_000);
    assert.equal(started.aci.groups.size, 0, "a group created after the cancel was left");
    assert.equal(started.calls.of("delete").length, 4);
    assert.match(failure(started).message, /cancelled/);
  });

  it("fails pre-flight, creating nothing, when the check that the names are free fails", async () => {
    const started = start({ agentCount: "2" }, (aci) => { aci.listFailure = new AzureError("Internal error", "InternalServerError", 500); });
    await clock.tickAsync(1_000);
    assert.match(failure(started).message, /could not check that the names azp-1234-1-1, azp-1234-1-2 are free/);
    assert.equal(started.calls.of("put").length, 0);
  });

  it("refuses a location or fallback location where ACI cannot create groups, naming each input, before creating anything", async () => {
    const started = start({ location: "mars", fallbackLocations: "northeurope, westeurop" });
    await clock.tickAsync(1_000);
    const error = failure(started);
    assert.ok(error instanceof InputError, error.message);
    assert.deepEqual(error.problems.map((p) => p.split(":")[0]), ["location", "fallbackLocations"]);
    assert.match(error.message, /'westeurop'/);
    assert.equal(started.calls.of("put").length, 0);
  });

  const unreachable: Record<string, Error> = {
    "nothing answers at organizationUrl": Object.assign(new Error("getaddrinfo ENOTFOUND dev.azure.invalid"), { name: "RestError", code: "ENOTFOUND" }),
    "organizationUrl answers 404": new DevOpsError("Azure DevOps answered 404: Not Found", 404),
  };
  for (const [name, error] of Object.entries(unreachable)) {
    it(`names organizationUrl when ${name}, before creating anything`, async () => {
      const started = start({}, (_aci, pool) => { pool.findPool = () => Promise.reject(error); });
      await clock.tickAsync(1_000);
      const refused = failure(started);
      assert.ok(refused instanceof InputError, refused.message);
      assert.match(refused.message, /^organizationUrl: https:\/\/dev\.azure\.com\/contoso does not answer as an Azure DevOps organization/);
      assert.equal(started.calls.of("put").length, 0);
    });
  }

  it("goes on with its own group when its create-only PUT is answered 412 (a retry of a PUT whose answer was lost)", async () => {
    const started = start({ agentCount: "2" }, (aci) => { aci.answerLostFor.add("azp-1234-1-2"); });
    await clock.tickAsync(20_000);
    const outcome = started.outcome();
    assert.ok(outcome?.ok === true, outcome?.ok === false ? outcome.error.message : "not ended");
    assert.ok(outcome.result.agents.every((a) => a.onlineAfterMs !== undefined));
    assert.equal(started.calls.of("delete").length, 0);
  });

  it("leaves alone a group another step created under a planned name meanwhile, and removes its own", async () => {
    const started = start({ agentCount: "2" }, (aci) => {
      // Created after pre-flight's name check: the create-only PUT is refused.
      setTimeout(() => {
        aci.othersGroups.set("azp-1234-1-2", { name: "azp-1234-1-2", location: "westeurope", provisioningState: "Succeeded", state: "Running", tags: { [OWN_TAGS.run]: "other" }, containers: [], events: [] });
      }, 1);
    });
    await clock.tickAsync(10_000);
    assert.match(failure(started).message, /namePrefix: the container group azp-1234-1-2 was created by another step/);
    assert.ok(started.calls.of("delete").some((c) => c.name === "azp-1234-1-1"));
    assert.ok(!started.calls.of("delete").some((c) => c.name === "azp-1234-1-2"), "deleted the other step's group");
    assert.equal(started.aci.groups.size, 0);
  });
  describe("quota: the plan from the usage, and creates refused for quota or rate", () => {
    /** westeurope with `left` of 10 StandardCores left (the rest used by another fleet). */
    const coresLeftInWesteurope = (aci: FakeAci, left: number) => {
      aci.quotas.set("westeurope", { StandardCores: 10 });
      aci.othersUsage.set("westeurope", { StandardCores: 10 - left });
    };
    const succeeded = (started: Started): StartResult => {
      const outcome = started.outcome();
      assert.ok(outcome?.ok === true, outcome?.ok === false ? outcome.error.message : "not ended");
      return outcome.result;
    };
    const locations = (result: StartResult) => Object.fromEntries(["westeurope", "northeurope"].map((r) => [r, result.agents.filter((a) => a.location === r).length]));

    it("reads the usage of location (the resource group's) and of each fallback region with the rest of pre-flight", async () => {
      const started = start({ fallbackLocations: "northeurope, eastus" }, (aci) => { aci.hangs.add("list"); });
      await clock.tickAsync(0);
      const startedAt = Date.parse("2026-03-01T12:00:00Z");
      assert.deepEqual(started.calls.of("usages").map((c) => `${c.name ?? ""}@${c.at - startedAt}`).sort(), ["eastus@0", "northeurope@0", "westeurope@0"]);
      started.cancel();
      await clock.tickAsync(1_000);
    });

    it("puts 8 agents of 2 CPU 3 in the first region (6 cores left) and 5 in the fallback, with no PUT refused, and logs and reports the plan", async () => {
      const started = start({ agentCount: "8", cpu: "2", fallbackLocations: "northeurope" }, (aci) => { coresLeftInWesteurope(aci, 6); });
      await clock.tickAsync(15_000);
      const result = succeeded(started);
      assert.deepEqual(locations(result), { westeurope: 3, northeurope: 5 });
      assert.deepEqual(result.agents.map((a) => a.location), [...Array<string>(3).fill("westeurope"), ...Array<string>(5).fill("northeurope")]);
      assert.equal(started.calls.of("putRefusedForQuota").length, 0, "a PUT was refused for quota");
      assert.equal(started.calls.of("put").length, 8);
      assert.ok(started.lines.includes("Plan: 3 agent(s) in westeurope (6 of 10 StandardCores left), 5 in northeurope (400 of 400 StandardCores left)."), started.lines.join("\n"));
      assert.deepEqual(result.plan?.regions.map((r) => [r.region, r.agents]), [["westeurope", 3], ["northeurope", 5]]);
    });

    it("fails the same start without a fallback before any write (no registration, no PUT), naming the numbers and the ways out", async () => {
      const started = start({ agentCount: "8", cpu: "2" }, (aci) => { coresLeftInWesteurope(aci, 6); });
      await clock.tickAsync(1_000);
      const error = failure(started);
      assert.ok(error instanceof InputError, error.message);
      assert.match(error.message, /^agentCount: 8 agent\(s\) of 2 CPU \(2 StandardCores each\) need 16 StandardCores and 8 ContainerGroups in all, but the subscription's Container Instances quota leaves room for 3 \(westeurope: 6 of 10 StandardCores and 100 of 100 ContainerGroups left, room for 3\); the other 5 need 10 StandardCores and 5 ContainerGroups more\./);
      assert.match(error.message, /fallbackLocations/);
      assert.match(error.message, /Quotas page/);
      assert.deepEqual(started.calls.calls.filter((c) => ["register", "put", "delete", "deleteAgent"].includes(c.op)), [], "something was written");
    });

    it("plans Spot agents by the Spot cores", async () => {
      const started = start({ agentCount: "3", cpu: "2", priority: "Spot", fallbackLocations: "northeurope" }, (aci) => {
        aci.quotas.set("westeurope", { StandardSpotCores: 4 });
      });
      await clock.tickAsync(15_000);
      assert.deepEqual(locations(succeeded(started)), { westeurope: 2, northeurope: 1 });
      assert.equal(started.calls.of("putRefusedForQuota").length, 0);
    });

    it("moves an agent whose PUT is refused for quota (another fleet took the room after pre-flight) to the next region, without a DELETE", async () => {
      const started = start({ agentCount: "8", cpu: "2", fallbackLocations: "northeurope" }, (aci) => {
        coresLeftInWesteurope(aci, 6);
        // After pre-flight read the usage, before the creates.
        setTimeout(() => { aci.othersUsage.set("westeurope", { StandardCores: 6 }); }, 50);
      });
      await clock.tickAsync(15_000);
      const result = succeeded(started);
      assert.deepEqual(locations(result), { westeurope: 2, northeurope: 6 });
      const refused = started.calls.of("putRefusedForQuota");
      assert.equal(refused.length, 1);
      const moved = refused[0]?.name ?? "";
      assert.equal(result.agents.find((a) => a.name === moved)?.location, "northeurope");
      assert.equal(started.calls.of("delete").length, 0, "deleted a group that a refused PUT never made");
      assert.ok(started.lines.some((l) => l.startsWith(`${moved}: the StandardCores quota of westeurope is used up (`) && l.endsWith("trying northeurope")), started.lines.join("\n"));
      assert.ok(!started.lines.some((l) => /no capacity/.test(l)));
    });

    it("fails naming the quota, not capacity, when the last region refuses for quota, and removes what it made", async () => {
      const started = start({ agentCount: "2", cpu: "2" }, (aci) => {
        coresLeftInWesteurope(aci, 4);
        setTimeout(() => { aci.othersUsage.set("westeurope", { StandardCores: 8 }); }, 50);
      });
      await clock.tickAsync(15_000);
      const message = failure(started).message;
      assert.match(message, /^azp-1234-1-2: the Container Instances quota 'StandardCores' is used up in westeurope \(another fleet took the room after pre-flight\?\): Resource type 'Microsoft\.ContainerInstance\/containerGroups' container group quota 'StandardCores' exceeded in region 'westeurope'\. Limit: '10', Usage: '10' Requested: '2'\. Lower agentCount or cpu/);
      assert.doesNotMatch(message, /capacity/);
      assert.equal(started.aci.groups.size, 0);
      assert.deepEqual([...started.pool.agents.keys()], []);
    });

    it("waits as ARM says after a create refused for the rate, then creates in the same region", async () => {
      const started = start({ agentCount: "2", fallbackLocations: "northeurope" }, (aci) => {
        aci.createRateRefusals = 1;
        aci.createRateRetryAfterMs = 30_000;
      });
      await clock.tickAsync(45_000);
      const result = succeeded(started);
      const [refused] = started.calls.of("putRefusedForRate");
      assert.ok(refused !== undefined);
      const puts = started.calls.of("put").filter((c) => c.name === refused.name);
      assert.equal(puts.length, 2);
      assert.ok((puts[1]?.at ?? 0) - (puts[0]?.at ?? 0) >= 30_000, "the create was sent again before Retry-After");
      assert.deepEqual(result.agents.map((a) => a.location), ["westeurope", "westeurope"]);
      assert.ok(started.lines.some((l) => l.startsWith(`${refused.name ?? ""}: ARM refused the create of container group ${refused.name ?? ""} in westeurope for its rate limits`) && l.endsWith("trying again in 30.0 s, as ARM asks")), started.lines.join("\n"));
    });

    it("ends at timeoutMinutes while ARM keeps refusing creates for the rate, naming the wait, and removes the registrations", async () => {
      const started = start({ agentCount: "1", timeoutMinutes: "1" }, (aci) => {
        aci.createRateRefusals = 1_000;
        aci.createRateRetryAfterMs = undefined;
      });
      await clock.tickAsync(61_000);
      await clock.tickAsync(5_000);
      const message = failure(started).message;
      assert.match(message, /did not come online within 1 minute\(s\)/);
      assert.match(message, /still waiting for ARM's rate limit: \d+\.\d s before sending the create of container group azp-1234-1-1 in westeurope again/);
      assert.ok(started.calls.of("put").length >= 3, "the create was not sent again");
      assert.deepEqual([...started.pool.agents.keys()], []);
    });

    it("warns once and creates as before when the identity may not read the usage", async () => {
      const started = start({ agentCount: "3", fallbackLocations: "northeurope" }, (aci) => {
        aci.usageFailure = new AzureError("The client 'x' does not have authorization to perform action 'Microsoft.ContainerInstance/locations/usages/read'", "AuthorizationFailed", 403);
        coresLeftInWesteurope(aci, 4);
      });
      await clock.tickAsync(15_000);
      const result = succeeded(started);
      const warnings = started.lines.filter((l) => /may not read the Container Instances usage/.test(l));
      assert.equal(warnings.length, 1, started.lines.join("\n"));
      assert.match(warnings[0] ?? "", /of westeurope, northeurope \(Microsoft\.ContainerInstance\/locations\/usages\/read\)/);
      assert.equal(result.plan, undefined);
      assert.ok(!started.lines.some((l) => l.startsWith("Plan:")));
      // As before: the first region until its quota refuses, then the next.
      assert.deepEqual(locations(result), { westeurope: 2, northeurope: 1 });
    });

    it("fails pre-flight, creating nothing, when the usage cannot be read for another reason", async () => {
      const started = start({ agentCount: "2" }, (aci) => { aci.usageFailure = new AzureError("Internal error", "InternalServerError", 500); });
      await clock.tickAsync(1_000);
      assert.match(failure(started).message, /^Pre-flight could not read the Container Instances usage of westeurope: InternalServerError: Internal error$/);
      assert.equal(started.calls.of("register").length, 0);
      assert.equal(started.calls.of("put").length, 0);
    });
  });
});
