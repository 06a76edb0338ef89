import { strict as assert } from "node:assert";
import { scopeLabel, stopSummary, summaryFileName } from "../../../src/stop/summary";
import { stopConfigWith } from "./fixtures";

describe("stopSummary", () => {
  it("tabulates what was removed and lists what was not", () => {
    const text = stopSummary(stopConfigWith({ scope: "expired" }), {
      removed: [
        { name: "azp-1-1-1", createdAt: "2026-03-01T10:00:00Z", lifetimeMs: 90_500, removedGroup: true, removedRegistration: true, logFile: "/tmp/azp-1-1-1.log" },
        { name: "azp-2-1-1", createdAt: undefined, lifetimeMs: undefined, removedGroup: false, removedRegistration: true, logFile: undefined },
      ],
      leftovers: [{ name: "azp-3-1-1", reason: "InternalServerError: boom" }],
    });
    assert.match(text, /^## ACI agents removed \(scope: expired\)$/m);
    assert.match(text, /2 agent\(s\) removed from resource group \*\*ci-agents\*\* and pool \*\*aci\*\*\./);
    assert.match(text, /^\| azp-1-1-1 \| 2026-03-01T10:00:00Z \| 90\.5 s \| container group \+ registration \| attached \|$/m);
    assert.match(text, /^\| azp-2-1-1 \| – \| – \| registration \| – \|$/m);
    assert.match(text, /^### Not removed$/m);
    assert.match(text, /^- \*\*azp-3-1-1\*\*: InternalServerError: boom$/m);
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
