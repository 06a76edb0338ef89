// Container group profiles with revisions, standby container group pools that fill and refill by
// really starting their instances, and the claim: a container group PUT naming the pool and the
// profile whose containers carry only a config map.
import { strict as assert } from "node:assert";
import { arm, armError, control, eventually, setBehaviour, setDelays, useEmulator, type EmulatorInfo, type HttpResult } from "../helpers/emulator";

const ciApiVersion = "2025-09-01";
const poolApiVersion = "2026-04-01";

function rgPath(info: EmulatorInfo): string {
  return `subscriptions/${info.subscriptionId}/resourceGroups/${info.resourceGroup}/providers`;
}
function profileId(info: EmulatorInfo, name: string): string {
  return `/${rgPath(info)}/Microsoft.ContainerInstance/containerGroupProfiles/${name}`;
}
function poolId(info: EmulatorInfo, name: string): string {
  return `/${rgPath(info)}/Microsoft.StandbyPool/standbyContainerGroupPools/${name}`;
}
const at = (id: string, apiVersion: string, suffix = ""): string => `${id.slice(1)}${suffix}?api-version=${apiVersion}`;
const groupUrl = (info: EmulatorInfo, name: string, suffix = ""): string =>
  `${rgPath(info)}/Microsoft.ContainerInstance/containerGroups/${name}${suffix}?api-version=${ciApiVersion}`;

/** A standby container: prepares, then waits for its config map file `go`. */
const bootstrap =
  'echo "prepared as $HOSTNAME revision=$REVISION"; while [ ! -e /mnt/configmap/main/go ]; do sleep 0.05; done; ' +
  'echo "claimed go=$(cat /mnt/configmap/main/go)"; sleep 60';

function profileBody(info: EmulatorInfo, revisionMark = "a", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    location: info.location,
    properties: {
      osType: "Linux",
      restartPolicy: "Never",
      containers: [
        {
          name: "main",
          properties: {
            image: "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04",
            command: ["/bin/sh", "-c", bootstrap],
            resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
            environmentVariables: [{ name: "REVISION", value: revisionMark }, { name: "HIDDEN", secureValue: "not-echoed" }],
          },
        },
      ],
      ...extra,
    },
  };
}

function poolBody(info: EmulatorInfo, profile: string, capacity: number, revision?: number): Record<string, unknown> {
  return {
    location: info.location,
    properties: {
      elasticityProfile: { maxReadyCapacity: capacity, refillPolicy: "always" },
      containerGroupProperties: { containerGroupProfile: { id: profileId(info, profile), ...(revision === undefined ? {} : { revision }) } },
    },
  };
}

function claimBody(info: EmulatorInfo, profile: string, pool: string, go: string, options: { fail?: boolean; revision?: number; extra?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    location: info.location,
    tags: { "aci-agents-run": "ignored-by-the-claim" },
    properties: {
      containerGroupProfile: { id: profileId(info, profile), revision: options.revision ?? 1 },
      standbyPoolProfile: { id: poolId(info, pool), ...(options.fail === undefined ? {} : { failContainerGroupCreateOnReuseFailure: options.fail }) },
      containers: [{ name: "main", properties: { configMap: { keyValuePairs: { go } }, ...options.extra } }],
    },
  };
}

async function putProfile(info: EmulatorInfo, name: string, body: Record<string, unknown>): Promise<HttpResult> {
  return arm(info, "PUT", at(profileId(info, name), ciApiVersion), { body });
}

async function counts(info: EmulatorInfo, pool: string): Promise<Record<string, number>> {
  const res = await arm(info, "GET", at(poolId(info, pool), poolApiVersion, "/runtimeViews/latest"));
  assert.equal(res.status, 200, res.text);
  const summary = (res.json as { properties: { instanceCountSummary: { instanceCountsByState: { state: string; count: number }[] }[] } }).properties.instanceCountSummary;
  return Object.fromEntries((summary[0]?.instanceCountsByState ?? []).map((c) => [c.state, c.count]));
}

async function filled(info: EmulatorInfo, pool: string, running: number): Promise<void> {
  await eventually(`pool ${pool} to hold ${running} Running instances`, async () => ((await counts(info, pool)).Running === running ? true : undefined));
}

/** The status of the operation an answer's Azure-AsyncOperation names, read once. */
async function operationStatus(info: EmulatorInfo, res: HttpResult): Promise<string | undefined> {
  const url = res.headers["azure-asyncoperation"];
  assert.equal(typeof url, "string", "no Azure-AsyncOperation header");
  const parsed = new URL(url as string);
  return ((await arm(info, "GET", parsed.pathname.slice(1) + parsed.search)).json as { status?: string } | undefined)?.status;
}

async function operationEnds(info: EmulatorInfo, res: HttpResult): Promise<string> {
  return eventually("the operation to end", async () => {
    const status = await operationStatus(info, res);
    return status === "Pending" ? undefined : status;
  });
}

/** Profile `agents` and pool `warm` holding one Running instance. */
async function warmPoolOfOne(info: EmulatorInfo): Promise<void> {
  await putProfile(info, "agents", profileBody(info));
  await arm(info, "PUT", at(poolId(info, "warm"), poolApiVersion), { body: poolBody(info, "agents", 1) });
  await filled(info, "warm", 1);
}

async function logUntil(info: EmulatorInfo, name: string, until: RegExp): Promise<string> {
  return eventually(`${name}'s log to match ${String(until)}`, async () => {
    const content = ((await arm(info, "GET", groupUrl(info, name, "/containers/main/logs"))).json as { content?: string } | undefined)?.content ?? "";
    return until.test(content) ? content : undefined;
  });
}

type GroupJson = { tags?: Record<string, string>; properties: Record<string, unknown> & { containers: { properties: Record<string, unknown> }[] } };

describe("emulator ACI standby pools", function () {
  this.timeout(60_000);
  const emulator = useEmulator();
  // The roles the pool's provider needs are granted once, at set-up (README, Permissions); one test goes without.
  beforeEach(async function () {
    await setBehaviour(emulator().info, { standbyProviderWithoutRoles: false });
  });

  it("a container group profile: revision 1 when created, raised only when its properties change, each revision readable; secrets not echoed", async function () {
    const { info } = emulator();
    const created = await putProfile(info, "agent-profile", profileBody(info, "a"));
    assert.equal(created.status, 201, created.text);
    const view = created.json as GroupJson;
    assert.equal(view.properties.revision, 1);
    assert.deepEqual(view.properties.containers[0]?.properties.environmentVariables, [{ name: "REVISION", value: "a" }, { name: "HIDDEN" }]);
    const same = await putProfile(info, "agent-profile", { ...profileBody(info, "a"), tags: { only: "tags" } });
    assert.equal(same.status, 200);
    assert.equal((same.json as GroupJson).properties.revision, 1, "a PUT without a change of properties added a revision");
    const changed = await putProfile(info, "agent-profile", profileBody(info, "b"));
    assert.equal((changed.json as GroupJson).properties.revision, 2);
    const revisions = await arm(info, "GET", at(profileId(info, "agent-profile"), ciApiVersion, "/revisions"));
    assert.deepEqual((revisions.json as { value: GroupJson[] }).value.map((p) => p.properties.revision), [1, 2]);
    const first = await arm(info, "GET", at(profileId(info, "agent-profile"), ciApiVersion, "/revisions/1"));
    assert.deepEqual((first.json as GroupJson).properties.containers[0]?.properties.environmentVariables, [{ name: "REVISION", value: "a" }, { name: "HIDDEN" }]);
    assert.equal((await arm(info, "GET", at(profileId(info, "agent-profile"), ciApiVersion))).status, 200);

    // Strict: a group's member that a profile does not have; an api-version without profiles.
    const withSubnet = await putProfile(info, "bad-profile", profileBody(info, "a", { subnetIds: [{ id: "/x" }] }));
    assert.equal(withSubnet.status, 400);
    assert.match(armError(withSubnet.json).message ?? "", /Could not find member 'subnetIds'/);
    const old = await arm(info, "PUT", at(profileId(info, "old-profile"), "2023-05-01"), { body: profileBody(info) });
    assert.equal(armError(old.json).code, "NoRegisteredProviderFound");
    assert.equal((await arm(info, "DELETE", at(profileId(info, "agent-profile"), ciApiVersion))).status, 200);
    assert.equal((await arm(info, "DELETE", at(profileId(info, "agent-profile"), ciApiVersion))).status, 204);
  });

  it("a pool fills to its capacity with instances that really start, hands one out on a claim (isCreatedFromStandbyPool, config map files) and refills", async function () {
    const { info } = emulator();
    assert.equal((await putProfile(info, "agents", profileBody(info))).status, 201);
    const pool = await arm(info, "PUT", at(poolId(info, "warm"), poolApiVersion), { body: poolBody(info, "agents", 2) });
    assert.equal(pool.status, 201, pool.text);
    assert.equal(await operationEnds(info, pool), "Succeeded");
    await filled(info, "warm", 2);

    const claim = await arm(info, "PUT", groupUrl(info, "claimed-1"), { body: claimBody(info, "agents", "warm", "yes") });
    assert.equal(claim.status, 201, claim.text);
    assert.equal((claim.json as GroupJson).properties.isCreatedFromStandbyPool, true);
    assert.equal(await operationEnds(info, claim), "Succeeded");
    // The instance prepared before its claim (its bootstrap ran), then saw the config map appear.
    const log = await logUntil(info, "claimed-1", /claimed go=yes/);
    assert.match(log, /^prepared as warm-[0-9a-f]+ revision=a\nclaimed go=yes$/m);
    const got = (await arm(info, "GET", groupUrl(info, "claimed-1"))).json as GroupJson;
    assert.equal(got.properties.isCreatedFromStandbyPool, true);
    assert.deepEqual(got.properties.containers[0]?.properties.configMap, { keyValuePairs: { go: "yes" } });
    assert.equal(got.properties.containers[0].properties.image, "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04");
    assert.deepEqual(got.tags, {}, "the claim's tags were kept (the emulator ignores them)");
    // A tags-only PATCH sets them.
    const patched = await arm(info, "PATCH", groupUrl(info, "claimed-1"), { body: { tags: { "aci-agents-run": "r1" } } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(((await arm(info, "GET", groupUrl(info, "claimed-1"))).json as GroupJson).tags, { "aci-agents-run": "r1" });

    // The pool refills to its capacity.
    await filled(info, "warm", 2);

    // An update naming the standby pool again is refused; Learn's config-map update (the profile and
    // the containers' config maps) changes the file without a restart.
    const again = await arm(info, "PUT", groupUrl(info, "claimed-1"), { body: claimBody(info, "agents", "warm", "again") });
    assert.equal(again.status, 400, again.text);
    assert.match(armError(again.json).message ?? "", /standbyPoolProfile/);
    const learnShaped = claimBody(info, "agents", "warm", "again");
    delete (learnShaped.properties as Record<string, unknown>).standbyPoolProfile;
    const update = await arm(info, "PUT", groupUrl(info, "claimed-1"), { body: learnShaped });
    assert.equal(update.status, 200, update.text);
    assert.equal(await operationEnds(info, update), "Succeeded");
    const after = ((await arm(info, "GET", groupUrl(info, "claimed-1"))).json as GroupJson).properties.containers[0]?.properties;
    assert.deepEqual(after?.configMap, { keyValuePairs: { go: "again" } });
    assert.equal((after.instanceView as { restartCount: number }).restartCount, 0);
  });

  it("a claim is answered once the instance is handed out (after claimMs): Succeeded and Running, its config map in place, its operation already Succeeded; the answer names no standby pool", async function () {
    const { info } = emulator();
    await setDelays(info, { claimMs: 1_500 });
    await warmPoolOfOne(info);
    const sent = Date.now();
    const claim = arm(info, "PUT", groupUrl(info, "claimed-slow"), { body: claimBody(info, "agents", "warm", "now") });
    // Until ARM answers, the name holds no group.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal((await arm(info, "GET", groupUrl(info, "claimed-slow"))).status, 404);
    const answered = await claim;
    assert.ok(Date.now() - sent >= 1_500, `the claim was answered after ${Date.now() - sent} ms, before claimMs`);
    assert.equal(answered.status, 201, answered.text);
    const view = answered.json as GroupJson;
    assert.equal(view.properties.provisioningState, "Succeeded");
    assert.equal((view.properties.instanceView as { state: string }).state, "Running");
    assert.equal(view.properties.isCreatedFromStandbyPool, true);
    assert.equal(view.properties.standbyPoolProfile, undefined, "the answer echoed standbyPoolProfile");
    assert.deepEqual(view.properties.containers[0]?.properties.configMap, { keyValuePairs: { go: "now" } });
    assert.equal(await operationStatus(info, answered), "Succeeded");
    // The files were there when ARM answered: the container saw them at once.
    assert.match(await logUntil(info, "claimed-slow", /claimed go=now/), /claimed go=now/);
    assert.equal(((await arm(info, "GET", groupUrl(info, "claimed-slow"))).json as GroupJson).properties.standbyPoolProfile, undefined);
  });

  it("a claim's config map for a container the profile lacks is dropped without an error", async function () {
    const { info } = emulator();
    await setDelays(info, { claimMs: 0 });
    await warmPoolOfOne(info);
    const body = claimBody(info, "agents", "warm", "lost");
    ((body.properties as { containers: { name: string }[] }).containers[0] as { name: string }).name = "not-in-the-profile";
    const claim = await arm(info, "PUT", groupUrl(info, "claimed-misnamed"), { body });
    assert.equal(claim.status, 201, claim.text);
    const containers = (claim.json as GroupJson).properties.containers as { name: string; properties: Record<string, unknown> }[];
    assert.deepEqual(containers.map((c) => c.name), ["main"]);
    assert.equal(containers[0]?.properties.configMap, undefined, "the config map landed in the profile's container");
  });

  it("a claim whose containers carry more than a config map answers 400 BadRequest", async function () {
    const { info } = emulator();
    await putProfile(info, "agents", profileBody(info));
    await arm(info, "PUT", at(poolId(info, "warm"), poolApiVersion), { body: poolBody(info, "agents", 1) });
    const res = await arm(info, "PUT", groupUrl(info, "claimed-ports"), { body: claimBody(info, "agents", "warm", "x", { extra: { ports: [{ port: 80 }] } }) });
    assert.equal(res.status, 400);
    assert.deepEqual(armError(res.json), { code: "BadRequest", message: "ContainerGroup properties other than config map are not allowed" });
    assert.equal((await arm(info, "GET", groupUrl(info, "claimed-ports"))).status, 404);
  });

  it("an empty pool: failContainerGroupCreateOnReuseFailure fails the claim; without it a fresh group is made from the profile", async function () {
    const { info } = emulator();
    await putProfile(info, "agents", profileBody(info));
    assert.equal((await arm(info, "PUT", at(poolId(info, "empty"), poolApiVersion), { body: poolBody(info, "agents", 0) })).status, 201);
    const refused = await arm(info, "PUT", groupUrl(info, "claimed-strict"), { body: claimBody(info, "agents", "empty", "x", { fail: true }) });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(armError(refused.json).code, "StandbyPoolReuseFailed");
    assert.equal((await arm(info, "GET", groupUrl(info, "claimed-strict"))).status, 404);

    const fresh = await arm(info, "PUT", groupUrl(info, "claimed-fresh"), { body: claimBody(info, "agents", "empty", "cold", { fail: false }) });
    assert.equal(fresh.status, 201, fresh.text);
    assert.equal(await operationEnds(info, fresh), "Succeeded");
    assert.equal(((await arm(info, "GET", groupUrl(info, "claimed-fresh"))).json as GroupJson).properties.isCreatedFromStandbyPool, false);
    assert.match(await logUntil(info, "claimed-fresh", /claimed go=cold/), /^prepared as claimed-fresh revision=a$/m);
  });

  it("a pool whose instances cannot start is degraded and keeps trying; a lower capacity deletes the surplus", async function () {
    const { info } = emulator();
    await setBehaviour(info, { inaccessibleImages: ["mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04"] });
    await putProfile(info, "agents", profileBody(info));
    await arm(info, "PUT", at(poolId(info, "broken"), poolApiVersion), { body: poolBody(info, "agents", 2) });
    const status = await eventually("the pool to be degraded", async () => {
      const res = await arm(info, "GET", at(poolId(info, "broken"), poolApiVersion, "/runtimeViews/latest"));
      const code = (res.json as { properties: { status: { code: string } } }).properties.status.code;
      return code === "HealthState/degraded" ? code : undefined;
    });
    assert.equal(status, "HealthState/degraded");
    await setBehaviour(info, { inaccessibleImages: [] });
    await filled(info, "broken", 2);
    await arm(info, "PUT", at(poolId(info, "broken"), poolApiVersion), { body: poolBody(info, "agents", 1) });
    await filled(info, "broken", 1);
    const runtime = await arm(info, "GET", at(poolId(info, "broken"), poolApiVersion, "/runtimeViews/other"));
    assert.equal(runtime.status, 404);
    const deleted = await arm(info, "DELETE", at(poolId(info, "broken"), poolApiVersion));
    assert.equal(deleted.status, 202);
    assert.equal(typeof deleted.headers.location, "string");
    await eventually("the pool to be gone", async () => ((await arm(info, "GET", at(poolId(info, "broken"), poolApiVersion))).status === 404 ? true : undefined));
  });

  it("by default the pool's provider has none of its roles: the pool makes no instance and is degraded with ARM's AuthorizationFailed; granted, it fills", async function () {
    const { info } = emulator();
    await control(info, "POST", "/reset");
    await putProfile(info, "agents", profileBody(info));
    await arm(info, "PUT", at(poolId(info, "unauthorized"), poolApiVersion), { body: poolBody(info, "agents", 1) });
    const message = await eventually("the pool to be degraded", async () => {
      const res = await arm(info, "GET", at(poolId(info, "unauthorized"), poolApiVersion, "/runtimeViews/latest"));
      const status = (res.json as { properties: { status: { code: string; message: string } } }).properties.status;
      return status.code === "HealthState/degraded" ? status.message : undefined;
    });
    assert.match(message, /^AuthorizationFailed: The client '[0-9a-f-]{36}' .* does not have authorization to perform action 'Microsoft\.ContainerInstance\/containerGroups\/write'/);
    assert.equal((await counts(info, "unauthorized")).Running, 0);
    await setBehaviour(info, { standbyProviderWithoutRoles: false });
    await filled(info, "unauthorized", 1);
  });

  it("a pool moved to another profile revision drains and replaces its instances; reset clears pools and profiles", async function () {
    const { info } = emulator();
    await putProfile(info, "agents", profileBody(info, "a"));
    await arm(info, "PUT", at(poolId(info, "warm"), poolApiVersion), { body: poolBody(info, "agents", 1) });
    await filled(info, "warm", 1);
    await putProfile(info, "agents", profileBody(info, "b"));
    const moved = await arm(info, "PUT", at(poolId(info, "warm"), poolApiVersion), { body: poolBody(info, "agents", 1, 2) });
    assert.equal(moved.status, 200, moved.text);
    await filled(info, "warm", 1);
    const claim = await arm(info, "PUT", groupUrl(info, "claimed-b"), { body: claimBody(info, "agents", "warm", "go", { revision: 2 }) });
    assert.equal(claim.status, 201, claim.text);
    assert.equal(((claim.json as GroupJson).properties.isCreatedFromStandbyPool), true);
    assert.match(await logUntil(info, "claimed-b", /claimed go=go/), /revision=b/);

    assert.equal((await control(info, "POST", "/reset")).status, 204);
    assert.equal((await arm(info, "GET", at(poolId(info, "warm"), poolApiVersion))).status, 404);
    assert.equal((await arm(info, "GET", at(profileId(info, "agents"), ciApiVersion))).status, 404);
  });
});
