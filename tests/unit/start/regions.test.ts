import { strict as assert } from "node:assert";
import { containerGroupRegionsOf } from "../../../src/azure/aci";
import { regionProblems } from "../../../src/start/preflight";

describe("containerGroupRegionsOf", () => {
  it("reads the containerGroups resource type's display names as programmatic names", () => {
    const provider = {
      namespace: "Microsoft.ContainerInstance",
      resourceTypes: [
        { resourceType: "locations", locations: ["Mars Central"] },
        { resourceType: "containerGroups", locations: ["East US", "West Europe", "West US 2"] },
      ],
    };
    assert.deepEqual(containerGroupRegionsOf(provider), ["eastus", "westeurope", "westus2"]);
  });

  it("finds none in an answer without the resource type", () => {
    assert.deepEqual(containerGroupRegionsOf({ resourceTypes: [] }), []);
    assert.deepEqual(containerGroupRegionsOf({}), []);
  });
});

describe("regionProblems", () => {
  const offered = ["westeurope", "northeurope", "eastus"];
  const cases: Record<string, { location: string | undefined; fallbackLocations: string[]; resourceGroupRegion?: string; inputs: string[] }> = {
    "all offered": { location: "westeurope", fallbackLocations: ["northeurope", "eastus"], inputs: [] },
    "an unknown location": { location: "mars", fallbackLocations: [], inputs: ["location"] },
    "a typo among the fallbacks": { location: "westeurope", fallbackLocations: ["northeurope", "eastsu"], inputs: ["fallbackLocations"] },
    "both": { location: "mars", fallbackLocations: ["venus"], inputs: ["location", "fallbackLocations"] },
    "the resource group's region without ACI": { location: undefined, fallbackLocations: [], resourceGroupRegion: "antarctica", inputs: ["location"] },
  };
  for (const [name, { location, fallbackLocations, resourceGroupRegion, inputs }] of Object.entries(cases)) {
    it(name, () => {
      const problems = regionProblems({ location, fallbackLocations }, location ?? resourceGroupRegion ?? "", offered);
      assert.deepEqual(problems.map((p) => p.split(":")[0]), inputs);
    });
  }

  it("checks nothing when the regions could not be read", () => {
    assert.deepEqual(regionProblems({ location: "mars", fallbackLocations: [] }, "mars", undefined), []);
  });
});
