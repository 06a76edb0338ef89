import { strict as assert } from "node:assert";
import type { AciUsage } from "../../../src/azure/aci";
import { InputError } from "../../../src/core/errors";
import { coresPerAgent, describePlan, planFleet, regionsOf, type PlanRequest, type RegionUsage } from "../../../src/start/plan";

/** A region's listing: [used, limit] of each quota it names. */
function region(name: string, quotas: Record<string, [number, number]>): RegionUsage {
  const usages: AciUsage[] = Object.entries(quotas).map(([quota, [current, limit]]) => ({ name: quota, current, limit }));
  return { region: name, usages };
}

const roomy = (name: string) => region(name, { ContainerGroups: [0, 100], StandardCores: [0, 100], StandardSpotCores: [0, 100] });

describe("coresPerAgent", () => {
  const cases: [number, number][] = [[0.5, 1], [1, 1], [1.5, 2], [2, 2], [3.1, 4], [4, 4]];
  for (const [cpu, cores] of cases) it(`${cpu} CPU counts ${cores} core(s)`, () => { assert.equal(coresPerAgent(cpu), cores); });
});

describe("planFleet", () => {
  const cases: { name: string; request: PlanRequest; regions: RegionUsage[]; placed: Record<string, number> }[] = [
    {
      name: "all in the first region when it has room",
      request: { agentCount: 3, cpu: 2, priority: "Regular" },
      regions: [roomy("westeurope"), roomy("northeurope")],
      placed: { westeurope: 3 },
    },
    {
      name: "the issue's example: 6 cores left in the first region hold 3 agents of 2 CPU, the fallback the other 5",
      request: { agentCount: 8, cpu: 2, priority: "Regular" },
      regions: [region("westeurope", { ContainerGroups: [2, 100], StandardCores: [4, 10] }), roomy("northeurope")],
      placed: { westeurope: 3, northeurope: 5 },
    },
    {
      name: "container groups limit as cores do",
      request: { agentCount: 4, cpu: 1, priority: "Regular" },
      regions: [region("westeurope", { ContainerGroups: [99, 100], StandardCores: [0, 100] }), roomy("northeurope")],
      placed: { westeurope: 1, northeurope: 3 },
    },
    {
      name: "a fractional CPU counts whole cores: 5 cores hold 2 agents of 1.5 CPU",
      request: { agentCount: 3, cpu: 1.5, priority: "Regular" },
      regions: [region("westeurope", { ContainerGroups: [0, 100], StandardCores: [5, 10] }), roomy("northeurope")],
      placed: { westeurope: 2, northeurope: 1 },
    },
    {
      name: "Spot agents count against the Spot cores, not the standard ones",
      request: { agentCount: 3, cpu: 2, priority: "Spot" },
      regions: [region("westeurope", { ContainerGroups: [0, 100], StandardCores: [10, 10], StandardSpotCores: [6, 10] }), roomy("northeurope")],
      placed: { westeurope: 2, northeurope: 1 },
    },
    {
      name: "Regular agents ignore the Spot cores",
      request: { agentCount: 2, cpu: 2, priority: "Regular" },
      regions: [region("westeurope", { ContainerGroups: [0, 100], StandardCores: [0, 10], StandardSpotCores: [10, 10] })],
      placed: { westeurope: 2 },
    },
    {
      name: "a region with no room is passed over",
      request: { agentCount: 2, cpu: 2, priority: "Regular" },
      regions: [region("westeurope", { ContainerGroups: [0, 100], StandardCores: [9, 10] }), region("northeurope", { ContainerGroups: [0, 100], StandardCores: [0, 2] }), roomy("eastus")],
      placed: { northeurope: 1, eastus: 1 },
    },
    {
      name: "a quota the listing does not name does not limit",
      request: { agentCount: 5, cpu: 2, priority: "Spot" },
      regions: [region("westeurope", { ContainerGroups: [0, 100] })],
      placed: { westeurope: 5 },
    },
    {
      name: "usage over the limit leaves no room",
      request: { agentCount: 1, cpu: 1, priority: "Regular" },
      regions: [region("westeurope", { ContainerGroups: [0, 100], StandardCores: [12, 10] }), roomy("northeurope")],
      placed: { northeurope: 1 },
    },
  ];
  for (const { name, request, regions, placed } of cases) {
    it(name, () => {
      const plan = planFleet(request, regions);
      assert.equal(plan.placement.length, request.agentCount);
      assert.deepEqual(Object.fromEntries(plan.regions.filter((r) => r.agents > 0).map((r) => [r.region, r.agents])), placed);
      // In order: the first agents in the first region with room.
      assert.deepEqual(plan.placement, Object.entries(placed).flatMap(([r, count]) => Array<string>(count).fill(r)));
    });
  }

  it("refuses a fleet that does not fit, naming per region the cores and groups left, what the rest needs, and the ways out", () => {
    const refused = (() => {
      try {
        planFleet({ agentCount: 8, cpu: 2, priority: "Regular" }, [region("westeurope", { ContainerGroups: [2, 100], StandardCores: [4, 10] })]);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    assert.ok(refused instanceof InputError);
    assert.equal(refused.problems.length, 1);
    const [problem = ""] = refused.problems;
    assert.match(problem, /^agentCount: 8 agent\(s\) of 2 CPU \(2 StandardCores each\) need 16 StandardCores and 8 ContainerGroups in all/);
    assert.match(problem, /westeurope: 6 of 10 StandardCores and 98 of 100 ContainerGroups left, room for 3/);
    assert.match(problem, /the other 5 need 10 StandardCores and 5 ContainerGroups more/);
    assert.match(problem, /Nothing was created/);
    assert.match(problem, /Lower agentCount or cpu, add regions with room to fallbackLocations, or request more quota on the Azure portal's Quotas page \(provider: Container Instances\) for westeurope/);
  });

  it("names every region when none has room for the rest, Spot by its own quota", () => {
    assert.throws(
      () => planFleet({ agentCount: 3, cpu: 1, priority: "Spot" }, [region("westeurope", { ContainerGroups: [0, 100], StandardSpotCores: [10, 10] }), region("northeurope", { ContainerGroups: [100, 100], StandardSpotCores: [0, 10] })]),
      (error: unknown) =>
        error instanceof InputError &&
        /westeurope: 0 of 10 StandardSpotCores and 100 of 100 ContainerGroups left, room for 0; northeurope: 10 of 10 StandardSpotCores and 0 of 100 ContainerGroups left, room for 0/.test(error.message),
    );
  });
});

describe("describePlan", () => {
  it("names the agents per region and the cores left there", () => {
    const plan = planFleet({ agentCount: 8, cpu: 2, priority: "Regular" }, [region("westeurope", { ContainerGroups: [0, 100], StandardCores: [4, 10] }), region("northeurope", { ContainerGroups: [0, 100], StandardCores: [0, 400] })]);
    assert.equal(describePlan(plan), "3 agent(s) in westeurope (6 of 10 StandardCores left), 5 in northeurope (400 of 400 StandardCores left)");
  });
});

describe("regionsOf", () => {
  const plan = planFleet({ agentCount: 4, cpu: 2, priority: "Regular" }, [
    region("westeurope", { ContainerGroups: [0, 100], StandardCores: [6, 10] }),
    region("northeurope", { ContainerGroups: [0, 100], StandardCores: [10, 10] }),
    roomy("eastus"),
    roomy("uksouth"),
  ]);
  const cases: [string, string[]][] = [
    ["westeurope", ["westeurope", "eastus", "uksouth", "northeurope"]],
    ["eastus", ["eastus", "uksouth", "westeurope", "northeurope"]],
  ];
  for (const [planned, order] of cases) it(`an agent planned in ${planned} tries ${order.join(", ")}`, () => { assert.deepEqual(regionsOf(plan, planned), order); });
});
