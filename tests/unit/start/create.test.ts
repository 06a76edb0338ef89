import { strict as assert } from "node:assert";
import { AzureError } from "../../../src/azure/aci";
import { OWN_TAGS } from "../../../src/run/tags";
import { isCapacityError, isThisStepsGroup } from "../../../src/start/create";

describe("isCapacityError", () => {
  const cases: [string, AzureError, boolean][] = [
    ["ServiceUnavailable", new AzureError("The requested resource is not available in the location 'westus' at this moment.", "ServiceUnavailable", 409), true],
    ["the capacity message under another code", new AzureError("The requested resource is not available in the location 'westus' at this moment.", "Failed", undefined), true],
    ["a region's quota used up", new AzureError("Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota 'StandardCores' exceeded in region 'eastus'. Limit: '10'", "ContainerGroupQuotaReached", 409), true],
    ["an image that cannot be pulled", new AzureError("The image 'x' in container group 'y' is not accessible.", "InaccessibleImage", 400), false],
    ["a refused permission", new AzureError("does not have authorization", "AuthorizationFailed", 403), false],
  ];
  for (const [name, error, expected] of cases) it(`${name}: ${expected ? "try the next region" : "fail"}`, () => { assert.equal(isCapacityError(error), expected); });
});

describe("isThisStepsGroup", () => {
  const ours = { [OWN_TAGS.run]: "contoso/p/1234", [OWN_TAGS.agent]: "azp-1234-1-1", [OWN_TAGS.created]: "2026-03-01T12:00:00Z", [OWN_TAGS.pool]: "aci" };
  const cases: [string, Record<string, string>, boolean][] = [
    ["the same run, agent and creation time", { ...ours }, true],
    ["another step of the run, created at another time", { ...ours, [OWN_TAGS.created]: "2026-03-01T11:59:58Z" }, false],
    ["another run", { ...ours, [OWN_TAGS.run]: "contoso/p/999" }, false],
    ["a group without the extension's tags", {}, false],
  ];
  for (const [name, tags, expected] of cases) it(`${name}: ${expected ? "ours" : "not ours"}`, () => { assert.equal(isThisStepsGroup({ tags }, ours), expected); });
});
