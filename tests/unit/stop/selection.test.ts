// The pure rules that decide what AciAgentStop removes, table by table.
import { strict as assert } from "node:assert";
import { AzureError } from "../../../src/azure/aci";
import { DevOpsError, type PoolAgent } from "../../../src/devops/client";
import { NEVER_EXPIRES, OWN_TAGS } from "../../../src/run/tags";
import { hasStopped, isBusy, isExpired, isOurs, isRunAgentName, leftoverMessage, staleRegistrations } from "../../../src/stop/runStop";
import { groupSnapshot, ownTags, poolAgent, stopConfigWith } from "./fixtures";

describe("stop selection rules", () => {
  describe("isOurs", () => {
    const cases: [string, Record<string, string>, boolean][] = [
      ["every tag of the start task", ownTags("azp-1-1-1"), true],
      ["only the run tag", { [OWN_TAGS.run]: "contoso/p/1" }, true],
      ["no tags", {}, false],
      ["an expiry tag but no run tag", { [OWN_TAGS.expires]: "2020-01-01T00:00:00Z", [OWN_TAGS.pool]: "aci" }, false],
      ["user tags only", { team: "platform", "cost-center": "42" }, false],
    ];
    for (const [title, tags, expected] of cases) {
      it(`${expected ? "claims" : "does not claim"} a group with ${title}`, () => {
        assert.equal(isOurs(groupSnapshot("g", { tags })), expected);
      });
    }
  });

  describe("isExpired", () => {
    const now = Date.parse("2026-03-01T12:00:00Z");
    const cases: [string, string | undefined, boolean][] = [
      ["an expiry an hour ago", "2026-03-01T11:00:00Z", true],
      ["an expiry a year ago", "2025-03-01T12:00:00Z", true],
      ["an expiry exactly now", "2026-03-01T12:00:00Z", true],
      ["an expiry a second from now", "2026-03-01T12:00:01Z", false],
      ["an expiry with an offset, passed in UTC", "2026-03-01T13:30:00+02:00", true],
      ["an expiry with an offset, still ahead in UTC", "2026-03-01T13:30:00-02:00", false],
      [`'${NEVER_EXPIRES}' (no lifetime limit)`, NEVER_EXPIRES, false],
      ["no expiry tag", undefined, false],
      ["an expiry that is no date", "soon", false],
      ["an empty expiry", "", false],
    ];
    for (const [title, expires, expected] of cases) {
      it(`${expected ? "is" : "is not"} expired with ${title}`, () => {
        const tags: Record<string, string> = { [OWN_TAGS.run]: "r" };
        if (expires !== undefined) tags[OWN_TAGS.expires] = expires;
        assert.equal(isExpired(groupSnapshot("g", { tags }), now), expected);
      });
    }
  });

  describe("hasStopped", () => {
    const cases: [string | undefined, boolean][] = [
      ["Stopped", true],
      ["Succeeded", true],
      ["Failed", true],
      ["Running", false],
      ["Pending", false],
      [undefined, false],
    ];
    for (const [state, expected] of cases) {
      it(`${expected ? "treats" : "does not treat"} a group in state ${state ?? "(none: list items have no instance view)"} as stopped`, () => {
        assert.equal(hasStopped(groupSnapshot("g", { state })), expected);
      });
    }
  });

  describe("isRunAgentName", () => {
    const cases: [string, string, string, boolean][] = [
      ["azp-42-1-1", "azp", "42", true],
      ["azp-42-2-17", "azp", "42", true],
      ["AZP-42-1-1", "azp", "42", true],
      ["linux-x64-42-1-3", "linux-x64", "42", true],
      ["azp-420-1-1", "azp", "42", false],
      ["azp-4-1-1", "azp", "42", false],
      ["azp-42-1", "azp", "42", false],
      ["azp-42-1-1-1", "azp", "42", false],
      ["azp-42-1-x", "azp", "42", false],
      ["xazp-42-1-1", "azp", "42", false],
      ["other-42-1-1", "azp", "42", false],
      ["my.pfx-42-1-1", "my.pfx", "42", true],
      ["myXpfx-42-1-1", "my.pfx", "42", false],
      ["azp-42-1-1", "a+", "42", false],
      ["linux-42-1-1", "*", "42", true],
      ["win-x64-42-2-3", "*", "42", true],
      ["azp-420-1-1", "*", "42", false],
      ["42-1-1", "*", "42", false],
      ["-42-1-1", "*", "42", false],
    ];
    for (const [name, prefix, runId, expected] of cases) {
      it(`${expected ? "matches" : "does not match"} ${name} for prefix ${prefix} and run ${runId}`, () => {
        assert.equal(isRunAgentName(name, prefix, runId), expected);
      });
    }
  });

  describe("staleRegistrations", () => {
    const registrations: PoolAgent[] = [
      poolAgent(1, "azp-10-1-1", "offline"),
      poolAgent(2, "azp-10-1-2", "online"),
      poolAgent(3, "azp-11-1-1", "offline"),
      poolAgent(4, "AZP-12-1-1", "offline"),
      poolAgent(5, "other-10-1-1", "offline"),
      poolAgent(6, "azp-linux-10-1-1", "offline"),
      poolAgent(7, "azp-10-1", "offline"),
      poolAgent(8, "my-own-build-machine", "offline"),
    ];

    const cases: [string, string, string[], number[]][] = [
      ["offline agents named like ours, whatever the run", "azp", [], [1, 3, 4]],
      ["not those whose group is live (they may be registering), ignoring case", "azp", ["azp-11-1-1", "azp-12-1-1"], [1]],
      ["only the given prefix, not a longer one that starts with it", "azp-linux", [], [6]],
      ["nothing for a prefix nobody uses", "nobody", [], []],
    ];
    for (const [title, prefix, live, expectedIds] of cases) {
      it(`selects ${title}`, () => {
        const stale = staleRegistrations(registrations, prefix, new Set(live), Date.parse("2026-03-01T12:00:00Z"));
        assert.deepEqual(
          stale.map((a) => a.id),
          expectedIds,
        );
      });
    }
  });

  describe("isBusy", () => {
    const cases: [string, unknown, boolean][] = [
      ["Azure DevOps' 400 for an agent running a job", new DevOpsError('Azure DevOps answered 400: Agent "azp-1-1-1" is running a job for pool "aci"', 400, "TaskAgentJobStillRunningException"), true],
      ["a 409 that says busy", new DevOpsError("Azure DevOps answered 409: the agent is busy", 409), true],
      ["a 400 about something else", new DevOpsError("Azure DevOps answered 400: bad request", 400), false],
      ["a 403", new DevOpsError("Azure DevOps answered 403: Access denied. Needs Manage permissions", 403), false],
      ["a 500 that mentions a job", new DevOpsError("Azure DevOps answered 500: running a job failed", 500), false],
      ["a plain Error that mentions a job", new Error("Agent is running a job"), false],
      ["an ARM error", new AzureError("busy", "Conflict", 409), false],
      ["no error at all", undefined, false],
    ];
    for (const [title, error, expected] of cases) {
      it(`${expected ? "retries" : "does not retry"} ${title}`, () => {
        assert.equal(isBusy(error), expected);
      });
    }
  });

  describe("leftoverMessage", () => {
    const config = stopConfigWith({ resourceGroup: "rg-agents", pool: "linux-pool" });
    const message = leftoverMessage(config, [
      { name: "azp-1234-1-2", reason: "InternalServerError: boom" },
      { name: "azp-1234-1-3", reason: 'Azure DevOps answered 400: Agent "azp-1234-1-3" is running a job' },
    ]);

    it("counts what is left and says the rest was removed", () => {
      assert.match(message, /^Could not remove 2 agent\(s\); everything else was removed\./);
    });

    it("names each leftover with its reason", () => {
      assert.match(message, /^azp-1234-1-2: InternalServerError: boom$/m);
      assert.match(message, /^azp-1234-1-3: Azure DevOps answered 400: .*running a job$/m);
    });

    it("says how to remove them by hand, in this resource group and pool", () => {
      assert.match(message, /az container delete --resource-group rg-agents --name <name> --yes/);
      assert.match(message, /pool 'linux-pool'/);
      assert.match(message, /run this step again/);
    });
  });
});
