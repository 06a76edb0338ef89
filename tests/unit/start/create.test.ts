import { strict as assert } from "node:assert";
import { AzureError } from "../../../src/azure/aci";
import { OWN_TAGS } from "../../../src/run/tags";
import { isWriteRateError } from "../../../src/start/armRate";
import { isCapacityError, isThisStepsGroup, quotaExceeded } from "../../../src/start/create";

describe("isCapacityError", () => {
  const cases: [string, AzureError, boolean][] = [
    ["ServiceUnavailable", new AzureError("The requested resource is not available in the location 'westus' at this moment.", "ServiceUnavailable", 409), true],
    ["the capacity message under another code", new AzureError("The requested resource is not available in the location 'westus' at this moment.", "Failed", undefined), true],
    ["a region's quota used up (quota, not capacity)", new AzureError("Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota 'StandardCores' exceeded in region 'eastus'. Limit: '10'", "ContainerGroupQuotaReached", 409), false],
    ["an image that cannot be pulled", new AzureError("The image 'x' in container group 'y' is not accessible.", "InaccessibleImage", 400), false],
    ["a refused permission", new AzureError("does not have authorization", "AuthorizationFailed", 403), false],
  ];
  for (const [name, error, expected] of cases) it(`${name}: ${expected ? "try the next region" : "fail"}`, () => { assert.equal(isCapacityError(error), expected); });
});

describe("quotaExceeded", () => {
  const published = (quota: string) => `Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota '${quota}' exceeded in region 'eastus'. Limit: '10', Usage: '10' Requested: '1'.`;
  const cases: [string, AzureError, string | undefined][] = [
    ["StandardCores, the published message", new AzureError(published("StandardCores"), "ContainerGroupQuotaReached", 409), "StandardCores"],
    ["ContainerGroups", new AzureError(published("ContainerGroups"), "ContainerGroupQuotaReached", 409), "ContainerGroups"],
    ["StandardSpotCores under another code", new AzureError(published("StandardSpotCores"), "QuotaExceeded", 400), "StandardSpotCores"],
    ["from a failed create operation (no status)", new AzureError(published("StandardCores"), "Failed", undefined), "StandardCores"],
    ["no capacity", new AzureError("The requested resource is not available in the location 'westus' at this moment.", "ServiceUnavailable", 409), undefined],
  ];
  for (const [name, error, expected] of cases) it(`${name}: ${expected ?? "not quota"}`, () => { assert.equal(quotaExceeded(error), expected); });
});

describe("isWriteRateError", () => {
  const cases: [string, AzureError, boolean][] = [
    ["429 with Retry-After", new AzureError("Too many creates", "TooManyRequests", 429, 30_000), true],
    ["429 without Retry-After", new AzureError("throttled", "SubscriptionRequestsThrottled", 429), true],
    ["a quota refusal", new AzureError("container group quota 'StandardCores' exceeded in region 'eastus'", "ContainerGroupQuotaReached", 409), false],
    ["no capacity", new AzureError("not available in the location", "ServiceUnavailable", 409), false],
  ];
  for (const [name, error, expected] of cases) it(`${name}: ${expected ? "wait and try again" : "not the rate"}`, () => { assert.equal(isWriteRateError(error), expected); });
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
