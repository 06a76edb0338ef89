// AciAgentStandbyPool's core: its inputs, the profile and pool it puts, the profile hash, and
// apply/delete over a fake ARM.
import { strict as assert } from "node:assert";
import type { ArmResource, StandbyArmApi } from "../../../src/azure/standby";
import { parseStandbyInputs, type StandbyConfig } from "../../../src/standby/inputs";
import { PROFILE_HASH_TAG, STANDBY_CONTAINER, canonicalJson, poolBody, profileBody } from "../../../src/standby/resources";
import { runStandby, type ApplyResult, type DeleteResult } from "../../../src/standby/runStandby";
import { standbyTemplateFor } from "../../../src/standby/armTemplate";
import { inputProblems, parserWith } from "../fixtures";

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

/** ARM's profiles and pools in memory: a PUT of a profile raises its revision when its properties change. */
class FakeArm implements StandbyArmApi {
  readonly subscriptionId = "11111111-2222-3333-4444-555555555555";
  readonly resources = new Map<string, ArmResource>();
  readonly calls: string[] = [];

  get(id: string): Promise<ArmResource | undefined> {
    this.calls.push(`GET ${id.split("/").at(-2) ?? ""}`);
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
    signal: new AbortController().signal,
  });

  it("creates the profile, then the pool on its revision; again, puts nothing", async function () {
    const arm = new FakeArm();
    const first = (await runStandby(configWith({ readyCapacity: "2" }), deps(arm))) as ApplyResult;
    assert.deepEqual([first.profileChanged, first.poolChanged, first.revision], [true, true, 1]);
    assert.deepEqual(arm.calls, ["GET containerGroupProfiles", "PUT containerGroupProfiles", "GET standbyContainerGroupPools", "PUT standbyContainerGroupPools"]);
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
