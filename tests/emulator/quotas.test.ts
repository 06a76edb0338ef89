// ACI's quotas per region and its create and delete rates per subscription, as the emulator
// enforces them by default (emulator/README.md, "Quotas and rates").
import { strict as assert } from "node:assert";
import { setTimeout as sleep } from "node:timers/promises";
import {
  arm,
  armClient,
  armError,
  armToken,
  containerGroupWire,
  control,
  groupPath,
  setBehaviour,
  setDelays,
  useEmulator,
  type EmulatorInfo,
  type GroupSpec,
  type HttpResult,
} from "../helpers/emulator";

interface UsageJson {
  id?: string;
  unit?: string;
  currentValue?: number;
  limit?: number;
  name?: { value?: string; localizedValue?: string };
}

const usageNamesInOrder = [
  "ContainerGroups",
  "StandardCores",
  "StandardSpotCores",
  "StandardK80Cores",
  "StandardP100Cores",
  "StandardV100Cores",
  "DedicatedContainerGroups",
];

const defaults: Record<string, number> = {
  ContainerGroups: 100,
  StandardCores: 400,
  StandardSpotCores: 400,
  StandardK80Cores: 0,
  StandardP100Cores: 0,
  StandardV100Cores: 0,
  DedicatedContainerGroups: 0,
};

function quotaMessage(name: string, region: string, limit: number, usage: number, requested: number): string {
  return `Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota '${name}' exceeded in region '${region}'. Limit: '${limit}', Usage: '${usage}' Requested: '${requested}'.`;
}

describe("emulator quotas and rates (ACI's limits per region and per subscription)", function () {
  const emulator = useEmulator();
  let token: string;

  beforeEach(async function () {
    token = await armToken(emulator().info);
  });

  /** A raw PUT of a one-container group (`priority` Spot when asked). */
  function put(info: EmulatorInfo, name: string, spec: GroupSpec & { priority?: "Spot" | "Regular" } = {}): Promise<HttpResult> {
    const body = containerGroupWire(info, spec);
    if (spec.priority !== undefined) (body.properties as Record<string, unknown>).priority = spec.priority;
    return arm(info, "PUT", groupPath(info, name), { token, body });
  }

  function remove(info: EmulatorInfo, name: string): Promise<HttpResult> {
    return arm(info, "DELETE", groupPath(info, name), { token });
  }

  async function usages(info: EmulatorInfo, location: string): Promise<Map<string, UsageJson>> {
    const res = await arm(info, "GET", `subscriptions/${info.subscriptionId}/providers/Microsoft.ContainerInstance/locations/${location}/usages?api-version=2023-05-01`, { token });
    assert.equal(res.status, 200, res.text);
    const list = (res.json as { value: UsageJson[] }).value;
    return new Map(list.map((u) => [u.name?.value ?? "", u]));
  }

  async function current(info: EmulatorInfo, location: string, name: string): Promise<number | undefined> {
    return (await usages(info, location)).get(name)?.currentValue;
  }

  function retryAfter(res: HttpResult): number {
    const header = res.headers["retry-after"];
    assert.equal(typeof header, "string", `no Retry-After in ${JSON.stringify(res.headers)}`);
    return Number(header);
  }

  /** Creates `count` groups named `${prefix}-{i}` in `location`, each answered 201. */
  async function createMany(info: EmulatorInfo, prefix: string, count: number, location = info.location): Promise<void> {
    for (let i = 0; i < count; i++) {
      const res = await put(info, `${prefix}-${i}`, { location });
      assert.equal(res.status, 201, `create ${i + 1} of ${count}: ${res.text}`);
    }
  }

  describe("usage", function () {
    it("lists every quota of the region with its id and limit, and follows the live groups (a deleting one until it is gone)", async function () {
      const { info } = emulator();
      await setDelays(info, { deleteMs: 800 });
      const before = await usages(info, "westeurope");
      assert.deepEqual([...before.keys()], usageNamesInOrder);
      for (const [name, usage] of before) {
        assert.equal(usage.unit, "Count");
        assert.equal(usage.currentValue, 0, name);
        assert.equal(usage.limit, defaults[name], name);
        assert.equal(usage.id, `/subscriptions/${info.subscriptionId}/providers/Microsoft.ContainerInstance/locations/westeurope/usages/${name}`);
        assert.equal(typeof usage.name?.localizedValue, "string");
      }

      assert.equal((await put(info, "cg-use-1", { cpu: 2 })).status, 201);
      assert.equal((await put(info, "cg-use-2", { cpu: 1.5 })).status, 201);
      assert.equal((await put(info, "cg-use-spot", { cpu: 1, priority: "Spot" })).status, 201);
      assert.equal((await put(info, "cg-use-elsewhere", { cpu: 4, location: "northeurope" })).status, 201);
      const after = await usages(info, "westeurope");
      assert.equal(after.get("ContainerGroups")?.currentValue, 3);
      assert.equal(after.get("StandardCores")?.currentValue, 4, "2 cores and 1.5 counted as 2");
      assert.equal(after.get("StandardSpotCores")?.currentValue, 1);
      assert.equal(await current(info, "northeurope", "StandardCores"), 4);
      // The SDK reads the same list.
      const listed = [];
      for await (const usage of armClient(info).location.listUsage("westeurope")) listed.push(usage);
      assert.equal(listed.find((u) => u.name?.value === "StandardCores")?.currentValue, 4);

      // An update replaces the group's own use instead of adding to it.
      assert.equal((await put(info, "cg-use-1", { cpu: 1 })).status, 200);
      assert.equal(await current(info, "westeurope", "StandardCores"), 3);

      assert.equal((await remove(info, "cg-use-2")).status, 202);
      assert.equal(await current(info, "westeurope", "ContainerGroups"), 3, "a group being deleted still counts");
      assert.equal(await current(info, "westeurope", "StandardCores"), 3);
      await sleep(1200);
      assert.equal(await current(info, "westeurope", "ContainerGroups"), 2, "a deleted group no longer counts");
      assert.equal(await current(info, "westeurope", "StandardCores"), 1);
    });

    it("a region's own limits (quotas) override the default ones (defaultQuota), both set through the control API", async function () {
      const { info } = emulator();
      await setBehaviour(info, { quotas: { "West Europe": { StandardCores: 10 } }, defaultQuota: { ContainerGroups: 50 } });
      const westeurope = await usages(info, "westeurope");
      assert.equal(westeurope.get("StandardCores")?.limit, 10);
      assert.equal(westeurope.get("ContainerGroups")?.limit, 50);
      const northeurope = await usages(info, "northeurope");
      assert.equal(northeurope.get("StandardCores")?.limit, 400);
      assert.equal(northeurope.get("ContainerGroups")?.limit, 50);

      const refused = await control(info, "PUT", "/behaviour", { quotas: { westeurope: { StandardCPUs: 10 } } });
      assert.equal(refused.status, 400, "an unknown usage name is refused, not ignored");
      assert.match(refused.text, /StandardCPUs/);
      assert.equal((await usages(info, "westeurope")).get("StandardCores")?.limit, 10, "a refused setting changes nothing");
    });
  });

  describe("a PUT over a quota", function () {
    it("over StandardCores: 400 ContainerGroupQuotaReached with ACI's message, and nothing is created", async function () {
      const { info } = emulator();
      await setBehaviour(info, { quotas: { eastus: { StandardCores: 10 } } });
      await createMany(info, "cg-cores", 10, "eastus");
      const over = await put(info, "cg-cores-11", { location: "eastus", cpu: 1 });
      assert.equal(over.status, 400, over.text);
      assert.equal(armError(over.json).code, "ContainerGroupQuotaReached");
      assert.equal(armError(over.json).message, quotaMessage("StandardCores", "eastus", 10, 10, 1));
      assert.equal((await arm(info, "GET", groupPath(info, "cg-cores-11"), { token })).status, 404);
      assert.equal(await current(info, "eastus", "ContainerGroups"), 10);
      // The SDK sees the same error.
      const client = armClient(info, { retryOptions: { maxRetries: 0 } });
      await assert.rejects(
        client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-cores-sdk", {
          location: "eastus",
          osType: "Linux",
          containers: [{ name: "main", image: "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04", resources: { requests: { cpu: 1, memoryInGB: 1.5 } } }],
        }),
        (error: Error & { statusCode?: number; code?: string }) =>
          error.statusCode === 400 && error.code === "ContainerGroupQuotaReached" && error.message === quotaMessage("StandardCores", "eastus", 10, 10, 1),
      );
    });

    it("over ContainerGroups: the same error naming ContainerGroups, and nothing is created", async function () {
      const { info } = emulator();
      await setBehaviour(info, { defaultQuota: { ContainerGroups: 2 } });
      await createMany(info, "cg-groups", 2);
      const over = await put(info, "cg-groups-3");
      assert.equal(over.status, 400, over.text);
      assert.equal(armError(over.json).code, "ContainerGroupQuotaReached");
      assert.equal(armError(over.json).message, quotaMessage("ContainerGroups", "westeurope", 2, 2, 1));
      assert.equal((await arm(info, "GET", groupPath(info, "cg-groups-3"), { token })).status, 404);
      // Another region has its own quota.
      assert.equal((await put(info, "cg-groups-3", { location: "northeurope" })).status, 201);
    });

    it("fractional CPUs count as whole cores per group: a 1.5-CPU group takes 2 of a quota of 2", async function () {
      const { info } = emulator();
      await setBehaviour(info, { quotas: { westeurope: { StandardCores: 2 } } });
      assert.equal((await put(info, "cg-frac-1", { cpu: 1.5 })).status, 201);
      const over = await put(info, "cg-frac-2", { cpu: 0.5 });
      assert.equal(over.status, 400, over.text);
      assert.equal(armError(over.json).message, quotaMessage("StandardCores", "westeurope", 2, 2, 1));
    });

    it("a Spot group takes StandardSpotCores (not StandardCores) and one of ContainerGroups", async function () {
      const { info } = emulator();
      await setBehaviour(info, { quotas: { westeurope: { StandardCores: 1, StandardSpotCores: 3, ContainerGroups: 3 } } });
      assert.equal((await put(info, "cg-regular", { cpu: 1 })).status, 201);
      const spot = await put(info, "cg-spot-1", { cpu: 2, priority: "Spot" });
      assert.equal(spot.status, 201, "StandardCores is full, but a Spot group does not take it");
      const overSpot = await put(info, "cg-spot-2", { cpu: 2, priority: "Spot" });
      assert.equal(overSpot.status, 400, overSpot.text);
      assert.equal(armError(overSpot.json).message, quotaMessage("StandardSpotCores", "westeurope", 3, 2, 2));
      assert.equal((await put(info, "cg-spot-3", { cpu: 1, priority: "Spot" })).status, 201);
      const overGroups = await put(info, "cg-spot-4", { cpu: 1, priority: "Regular" });
      assert.equal(armError(overGroups.json).message, quotaMessage("ContainerGroups", "westeurope", 3, 3, 1));
    });
  });

  describe("create and delete rates", function () {
    it("the 101st create in 5 minutes is refused with 429 and Retry-After, nothing is created, and it succeeds once the window has passed", async function () {
      this.timeout(60_000);
      const { info } = emulator();
      // Groups that never start a container: provisioning outlasts the test.
      await setDelays(info, { provisionMs: 600_000 });
      await createMany(info, "cg-rate", 100);
      const refused = await put(info, "cg-rate-101", { location: "northeurope" });
      assert.equal(refused.status, 429, refused.text);
      assert.equal(armError(refused.json).code, "ResourceRequestsThrottled");
      const seconds = retryAfter(refused);
      assert.ok(seconds > 240 && seconds <= 300, `Retry-After ${seconds} s: until the first create leaves the 5-minute window`);
      assert.equal(
        armError(refused.json).message,
        `Number of container group create requests for subscription '${info.subscriptionId}' exceeded the limit of '100' for time interval '00:05:00'. Please try again after '${seconds}' seconds.`,
      );
      assert.equal((await arm(info, "GET", groupPath(info, "cg-rate-101"), { token })).status, 404);
      // An update of an existing group is not a create.
      assert.equal((await put(info, "cg-rate-0")).status, 200);

      // Five minutes become one second: the creates leave the window.
      await setBehaviour(info, { rateWindowScale: 1 / 300 });
      const again = await put(info, "cg-rate-101", { location: "northeurope" });
      if (again.status === 429) {
        assert.ok(retryAfter(again) <= 1, `Retry-After ${retryAfter(again)} s in a 1-second window`);
        await sleep(retryAfter(again) * 1000);
        assert.equal((await put(info, "cg-rate-101", { location: "northeurope" })).status, 201);
      } else {
        assert.equal(again.status, 201, again.text);
      }
    });

    it("the hour's limit: with 2 an hour the third create waits for the first to be an hour old", async function () {
      const { info } = emulator();
      await setBehaviour(info, { createRateLimits: { perHour: 2 } });
      await createMany(info, "cg-hour", 2);
      const refused = await put(info, "cg-hour-3");
      assert.equal(refused.status, 429, refused.text);
      const seconds = retryAfter(refused);
      assert.ok(seconds > 3500 && seconds <= 3600, `Retry-After ${seconds} s`);
      assert.match(armError(refused.json).message ?? "", /exceeded the limit of '2' for time interval '01:00:00'/);
    });

    it("the 101st delete in 5 minutes is refused with 429 and Retry-After, the group stays, and it succeeds once the window has passed", async function () {
      this.timeout(60_000);
      const { info } = emulator();
      await setDelays(info, { provisionMs: 600_000, deleteMs: 0 });
      await setBehaviour(info, { createRateLimits: { perFiveMinutes: 1000, perHour: 1000 } });
      await createMany(info, "cg-del-a", 60);
      await createMany(info, "cg-del-b", 41, "northeurope");
      const names = [...Array.from({ length: 60 }, (_, i) => `cg-del-a-${i}`), ...Array.from({ length: 41 }, (_, i) => `cg-del-b-${i}`)];
      for (const name of names.slice(0, 100)) assert.equal((await remove(info, name)).status, 200, name);
      const last = names[100] ?? "";
      const refused = await remove(info, last);
      assert.equal(refused.status, 429, refused.text);
      assert.equal(armError(refused.json).code, "ResourceRequestsThrottled");
      const seconds = retryAfter(refused);
      assert.ok(seconds > 240 && seconds <= 300, `Retry-After ${seconds} s`);
      assert.match(armError(refused.json).message ?? "", /Number of container group delete requests for subscription '[^']+' exceeded the limit of '100' for time interval '00:05:00'/);
      assert.equal((await arm(info, "GET", groupPath(info, last), { token })).status, 200, "the refused delete left the group");
      assert.equal((await remove(info, "cg-del-never-created")).status, 204, "deleting an absent group is no delete");

      await setBehaviour(info, { rateWindowScale: 1 / 300 });
      const again = await remove(info, last);
      if (again.status === 429) {
        await sleep(retryAfter(again) * 1000);
        assert.equal((await remove(info, last)).status, 200);
      } else {
        assert.equal(again.status, 200, again.text);
      }
    });

    it("reset forgets the counted creates and deletes and restores the quotas and rates", async function () {
      const { info } = emulator();
      await setBehaviour(info, { createRateLimits: { perFiveMinutes: 1 }, deleteRateLimits: { perFiveMinutes: 1 }, quotas: { westeurope: { StandardCores: 1 } }, defaultQuota: { ContainerGroups: 7 }, rateWindowScale: 2 });
      assert.equal((await put(info, "cg-reset-1")).status, 201);
      assert.equal((await put(info, "cg-reset-2", { location: "northeurope" })).status, 429);
      assert.equal((await remove(info, "cg-reset-1")).status, 202);

      assert.equal((await control(info, "POST", "/reset")).status, 204);
      const behaviour = (await control(info, "PUT", "/behaviour", {})).json as Record<string, unknown>;
      assert.deepEqual(behaviour.quotas, {});
      assert.deepEqual(behaviour.defaultQuota, defaults);
      assert.deepEqual(behaviour.createRateLimits, { perFiveMinutes: 100, perHour: 300 });
      assert.deepEqual(behaviour.deleteRateLimits, { perFiveMinutes: 100, perHour: 300 });
      assert.equal(behaviour.rateWindowScale, 1);

      await setBehaviour(info, { createRateLimits: { perFiveMinutes: 1 }, deleteRateLimits: { perFiveMinutes: 1 } });
      assert.equal((await put(info, "cg-reset-3")).status, 201, "the create before the reset is forgotten");
      assert.equal((await remove(info, "cg-reset-3")).status, 202, "the delete before the reset is forgotten");
    });
  });
});
