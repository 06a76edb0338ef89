import { strict as assert } from "node:assert";
import type { StopResult } from "../../../src/stop/runStop";
import { scopeLabel, stopSummary, summaryFileName } from "../../../src/stop/summary";
import { stopConfigWith } from "./fixtures";

describe("stopSummary", () => {
  const lifetime = (ms: number, atLeast = false) => ({ startedAt: "2026-03-01T10:00:00.000Z", ms, running: false, atLeast });
  const removed: StopResult["removed"] = [
    { name: "azp-1-1-1", createdAt: "2026-03-01T10:00:00Z", hadGroup: true, usage: { lifetime: lifetime(720_000), cpu: 2, memoryGB: 4 }, removedGroup: true, removedRegistration: true, logFile: "/tmp/azp-1-1-1.log" },
    { name: "azp-1-1-2", createdAt: "2026-03-01T10:00:00Z", hadGroup: true, usage: { lifetime: lifetime(90_500, true), cpu: 1, memoryGB: 1.5 }, removedGroup: true, removedRegistration: false, logFile: undefined },
    { name: "azp-1-1-3", createdAt: undefined, hadGroup: true, usage: undefined, removedGroup: true, removedRegistration: true, logFile: undefined },
    { name: "azp-2-1-1", createdAt: undefined, hadGroup: false, usage: undefined, removedGroup: false, removedRegistration: true, logFile: undefined },
  ];

  it("tabulates what was removed and lists what was not", () => {
    const text = stopSummary(stopConfigWith({ scope: "expired" }), { removed, leftovers: [{ name: "azp-3-1-1", reason: "InternalServerError: boom" }] });
    assert.match(text, /^## ACI agents removed \(scope: expired\)$/m);
    assert.match(text, /4 agent\(s\) removed from resource group \*\*ci-agents\*\* and pool \*\*aci\*\*\./);
    assert.match(text, /^\| azp-2-1-1 \| – \| – \| – \| – \| – \| – \| registration \| – \|$/m);
    assert.match(text, /^### Not removed$/m);
    assert.match(text, /^- \*\*azp-3-1-1\*\*: InternalServerError: boom$/m);
  });

  // Each agent's row: lifetime, what it requested, vCPU-s, GB-s and the estimate; then the fleet's total.
  const rows: [string, string][] = [
    ["an agent that ran 720 s at 2 vCPU and 4 GB", "| azp-1-1-1 | 2026-03-01T10:00:00Z | 720.0 s | 2 × 4 | 1,440 | 2,880 | US$0.0197 | container group + registration | attached |"],
    ["an agent that restarted more often than shown", "| azp-1-1-2 | 2026-03-01T10:00:00Z | ≥ 90.5 s | 1 × 1.5 | 90.5 | 135.8 | US$0.0012 | container group | – |"],
    ["an agent whose instance view was not read", "| azp-1-1-3 | – | – | – | – | – | – | container group + registration | – |"],
    ["the total of the agents whose usage is known", "| **total** (2 agent(s); 1 not known) |  |  |  | **1,530.5** | **3,015.8** | **US$0.0209** |  |  |"],
  ];
  for (const [title, row] of rows) {
    it(`shows ${title}`, () => {
      const text = stopSummary(stopConfigWith(), { removed, leftovers: [] });
      assert.ok(text.split("\n").includes(row), `no row\n${row}\nin\n${text}`);
    });
  }

  it("heads the columns vCPU-s, GB-s and cost (estimate), and says where the estimate's prices come from and when they were checked", () => {
    const text = stopSummary(stopConfigWith(), { removed, leftovers: [] });
    assert.match(text, /^\| agent \| created \| lifetime \| vCPU × GB \| vCPU-s \| GB-s \| cost \(estimate\) \| removed \| log \|$/m);
    assert.match(text, /an \*\*estimate\*\* at the East US Linux pay-as-you-go list prices, US\$0\.0000113 per vCPU-second and US\$0\.0000012 per GB-second, checked on 2026-12-06/);
    assert.ok(text.includes("(https://azure.microsoft.com/pricing/details/container-instances/)"), text);
    assert.ok(text.includes("(https://prices.azure.com/api/retail/prices?$filter=serviceName%20eq%20'Container%20Instances'%20and%20armRegionName%20eq%20'eastus')"), text);
  });

  it("shows no total and no price note when no removed agent had a container group", () => {
    const text = stopSummary(stopConfigWith(), { removed: removed.slice(3), leftovers: [] });
    assert.match(text, /^\| agent \| created \| lifetime \| vCPU × GB \| vCPU-s \| GB-s \| cost \(estimate\) \| removed \| log \|$/m);
    assert.doesNotMatch(text, /\*\*total\*\*/);
    assert.doesNotMatch(text, /estimate\*\*/);
  });

  const fileNames: [Record<string, string>, string][] = [
    [{}, "aci-agents-stop-azp-1234.md"],
    [{ namePrefix: "tools" }, "aci-agents-stop-tools-1234.md"],
    [{ namePrefix: "*" }, "aci-agents-stop-1234-every-fleet.md"],
    [{ scope: "expired" }, "aci-agents-stop-1234-expired.md"],
  ];
  for (const [inputs, expected] of fileNames) {
    it(`writes the summary of a stop with ${JSON.stringify(inputs)} to ${expected}, apart from other stops in the job`, () => {
      assert.equal(summaryFileName(stopConfigWith(inputs)), expected);
    });
  }

  const labels: [Record<string, string>, string][] = [
    [{}, "run, fleet azp-1234"],
    [{ namePrefix: "Linux" }, "run, fleet linux-1234"],
    [{ namePrefix: "*" }, "run, every fleet of run 1234"],
    [{ scope: "expired", namePrefix: "gpu" }, "expired"],
    [{ scope: "names", containerGroupNames: "a" }, "names"],
  ];
  for (const [inputs, expected] of labels) {
    it(`labels a stop with ${JSON.stringify(inputs)} '${expected}'`, () => {
      assert.equal(scopeLabel(stopConfigWith(inputs)), expected);
    });
  }

  it("says when there was nothing to remove, with no table and no leftovers", () => {
    const text = stopSummary(stopConfigWith(), { removed: [], leftovers: [] });
    assert.match(text, /^## ACI agents removed \(scope: run, fleet azp-1234\)$/m);
    assert.match(text, /Nothing was left to remove\./);
    assert.doesNotMatch(text, /\| agent \|/);
    assert.doesNotMatch(text, /Not removed/);
  });
});
