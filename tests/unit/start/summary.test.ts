import { strict as assert } from "node:assert";
import { planFleet } from "../../../src/start/plan";
import type { StartResult } from "../../../src/start/runStart";
import { startSummary } from "../../../src/start/summary";
import { configWith } from "./fixtures";

describe("startSummary", () => {
  const result = (plan: StartResult["plan"]): StartResult => ({
    agents: [{ name: "azp-1234-1-1", location: "westeurope", registeredAfterMs: 500, provisionedAfterMs: 3_000, onlineAfterMs: 8_000 }],
    plan,
    phases: { preflightMs: 400, onlineMs: 7_600, totalMs: 8_000 },
    requests: { arm: 12, devops: 9 },
  });

  it("shows the plan across regions from the quota", () => {
    const plan = planFleet({ agentCount: 8, cpu: 2, priority: "Regular" }, [
      { region: "westeurope", usages: [{ name: "StandardCores", current: 4, limit: 10 }, { name: "ContainerGroups", current: 0, limit: 100 }] },
      { region: "northeurope", usages: [{ name: "StandardCores", current: 0, limit: 400 }, { name: "ContainerGroups", current: 0, limit: 100 }] },
    ]);
    assert.match(startSummary(configWith({ agentCount: "8" }), result(plan)), /^Plan from the Container Instances quota read in pre-flight: 3 agent\(s\) in westeurope \(6 of 10 StandardCores left\), 5 in northeurope \(400 of 400 StandardCores left\)\.$/m);
  });

  it("shows no plan when the usage could not be read", () => {
    assert.doesNotMatch(startSummary(configWith({}), result(undefined)), /Plan/);
  });
});
