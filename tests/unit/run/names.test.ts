import { strict as assert } from "node:assert";
import { agentNames, fleetDemand, fleetName, runTagValue } from "../../../src/run/names";
import { PROJECT_ID } from "../fixtures";

describe("agentNames", () => {
  const cases = [
    { prefix: "azp", runId: "1234", attempt: 1, count: 1, expected: ["azp-1234-1-1"] },
    { prefix: "ci", runId: "77", attempt: 2, count: 3, expected: ["ci-77-2-1", "ci-77-2-2", "ci-77-2-3"] },
  ];
  for (const { prefix, runId, attempt, count, expected } of cases) {
    it(`names ${count} agent(s) of run ${runId}, attempt ${attempt}`, () => {
      assert.deepEqual(agentNames(prefix, runId, attempt, count), expected);
    });
  }

  it("gives names ACI accepts, the longest at exactly 63 characters", () => {
    const names = agentNames("a".repeat(53), "1234", 1, 50);
    assert.equal(names.at(-1)?.length, 63);
    for (const name of names) {
      assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });
});

describe("runTagValue", () => {
  const cases = [
    { organizationUrl: "https://dev.azure.com/Contoso", expected: `contoso/${PROJECT_ID}/1234` },
    { organizationUrl: "https://contoso.visualstudio.com", expected: `contoso/${PROJECT_ID}/1234` },
    { organizationUrl: "https://tfs.example.com:8443/tfs/DefaultCollection", expected: `tfs.example.com:8443/tfs/defaultcollection/${PROJECT_ID}/1234` },
  ];
  for (const { organizationUrl, expected } of cases) {
    it(`identifies a run of ${organizationUrl}`, () => {
      assert.equal(runTagValue(organizationUrl, PROJECT_ID, "1234"), expected);
    });
  }

  it("is the same for either URL form of one organization", () => {
    assert.equal(runTagValue("https://dev.azure.com/contoso", "p", "1"), runTagValue("https://CONTOSO.visualstudio.com", "p", "1"));
  });
});

describe("fleetName", () => {
  const cases = [
    { prefix: "azp", runId: "1234", expected: "azp-1234" },
    { prefix: "Linux", runId: "77", expected: "linux-77" },
  ];
  for (const { prefix, runId, expected } of cases) {
    it(`names the fleet of prefix ${prefix} in run ${runId} ${expected}, whatever the attempt`, () => {
      assert.equal(fleetName(prefix, runId), expected);
    });
  }

  it("starts every agent name of the fleet", () => {
    for (const name of agentNames("linux", "77", 2, 3)) assert.ok(name.startsWith(`${fleetName("linux", "77")}-`));
  });
});

describe("fleetDemand", () => {
  it("pins a job to one fleet's agents", () => {
    assert.equal(fleetDemand("linux-1234"), "ACI_FLEET -equals linux-1234");
  });
});
