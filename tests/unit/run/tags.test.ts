import { strict as assert } from "node:assert";
import { NEVER_EXPIRES, agentTags, type TagConfig } from "../../../src/run/tags";
import { PROJECT_ID } from "../fixtures";

const NOW = new Date("2026-03-01T10:15:30.123Z");

function tagConfig(maxLifetimeMinutes: number, tags: Record<string, string> = {}): TagConfig {
  return {
    organizationUrl: "https://dev.azure.com/contoso",
    run: { runId: "1234", attempt: 1, projectId: PROJECT_ID },
    namePrefix: "azp",
    pool: "aci",
    maxLifetimeMinutes,
    tags,
  };
}

describe("agentTags", () => {
  it("records the run, fleet, pool, agent and times, with the user's tags", () => {
    assert.deepEqual(agentTags(tagConfig(120, { team: "ci" }), "azp-1234-1-1", NOW), {
      "aci-agents-run": `contoso/${PROJECT_ID}/1234`,
      "aci-agents-fleet": "azp-1234",
      "aci-agents-pool": "aci",
      "aci-agents-agent": "azp-1234-1-1",
      "aci-agents-created": "2026-03-01T10:15:30Z",
      "aci-agents-expires": "2026-03-01T12:15:30Z",
      team: "ci",
    });
  });

  const expiryCases = [
    { maxLifetimeMinutes: 1, expected: "2026-03-01T10:16:30Z" },
    { maxLifetimeMinutes: 24 * 60, expected: "2026-03-02T10:15:30Z" },
    { maxLifetimeMinutes: 0, expected: NEVER_EXPIRES },
  ];
  for (const { maxLifetimeMinutes, expected } of expiryCases) {
    it(`expires ${expected} with maxLifetimeMinutes ${maxLifetimeMinutes}`, () => {
      assert.equal(agentTags(tagConfig(maxLifetimeMinutes), "a", NOW)["aci-agents-expires"], expected);
    });
  }

  it("writes times that parse back to the second", () => {
    const tags = agentTags(tagConfig(30), "a", NOW);
    assert.equal(Date.parse(tags["aci-agents-created"] ?? ""), Date.parse("2026-03-01T10:15:30Z"));
    assert.equal(Date.parse(tags["aci-agents-expires"] ?? ""), Date.parse("2026-03-01T10:45:30Z"));
  });

  it("keeps a never-expiring agent out of any expiry comparison", () => {
    assert.ok(Number.isNaN(Date.parse(NEVER_EXPIRES)));
    const latestDate: string = "9999-12-31T23:59:59Z";
    assert.ok(NEVER_EXPIRES > latestDate);
  });
});
