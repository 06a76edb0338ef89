// AciAgentStandbyPool's core: its inputs, the profile and pool it puts, the profile hash, and
// apply/delete over a fake ARM.
import { strict as assert } from "node:assert";
import type { ArmResource, StandbyArmApi } from "../../../src/azure/standby";
import { parseStandbyInputs, type StandbyConfig } from "../../../src/standby/inputs";
import { STANDBY_CONTAINER } from "../../../src/run/names";
import { PROFILE_HASH_TAG, canonicalJson, poolBody, profileBody } from "../../../src/standby/resources";
import { runStandby, type ApplyResult, type DeleteResult } from "../../../src/standby/runStandby";
import { standbyTemplateFor } from "../../../src/standby/armTemplate";
import { inputProblems, parserWith } from "../fixtures";
import { systemClock } from "../../../src/core/clock";
import { providerRoleAssignments, StandbyPoolNotReady } from "../../../src/standby/readiness";
import * as sinon from "sinon";

const PAT = "pat-standby-secret";
const SUBNET = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/agents";
const IDENTITY = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/net/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pull";
const configWith = parserWith(parseStandbyInputs, { azureSubscription: "arm", resourceGroup: "ci-agents", standbyPool: "warm", registrationToken: PAT });
const PACKAGES = {
  glibc: { platform: "linux-x64", version: "4.260.0", downloadUrl: "https://download.agent.dev.azure.com/agent/4.260.0/vsts-agent-linux-x64-4.260.0.tar.gz", hashValue: "ab".repeat(32), filename: undefined },
  musl: undefined,
};

describe("AciAgentStandbyPool inputs", function () {
  it("defaults: apply, one ready agent, the default image in bootstrap mode, 2 cores and 4 GB", function () {
    const config = configWith();
    assert.equal(config.action, "apply");
    assert.equal(config.readyCapacity, 1);
    assert.equal(config.imageMode, "bootstrap");
    assert.equal(config.image, "mcr.microsoft.com/dotnet/runtime-deps:8.0");
    assert.deepEqual([config.cpu, config.memoryGB], [2, 4]);
    assert.equal(config.organizationUrl, "https://dev.azure.com/contoso");
  });

  it("takes readyCapacity 0 to 2000 and refuses more", function () {
    assert.equal(configWith({ readyCapacity: "0" }).readyCapacity, 0);
    assert.equal(configWith({ readyCapacity: "2000" }).readyCapacity, 2000);
    assert.match(inputProblems(configWith, { readyCapacity: "2001" }).join("\n"), /^readyCapacity:/m);
  });

  it("names every bad input at once", function () {
    const problems = inputProblems(configWith, { standbyPool: "no_underscores", action: "recreate", cpu: "9", registrationToken: "" }).join("\n");
    for (const input of ["standbyPool", "action", "cpu", "registrationToken"]) assert.match(problems, new RegExp(`^${input}:`, "m"));
  });

  it("refuses identities: a container group profile has none", function () {
    assert.match(inputProblems(configWith, { identity: "SystemAssigned" }).join("\n"), /^identity: a container group profile has no managed identity/m);
    assert.match(inputProblems(configWith, { registryServer: "contoso.azurecr.io", registryIdentity: IDENTITY }).join("\n"), /^registryIdentity:/m);
  });

  it("needs an image of its own in prebuilt mode", function () {
    assert.match(inputProblems(configWith, { imageMode: "prebuilt" }).join("\n"), /^image: required when imageMode is prebuilt/m);
  });
});

describe("the standby profile and pool", function () {
  const config = configWith({ startupScript: "apt-get install -y jq", environmentVariables: "TOOLS=jq", registryServer: "contoso.azurecr.io", registryUsername: "u", registryPassword: "registry-secret", subnetIds: SUBNET });

  it("one container azp-agent in standby mode, with the feed's package, never restarted", function () {
    const body = profileBody(config, "westeurope", PACKAGES, "echo bootstrap");
    assert.equal(body.properties.restartPolicy, "Never");
    const [container] = body.properties.containers;
    assert.ok(container !== undefined);
    assert.equal(container.name, STANDBY_CONTAINER);
    const env = Object.fromEntries(container.properties.environmentVariables.map((v) => [v.name, v.value ?? `secure:${v.secureValue ?? ""}`]));
    assert.deepEqual(env, {
      AZP_STANDBY: "true",
      AZP_CONTAINER_NAME: "azp-agent",
      AZP_AGENT_PACKAGE_URL: PACKAGES.glibc.downloadUrl,
      AZP_AGENT_PACKAGE_SHA256: PACKAGES.glibc.hashValue,
      AZP_WORK: "_work",
      AZP_STARTUP_SCRIPT: "secure:apt-get install -y jq",
      TOOLS: "jq",
    });
    assert.equal(container.properties.command?.at(-1), "echo bootstrap");
    assert.deepEqual(container.properties.resources, { requests: { cpu: 2, memoryInGB: 4 } });
    assert.deepEqual(body.properties.imageRegistryCredentials, [{ server: "contoso.azurecr.io", username: "u", password: "registry-secret" }]);
    assert.equal("subnetIds" in body.properties, false);
  });

  it("prebuilt mode sends no command", function () {
    const body = profileBody(configWith({ imageMode: "prebuilt", image: "contoso.azurecr.io/agent:1" }), "westeurope", PACKAGES, "echo bootstrap");
    assert.equal(body.properties.containers[0]?.properties.command, undefined);
  });

  it("the pool: refill always, the profile's revision, the subnets", function () {
    assert.deepEqual(poolBody(config, "westeurope", { id: "/p", revision: 3 }), {
      location: "westeurope",
      properties: {
        elasticityProfile: { maxReadyCapacity: 1, refillPolicy: "always" },
        containerGroupProperties: { containerGroupProfile: { id: "/p", revision: 3 }, subnetIds: [{ id: SUBNET }] },
      },
    });
  });

  it("the hash tag is a sha256 that changes with any input, a secure one included, and not with key order", function () {
    const hashOf = (c: StandbyConfig) => profileBody(c, "westeurope", PACKAGES, "echo").tags[PROFILE_HASH_TAG] ?? "";
    const base = hashOf(config);
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(hashOf(config), base);
    assert.notEqual(hashOf({ ...config, startupScript: "apt-get install -y yq" }), base);
    assert.notEqual(hashOf({ ...config, registry: { kind: "password", server: "contoso.azurecr.io", username: "u", password: "other" } }), base);
    assert.notEqual(hashOf({ ...config, cpu: 1 }), base);
    // subnetIds and readyCapacity are the pool's: changing them must not drain it through the profile.
    assert.equal(hashOf({ ...config, subnetIds: [], readyCapacity: 9 }), base);
    assert.ok(!JSON.stringify(profileBody(config, "westeurope", PACKAGES, "echo").tags).includes("registry-secret"));
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), canonicalJson({ a: [{ c: 3, d: 2 }], b: 1 }));
  });

  it("the dry run's template holds parameters, not the secrets", function () {
    const { template, parameterNames } = standbyTemplateFor(config, "echo", "note");
    const text = JSON.stringify(template);
    assert.ok(!text.includes("registry-secret") && !text.includes("apt-get install"), text);
    assert.deepEqual(parameterNames, ["agentPackageUrl", "agentPackageSha256", "startupScript", "registryPassword"]);
  });
});

/** A pool's runtime view as the standby pool provider answers it (SP-2026-04-01). */
function runtimeView(counts: Record<string, number>, degraded?: string): ArmResource {
  return {
    properties: {
      instanceCountSummary: [{ instanceCountsByState: Object.entries(counts).map(([state, count]) => ({ state, count })) }],
      status: degraded === undefined ? { code: "HealthState/healthy", message: "The pool is healthy." } : { code: "HealthState/degraded", message: degraded },
    },
  };
}

/** ARM's profiles and pools in memory: a PUT of a profile raises its revision when its properties change. */
class FakeArm implements StandbyArmApi {
  readonly subscriptionId = "11111111-2222-3333-4444-555555555555";
  readonly resources = new Map<string, ArmResource>();
  readonly calls: string[] = [];

  /** The runtime views the pool shows, one per read (the last one stays); by default one instance running. */
  views: ArmResource[] = [runtimeView({ Running: 1 })];

  get(id: string): Promise<ArmResource | undefined> {
    this.calls.push(`GET ${id.split("/").at(-2) ?? ""}`);
    if (id.endsWith("/runtimeViews/latest")) return Promise.resolve(this.views.length > 1 ? this.views.shift() : this.views[0]);
    return Promise.resolve(this.resources.get(id.toLowerCase()));
  }

  put(id: string, _apiVersion: string, body: unknown): Promise<ArmResource> {
    this.calls.push(`PUT ${id.split("/").at(-2) ?? ""}`);
    const given = body as ArmResource;
    const old = this.resources.get(id.toLowerCase());
    const isProfile = id.includes("containerGroupProfiles");
    const oldRevision = (old?.properties?.revision as number | undefined) ?? 0;
    const changed = JSON.stringify({ ...old?.properties, revision: undefined }) !== JSON.stringify({ ...given.properties, revision: undefined });
    const stored: ArmResource = { ...given, id, properties: { ...given.properties, ...(isProfile ? { revision: changed ? oldRevision + 1 : oldRevision } : {}) } };
    this.resources.set(id.toLowerCase(), stored);
    return Promise.resolve(stored);
  }

  delete(id: string): Promise<boolean> {
    this.calls.push(`DELETE ${id.split("/").at(-2) ?? ""}`);
    return Promise.resolve(this.resources.delete(id.toLowerCase()));
  }
}

describe("apply and delete", function () {
  const deps = (arm: FakeArm) => ({
    arm,
    resourceGroupLocation: () => Promise.resolve("westeurope"),
    packages: () => Promise.resolve(PACKAGES),
    bootstrapScript: "echo",
    log: { info: () => undefined },
    clock: systemClock,
    signal: new AbortController().signal,
  });

  it("creates the profile, then the pool on its revision; again, puts nothing", async function () {
    const arm = new FakeArm();
    const first = (await runStandby(configWith({ readyCapacity: "2" }), deps(arm))) as ApplyResult;
    assert.deepEqual([first.profileChanged, first.poolChanged, first.revision], [true, true, 1]);
    assert.deepEqual(arm.calls, ["GET containerGroupProfiles", "PUT containerGroupProfiles", "GET standbyContainerGroupPools", "PUT standbyContainerGroupPools", "GET runtimeViews"]);
    arm.calls.splice(0);
    const again = (await runStandby(configWith({ readyCapacity: "2" }), deps(arm))) as ApplyResult;
    assert.deepEqual([again.profileChanged, again.poolChanged, again.revision], [false, false, 1]);
    assert.deepEqual(arm.calls.filter((c) => c.startsWith("PUT")), []);
  });

  it("a new capacity puts only the pool; a new container input puts the profile and moves the pool to its revision", async function () {
    const arm = new FakeArm();
    await runStandby(configWith(), deps(arm));
    arm.calls.splice(0);
    const capacity = (await runStandby(configWith({ readyCapacity: "5" }), deps(arm))) as ApplyResult;
    assert.deepEqual(arm.calls.filter((c) => c.startsWith("PUT")), ["PUT standbyContainerGroupPools"]);
    assert.equal(capacity.revision, 1);
    const image = (await runStandby(configWith({ readyCapacity: "5", memoryGB: "8" }), deps(arm))) as ApplyResult;
    assert.equal(image.revision, 2);
    const pool = arm.resources.get(image.poolId.toLowerCase()) as { properties: { containerGroupProperties: { containerGroupProfile: { revision: number } } } };
    assert.equal(pool.properties.containerGroupProperties.containerGroupProfile.revision, 2);
  });

  it("an existing profile without the hash tag (made by hand) is put again", async function () {
    const arm = new FakeArm();
    const first = (await runStandby(configWith(), deps(arm))) as ApplyResult;
    const profile = arm.resources.get(first.profileId.toLowerCase()) as ArmResource;
    arm.resources.set(first.profileId.toLowerCase(), { ...profile, tags: {} });
    const again = (await runStandby(configWith(), deps(arm))) as ApplyResult;
    assert.equal(again.profileChanged, true);
  });

  it("delete removes the pool, then the profile; what is gone counts as removed", async function () {
    const arm = new FakeArm();
    await runStandby(configWith(), deps(arm));
    arm.calls.splice(0);
    const removed = (await runStandby(configWith({ action: "delete" }), deps(arm))) as DeleteResult;
    assert.deepEqual(arm.calls, ["DELETE standbyContainerGroupPools", "DELETE containerGroupProfiles"]);
    assert.deepEqual([removed.poolRemoved, removed.profileRemoved], [true, true]);
    const again = (await runStandby(configWith({ action: "delete" }), deps(arm))) as DeleteResult;
    assert.deepEqual([again.poolRemoved, again.profileRemoved], [false, false]);
  });
});

describe("apply waits for the pool's first running instance (fake timers)", function () {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: Date.parse("2026-03-01T12:00:00Z"), toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    clock.restore();
  });

  const SUBSCRIPTION = "11111111-2222-3333-4444-555555555555";
  const GROUP_SCOPE = `/subscriptions/${SUBSCRIPTION}/resourceGroups/ci-agents`;
  const AUTHORIZATION_FAILED = `AuthorizationFailed: The client 'd4398a72-b879-49e5-9f3a-ff22c32efb42' with object id '5b1d' does not have authorization to perform action 'Microsoft.ContainerInstance/containerGroups/write' over scope '${GROUP_SCOPE}/providers/Microsoft.ContainerInstance/containerGroups'`;

  function apply(arm: FakeArm, inputs: Record<string, string> = {}) {
    const lines: string[] = [];
    let settled: { ok: true; result: ApplyResult } | { ok: false; error: Error } | undefined;
    void runStandby(configWith(inputs), {
      arm,
      resourceGroupLocation: () => Promise.resolve("westeurope"),
      packages: () => Promise.resolve(PACKAGES),
      bootstrapScript: "echo",
      log: { info: (line: string) => { lines.push(line); } },
      clock: systemClock,
      signal: new AbortController().signal,
    }).then(
      (result) => { settled = { ok: true, result: result as ApplyResult }; },
      (error: unknown) => { settled = { ok: false, error: error as Error }; },
    );
    return { lines, outcome: () => settled };
  }

  it("reads the runtime view until an instance runs, then succeeds with the counts", async function () {
    const arm = new FakeArm();
    arm.views = [runtimeView({ Creating: 2, Running: 0 }), runtimeView({ Creating: 2 }), runtimeView({ Creating: 1, Running: 1 })];
    const run = apply(arm, { readyCapacity: "2" });
    await clock.tickAsync(3_000);
    assert.equal(run.outcome(), undefined, "ended before an instance ran");
    await clock.tickAsync(30_000);
    const outcome = run.outcome();
    assert.ok(outcome?.ok === true, outcome?.ok === false ? outcome.error.message : "not ended");
    assert.deepEqual(outcome.result.health, { running: 1, creating: 1, degraded: undefined });
    assert.equal(arm.calls.filter((c) => c === "GET runtimeViews").length, 3);
    assert.ok(run.lines.some((l) => /2 instance\(s\) being created, none running yet/.test(l)), run.lines.join("\n"));
  });

  it("a pool that stays degraded for authorization fails after 45 s with the role assignments to make, the subnet's network included", async function () {
    const arm = new FakeArm();
    arm.views = [runtimeView({ Creating: 0 }, AUTHORIZATION_FAILED)];
    const run = apply(arm, { subnetIds: SUBNET });
    await clock.tickAsync(40_000);
    assert.equal(run.outcome(), undefined, "gave up before the pool's next tries");
    assert.ok(run.lines.some((l) => /Standby pool warm: degraded \(AuthorizationFailed.*\); it tries again every 30 seconds/.test(l)), run.lines.join("\n"));
    await clock.tickAsync(10_000);
    const outcome = run.outcome();
    assert.ok(outcome?.ok === false, "apply succeeded");
    assert.ok(outcome.error instanceof StandbyPoolNotReady);
    assert.match(outcome.error.message, /standby pool 'warm' cannot create its containers \(the pool is degraded: AuthorizationFailed/);
    assert.match(outcome.error.message, /'Standby Pool Resource Provider'/);
    assert.match(outcome.error.message, new RegExp(`Azure Container Instances Contributor on ${GROUP_SCOPE}; Standby Container Group Pool Contributor on ${GROUP_SCOPE}; Network Contributor on /subscriptions/${SUBSCRIPTION}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v,`));
  });

  it("a pool still degraded from before the roles were granted: its next try runs an instance, and apply succeeds", async function () {
    const arm = new FakeArm();
    arm.views = [runtimeView({}, AUTHORIZATION_FAILED), runtimeView({}, AUTHORIZATION_FAILED), runtimeView({}, AUTHORIZATION_FAILED), runtimeView({ Creating: 1 }), runtimeView({ Running: 1 })];
    const run = apply(arm);
    await clock.tickAsync(45_000);
    assert.equal(run.outcome()?.ok, true, run.outcome()?.ok === false ? "failed" : "not ended");
  });

  it("a pool that stays degraded for another reason fails with it and names no roles", async function () {
    const arm = new FakeArm();
    arm.views = [runtimeView({ Creating: 0 }, "Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota 'StandardCores' exceeded in region 'westeurope'.")];
    const run = apply(arm);
    await clock.tickAsync(50_000);
    const outcome = run.outcome();
    assert.ok(outcome?.ok === false, "apply succeeded");
    assert.match(outcome.error.message, /quota 'StandardCores' exceeded/);
    assert.doesNotMatch(outcome.error.message, /Contributor/);
  });

  it("a pool that never runs an instance fails at timeoutMinutes, naming the roles as the likely cause", async function () {
    const arm = new FakeArm();
    arm.views = [runtimeView({ Creating: 1 })];
    const run = apply(arm, { timeoutMinutes: "3" });
    await clock.tickAsync(3 * 60_000 - 1_000);
    assert.equal(run.outcome(), undefined, "ended before timeoutMinutes");
    await clock.tickAsync(2_000);
    const outcome = run.outcome();
    assert.ok(outcome?.ok === false, "apply succeeded");
    assert.match(outcome.error.message, /no instance of standby pool 'warm' was running within timeoutMinutes \(3\)/);
    assert.match(outcome.error.message, /Azure Container Instances Contributor on /);
    // Paced: at most one read every 2 s, at least one every 10 s.
    const reads = arm.calls.filter((c) => c === "GET runtimeViews").length;
    assert.ok(reads >= 18 && reads <= 90, `${reads} reads in 3 minutes`);
  });

  it("readyCapacity 0 reads no runtime view", async function () {
    const arm = new FakeArm();
    arm.views = [runtimeView({}, AUTHORIZATION_FAILED)];
    const run = apply(arm, { readyCapacity: "0" });
    await clock.tickAsync(1_000);
    assert.equal(run.outcome()?.ok, true);
    assert.equal(arm.calls.includes("GET runtimeViews"), false);
  });
});

describe("the standby pool provider's role assignments", function () {
  const cases: [string, string[], string[]][] = [
    ["no subnets", [], ["Azure Container Instances Contributor on /subscriptions/s/resourceGroups/rg", "Standby Container Group Pool Contributor on /subscriptions/s/resourceGroups/rg"]],
    [
      "two subnets of one network: one assignment on the network",
      ["/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/a", "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/b"],
      ["Azure Container Instances Contributor on /subscriptions/s/resourceGroups/rg", "Standby Container Group Pool Contributor on /subscriptions/s/resourceGroups/rg", "Network Contributor on /subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v"],
    ],
  ];
  for (const [name, subnets, expected] of cases) {
    it(name, function () {
      assert.deepEqual(providerRoleAssignments("s", "rg", subnets).map((a) => `${a.role} on ${a.scope}`), expected);
    });
  }
});
