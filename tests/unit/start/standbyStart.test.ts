// AciAgentStart with standbyPool under sinon's fake timers: claims, tags, the key each container
// prints, registration with it, and the config map that completes the claim.
import { strict as assert } from "node:assert";
import * as sinon from "sinon";
import { AzureError } from "../../../src/azure/aci";
import { systemClock } from "../../../src/core/clock";
import { InputError } from "../../../src/core/errors";
import { armPacing } from "../../../src/run/armPacing";
import { OWN_TAGS } from "../../../src/run/tags";
import { printedPublicKey } from "../../../src/start/claim";
import { runStart, type StartResult } from "../../../src/start/runStart";
import { startSummary } from "../../../src/start/summary";
import { CallLog, FakePool, FakeStandbyAci } from "./fakeAzure";
import { configWith } from "./fixtures";
import { DevOpsError } from "../../../src/devops/client";

type Outcome = { ok: true; result: StartResult } | { ok: false; error: Error };

describe("runStart with standbyPool (fake timers)", function () {
  this.timeout(10_000);
  let clock: sinon.SinonFakeTimers;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: Date.parse("2026-03-01T12:00:00Z"), toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  });
  afterEach(() => {
    clock.restore();
  });

  function start(inputs: Record<string, string>, arrange: (aci: FakeStandbyAci, pool: FakePool) => void = () => {}) {
    const calls = new CallLog();
    const pool = new FakePool(calls);
    const aci = new FakeStandbyAci(calls, pool);
    arrange(aci, pool);
    const lines: string[] = [];
    const record = (message: string) => { lines.push(message); };
    let settled: Outcome | undefined;
    let keysMade = 0;
    const config = configWith({ standbyPool: "warm", ...inputs });
    void runStart(config, {
      aci,
      standby: aci,
      pools: pool,
      log: { info: record, warning: record, error: record, debug: () => {}, infoExternal: record, setProgress: () => {} },
      clock: systemClock,
      signal: new AbortController().signal,
      bootstrapScript: "#!/bin/sh\n",
      agentCredential: () => Promise.resolve({ kind: "token", token: "pat" }),
      makeKey: () => {
        keysMade++;
        return Promise.reject(new Error("a standby start makes no key"));
      },
      keepSecret: () => {},
    }).then(
      (result) => { settled = { ok: true, result }; },
      (error: unknown) => { settled = { ok: false, error: error as Error }; },
    );
    return { aci, pool, calls, lines, config, keysMade: () => keysMade, outcome: () => settled };
  }

  const names = (count: number) => Array.from({ length: count }, (_, i) => `azp-1234-1-${i + 1}`);

  function succeeded(outcome: Outcome | undefined): StartResult {
    assert.ok(outcome?.ok === true, outcome?.ok === false ? outcome.error.message : "not ended");
    return outcome.result;
  }

  function failed(outcome: Outcome | undefined): Error {
    assert.ok(outcome !== undefined, "runStart has not ended");
    assert.ok(!outcome.ok, "runStart succeeded");
    return outcome.error;
  }

  /**
   * The one request answered 429 (`throttledOp`) was sent again (`sentOp`) no sooner than
   * Retry-After, and the step said so in the words of `what`; answers the throttled agent's name.
   */
  function sentAgainAfterRetryAfter(started: ReturnType<typeof start>, throttledOp: string, sentOp: string, what: string, retryAfterMs: number): string {
    const [throttled] = started.calls.of(throttledOp);
    assert.ok(throttled?.name !== undefined, `no ${what} was answered 429`);
    const name = throttled.name;
    const sent = started.calls.of(sentOp).filter((c) => c.name === name);
    assert.equal(sent.length, 2);
    assert.ok((sent[1]?.at ?? 0) - throttled.at >= retryAfterMs, `the ${what} was sent again before Retry-After`);
    const said = started.lines.filter((l) => l.startsWith(`${name}: ARM refused the ${what} of container group ${name}`) && l.endsWith(`trying again in ${(retryAfterMs / 1000).toFixed(1)} s, as ARM asks`));
    assert.ok(said.length > 0, started.lines.join("\n"));
    return name;
  }

  it("claims 3 agents warm: claim, then tags and the key from the log with the registration, then the config map; warm in the result and summary", async () => {
    const started = start({ agentCount: "3" });
    await clock.tickAsync(15_000);
    const result = succeeded(started.outcome());
    assert.deepEqual(result.agents.map((a) => [a.name, a.warm]), names(3).map((n) => [n, true]));
    assert.equal(started.keysMade(), 0);
    for (const name of names(3)) {
      const order = started.calls.calls.filter((c) => c.name === name && ["claim", "tag", "logs", "configMap"].includes(c.op)).map((c) => c.op);
      // The key is read (and registered) while the claim's operation ends and the tags go on; the config map comes last.
      const steps = [...new Set(order)];
      assert.equal(steps[0], "claim", `${name}: ${order.join(",")}`);
      assert.deepEqual(steps.slice(1, 3).sort(), ["logs", "tag"], `${name}: ${order.join(",")}`);
      assert.equal(steps[3], "configMap", `${name}: ${order.join(",")}`);
      assert.equal(started.aci.tagged.get(name)?.[OWN_TAGS.agent], name);
      const claim = started.aci.claims.find((c) => c.name === name);
      assert.deepEqual(claim?.body, {
        location: "westeurope",
        properties: {
          standbyPoolProfile: { id: started.aci.poolInfo.id, failContainerGroupCreateOnReuseFailure: false },
          containerGroupProfile: { id: started.aci.poolInfo.profileId, revision: 1 },
          // The run's keys: the container knows from them that it is claimed; the agent's identity comes with the registration.
          containers: [{ name: "azp-agent", properties: { configMap: { keyValuePairs: { ACI_RUN_ID: "1234", ACI_FLEET: "azp-1234", once: "true", expiresAt: started.aci.tagged.get(name)?.[OWN_TAGS.expires] ?? "never" } } } }],
        },
      });
      const registered = started.pool.agents.get(name) as { authorization?: { publicKey?: { modulus: string } } } | undefined;
      assert.equal(registered?.authorization?.publicKey?.modulus, Buffer.from(`modulus of ${name}`).toString("base64"));
      const configMap = started.aci.configMaps.get(name) ?? {};
      // Learn's config-map update of a group made from a profile: the profile and the container's config map, not the pool.
      assert.deepEqual(started.aci.configMapBodies.get(name), {
        location: "westeurope",
        properties: { containerGroupProfile: { id: started.aci.poolInfo.profileId, revision: 1 }, containers: [{ name: "azp-agent", properties: { configMap: { keyValuePairs: configMap } } }] },
      });
      assert.deepEqual(Object.keys(configMap).sort(), ["ACI_FLEET", "ACI_RUN_ID", "agentId", "agentName", "authorizationUrl", "clientId", "expiresAt", "oauthEndpointUrl", "once", "poolId", "poolName", "serverUrl"]);
      assert.equal(configMap.agentName, name);
      // agentId, whose file tells the container that its claim is complete, comes last.
      assert.equal(Object.keys(configMap).at(-1), "agentId");
      assert.equal(configMap.ACI_FLEET, "azp-1234");
      assert.equal(configMap.once, "true");
    }
    assert.ok(started.lines.some((l) => /From standby pool 'warm': 3 warm .*, 0 fresh/.test(l)), started.lines.join("\n"));
    const summary = startSummary(started.config, result);
    assert.match(summary, /claimed from standby pool \*\*warm\*\*: 3 warm, 0 fresh/);
    assert.match(summary, /\| azp-1234-1-1 \| westeurope \| warm \|/);
  });

  it("20 agents: no MaxListenersExceededWarning in the step's log (each agent's waits listen to the step's signals at once)", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => { warnings.push(`${warning.name}: ${warning.message}`); };
    process.on("warning", onWarning);
    try {
      const started = start({ agentCount: "20" });
      await clock.tickAsync(30_000);
      assert.equal(succeeded(started.outcome()).agents.length, 20);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    assert.deepEqual(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning")), []);
  });

  it("reads the pool every 100 ms once a claimed container's config map is sent, until its agent is online", async () => {
    const started = start({ agentCount: "1" });
    await clock.tickAsync(15_000);
    const result = succeeded(started.outcome());
    const onlineAt = Date.parse("2026-03-01T12:00:00Z") + (result.agents[0]?.onlineAfterMs ?? Number.NaN);
    const sentAt = started.calls.of("configMap")[0]?.at ?? Number.NaN;
    const reads = started.calls.of("listAgents").map((c) => c.at);
    const before = reads.filter((at) => at < sentAt);
    const gapsBefore = before.slice(1).map((at, i) => at - (before[i] ?? 0)).filter((gap) => gap > 0);
    const after = reads.filter((at) => at > sentAt + 150 && at <= onlineAt);
    const gapsAfter = after.slice(1).map((at, i) => at - (after[i] ?? 0));
    assert.ok(gapsBefore.length > 0 && gapsBefore.every((gap) => gap >= 250), JSON.stringify(gapsBefore));
    assert.ok(gapsAfter.length > 5 && gapsAfter.every((gap) => gap <= 150), JSON.stringify(gapsAfter));
  });

  it("does not read a warm claimed group before the pacing's group read is due: its claim answered that it runs", async () => {
    const started = start({ agentCount: "3" }, (aci) => { aci.ready = 1; });
    await clock.tickAsync(30_000);
    const result = succeeded(started.outcome());
    const warm = result.agents.find((a) => a.warm === true)?.name;
    const fresh = result.agents.filter((a) => a.warm === false).map((a) => a.name);
    assert.ok(warm !== undefined && fresh.length === 2);
    const claimedAt = started.calls.of("claim").find((c) => c.name === warm)?.at ?? Number.NaN;
    const reads = started.calls.of("get").filter((c) => c.name === warm).map((c) => c.at - claimedAt);
    assert.ok(reads.every((after) => after >= armPacing(3).groupReadMs), `reads ${JSON.stringify(reads)} ms after the claim`);
    // A fresh group from the profile is followed as a created one is, from its first turn.
    for (const name of fresh) assert.ok(started.calls.of("get").some((c) => c.name === name), name);
  });

  it("falls back to fresh groups from the profile when the pool runs dry: 1 warm, 2 fresh, all online", async () => {
    const started = start({ agentCount: "3" }, (aci) => { aci.ready = 1; });
    await clock.tickAsync(30_000);
    const result = succeeded(started.outcome());
    assert.deepEqual(result.agents.map((a) => a.warm).sort(), [false, false, true]);
    assert.ok(started.lines.some((l) => /1 warm .*, 2 fresh/.test(l)), started.lines.join("\n"));
    assert.equal(started.calls.of("delete").length, 0);
  });

  it("a claimed group that never prints its key ends the step at timeoutMinutes, naming it, and is removed", async () => {
    const started = start({ agentCount: "3", timeoutMinutes: "2" }, (aci) => { aci.silent.add("azp-1234-1-2"); });
    await clock.tickAsync(3 * 60_000);
    const error = failed(started.outcome());
    assert.match(error.message, /azp-1234-1-2 to print its public key/);
    assert.match(error.message, /within 2 minute\(s\)/);
    assert.ok(started.calls.of("delete").some((c) => c.name === "azp-1234-1-2"));
    assert.deepEqual([...started.aci.groups.keys()], []);
    // Paced reads, not a busy loop: at most one read every 250 ms, at least one every 2 s.
    const reads = started.calls.of("logs").filter((c) => c.name === "azp-1234-1-2").length;
    assert.ok(reads >= 55 && reads <= 480, `${reads} log reads in 2 minutes`);
  });

  it("refuses a public key it already registered (an image with a baked-in key), and removes everything", async () => {
    const started = start({ agentCount: "2" }, (aci) => { aci.bakedInKey = true; });
    await clock.tickAsync(60_000);
    const error = failed(started.outcome());
    assert.match(error.message, /same public key as azp-1234-1-\d's, which this step already registered/);
    assert.match(error.message, /baked in/);
    assert.match(error.message, /^azp-1234-1-\d: its container printed/, "the agent named once");
    assert.deepEqual([...started.aci.groups.keys()], []);
    assert.deepEqual([...started.pool.agents.keys()], []);
  });

  it("refuses a pool that does not exist, naming standbyPool, before claiming anything", async () => {
    const started = start({ agentCount: "2" }, (aci) => { aci.poolExists = false; });
    await clock.tickAsync(10_000);
    const error = failed(started.outcome());
    assert.ok(error instanceof InputError, error.message);
    assert.match(error.message, /standbyPool: there is no standby pool 'warm'/);
    assert.equal(started.calls.of("claim").length, 0);
  });

  it("refuses a pool whose profile has no azp-agent container (ACI would drop each claim's config map), naming standbyPool, before claiming anything", async () => {
    const started = start({ agentCount: "2" }, (aci) => { aci.profileContainerNames = ["agent", "sidecar"]; });
    await clock.tickAsync(10_000);
    const error = failed(started.outcome());
    assert.ok(error instanceof InputError, error.message);
    assert.match(error.message, /standbyPool: the container group profile \S+ of standby pool 'warm' has no container named 'azp-agent' \(it has 'agent', 'sidecar'\)/);
    assert.equal(started.calls.of("claim").length, 0);
  });

  it("refuses a location other than the pool's region, naming location", async () => {
    const started = start({ agentCount: "1", location: "northeurope" });
    await clock.tickAsync(10_000);
    const error = failed(started.outcome());
    assert.match(error.message, /location: 'northeurope' is not the region of standby pool 'warm' \(westeurope\)/);
    assert.equal(started.calls.of("claim").length, 0);
  });

  it("checks the quota only for agents beyond the pool's ready capacity", async () => {
    // 2 ready, 5 agents: 3 fresh groups of 0.5 CPU (1 core each) must fit in what is left.
    const started = start({ agentCount: "5" }, (aci) => {
      aci.ready = 2;
      aci.quotas.set("westeurope", { StandardCores: 2 });
    });
    await clock.tickAsync(10_000);
    const error = failed(started.outcome());
    assert.ok(error instanceof InputError, error.message);
    assert.match(error.message, /agentCount: 3 agent\(s\) of 0\.5 CPU/);
    assert.equal(started.calls.of("claim").length, 0);
  });

  it("waits Retry-After when a claim is answered 429, then claims again, and every agent comes online", async () => {
    const started = start({ agentCount: "2" }, (aci) => {
      aci.throttledClaims = 1;
      aci.throttleRetryAfterMs = 30_000;
    });
    await clock.tickAsync(60_000);
    succeeded(started.outcome());
    const name = sentAgainAfterRetryAfter(started, "claimThrottled", "claim", "claim", 30_000);
    assert.ok(started.lines.some((l) => l.startsWith(`${name}: ARM refused the claim`) && l.includes("TooManyRequests: The request is being throttled.")), started.lines.join("\n"));
    assert.equal(started.calls.of("delete").length, 0);
  });

  it("a claim answered 429 with a Retry-After beyond timeoutMinutes ends the step at timeoutMinutes, naming the wait, and leaves nothing behind", async () => {
    const started = start({ agentCount: "2", timeoutMinutes: "1" }, (aci) => {
      aci.throttledClaims = 1;
      aci.throttleRetryAfterMs = 5 * 60_000;
    });
    await clock.tickAsync(59_000);
    assert.equal(started.outcome(), undefined, "the step ended before timeoutMinutes");
    await clock.tickAsync(15_000);
    const error = failed(started.outcome());
    assert.match(error.message, /did not come online within 1 minute\(s\)/);
    assert.match(error.message, /still waiting for ARM's rate limit: 300\.0 s before sending the claim of container group azp-1234-1-\d again/);
    assert.equal(started.calls.of("claimThrottled").length, 1);
    assert.deepEqual([...started.aci.groups.keys()], []);
    assert.deepEqual([...started.pool.agents.keys()], []);
  });

  it("waits Retry-After when the config map update is answered 429, then sends it again", async () => {
    const started = start({ agentCount: "1" }, (aci) => {
      aci.throttledConfigMaps = 1;
      aci.throttleRetryAfterMs = 20_000;
    });
    await clock.tickAsync(60_000);
    succeeded(started.outcome());
    assert.equal(sentAgainAfterRetryAfter(started, "configMapThrottled", "configMap", "config map update", 20_000), "azp-1234-1-1");
    assert.equal(started.aci.configMaps.get("azp-1234-1-1")?.agentName, "azp-1234-1-1");
  });

  it("waits Retry-After when the tags PATCH is answered 429, then sends it again, and every agent comes online tagged", async () => {
    const started = start({ agentCount: "2" }, (aci) => {
      aci.throttledTags = 1;
      aci.throttleRetryAfterMs = 90_000;
    });
    await clock.tickAsync(150_000);
    succeeded(started.outcome());
    const name = sentAgainAfterRetryAfter(started, "tagThrottled", "tag", "tags PATCH", 90_000);
    assert.equal(started.aci.tagged.get(name)?.[OWN_TAGS.agent], name);
  });

  it("a config map update that fails ends the step naming the agent, the update and ARM's answer, and leaves nothing behind", async () => {
    const started = start({ agentCount: "3" }, (aci) => {
      aci.configMapFailures.set("azp-1234-1-2", new AzureError("The property 'configMap' is invalid.", "InvalidConfigMap", 400));
    });
    await clock.tickAsync(60_000);
    const error = failed(started.outcome());
    assert.match(error.message, /^azp-1234-1-2: its config map update, which completes the claim, failed: InvalidConfigMap: The property 'configMap' is invalid\. Everything this step created was removed/);
    assert.deepEqual([...started.aci.groups.keys()], []);
    assert.deepEqual([...started.pool.agents.keys()], []);
  });

  it("a config map update whose operation ends Failed ends the step the same way", async () => {
    const started = start({ agentCount: "1" }, (aci) => {
      aci.configMapFailures.set("azp-1234-1-1", new AzureError("The config map update of container group azp-1234-1-1 ended failed", "Failed", undefined));
    });
    await clock.tickAsync(60_000);
    const error = failed(started.outcome());
    assert.match(error.message, /^azp-1234-1-1: its config map update, which completes the claim, failed: Failed: The config map update of container group azp-1234-1-1 ended failed\. Everything this step created was removed/);
    assert.deepEqual([...started.aci.groups.keys()], []);
    assert.deepEqual([...started.pool.agents.keys()], []);
  });
  it("sends the config map while the run's user capabilities are being set: the registration already carries them as system capabilities", async () => {
    const started = start({ agentCount: "3" }, (_aci, pool) => { pool.capabilitiesMs = 500; });
    await clock.tickAsync(15_000);
    assert.equal(succeeded(started.outcome()).agents.length, 3);
    for (const name of names(3)) {
      const registeredAt = started.calls.of("registered").find((c) => c.name === name)?.at ?? Number.NaN;
      const configMapAt = started.calls.of("configMap").find((c) => c.name === name)?.at ?? Number.NaN;
      const capabilitiesSetAt = started.calls.of("userCapabilitiesSet").find((c) => c.name === name)?.at ?? Number.NaN;
      assert.ok(configMapAt < capabilitiesSetAt, `${name}: config map sent ${configMapAt - registeredAt} ms after the registration, user capabilities set ${capabilitiesSetAt - registeredAt} ms after it`);
      assert.deepEqual(started.pool.userCapabilities.get(name), { ACI_RUN_ID: "1234", ACI_FLEET: "azp-1234" });
    }
  });

  it("user capabilities that cannot be set end the step naming the agent and Azure DevOps' answer, and leave nothing behind", async () => {
    const started = start({ agentCount: "2" }, (_aci, pool) => {
      pool.capabilitiesFailure = new DevOpsError("Azure DevOps answered 403: Access denied. Needs Manage permissions for pool aci.", 403, "AccessDeniedException");
    });
    await clock.tickAsync(60_000);
    const error = failed(started.outcome());
    assert.match(error.message, /^azp-1234-1-\d: Azure DevOps answered 403: Access denied\. Needs Manage permissions for pool aci\..*Everything this step created was removed/);
    assert.deepEqual([...started.aci.groups.keys()], []);
    assert.deepEqual([...started.pool.agents.keys()], []);
  });
});

describe("printedPublicKey: the key in a standby container's log", () => {
  const line = (exponent: string, modulus: string) => `aci-agent-public-key exponent=${exponent} modulus=${modulus}`;
  const cases: { name: string; log: string; key: { exponent: string; modulus: string } | undefined }[] = [
    { name: "one key line among others", log: `phase=prepare\n${line("AQAB", "first")}\nphase=claim-wait`, key: { exponent: "AQAB", modulus: "first" } },
    { name: "printed twice (the container started again in its pool): the last", log: `${line("AQAB", "old")}\nphase=start\n${line("AQAB", "new")}\n`, key: { exponent: "AQAB", modulus: "new" } },
    { name: "a line ended by CR LF", log: `${line("AQAB", "crlf")}\r\n`, key: { exponent: "AQAB", modulus: "crlf" } },
    { name: "no key line yet", log: "phase=prepare\n", key: undefined },
    { name: "the words inside another line", log: `note: ${line("AQAB", "quoted")}`, key: undefined },
  ];
  for (const { name, log, key } of cases) {
    it(name, () => {
      assert.deepEqual(printedPublicKey(log), key);
    });
  }
});
