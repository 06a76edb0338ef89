// runStop against in-memory ACI and pool fakes: what each scope selects, what is removed, and
// how busy agents, failures and things already gone are handled.
import { strict as assert } from "node:assert";
import { maskSecrets } from "../../../src/core/masking";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AzureError, type ContainerSnapshot } from "../../../src/azure/aci";
import { RequestTimeout } from "../../../src/core/deadline";
import { InputError } from "../../../src/core/errors";
import { DevOpsError } from "../../../src/devops/client";
import { NEVER_EXPIRES, OWN_TAGS } from "../../../src/run/tags";
import type { StopConfig } from "../../../src/stop/inputs";
import { runStop, type StopResult } from "../../../src/stop/runStop";
import { FakePlatform } from "../../helpers/fakePlatform";
import { FakeAci, FakeClock, FakePools, PROJECT_ID, groupSnapshot, ownTags, poolAgent, stopConfigWith } from "./fixtures";

const OTHER_RUN_TAG = `contoso/${PROJECT_ID}/999`;
const busy = (name: string) => new DevOpsError(`Azure DevOps answered 400: Agent "${name}" is running a job for pool "aci"`, 400, "TaskAgentJobStillRunningException");

/** A secret the step read (a token, a client secret): never in what it writes. */
const STEP_SECRET = "step-secret-0123456789";

describe("runStop", () => {
  let logDirectory: string;
  let aci: FakeAci;
  let pools: FakePools;
  let clock: FakeClock;
  let log: FakePlatform;

  beforeEach(() => {
    logDirectory = mkdtempSync(join(tmpdir(), "aci-stop-unit-"));
    aci = new FakeAci();
    pools = new FakePools();
    clock = new FakeClock();
    log = new FakePlatform({ tempDirectory: logDirectory });
  });

  afterEach(() => {
    rmSync(logDirectory, { recursive: true, force: true });
  });

  function stop(config: StopConfig): Promise<StopResult> {
    return runStop(config, { aci, pools, log, clock, logDirectory, maskSecrets: (text) => maskSecrets(text, [STEP_SECRET]) });
  }

  const removedNames = (result: StopResult) => result.removed.map((r) => r.name).sort();

  describe("scope run", () => {
    it("removes this run's groups and registrations, found by the run tag alone", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }))
        .add(groupSnapshot("azp-1234-1-2", { tags: ownTags("azp-1234-1-2") }))
        .add(groupSnapshot("azp-999-1-1", { tags: ownTags("azp-999-1-1", OTHER_RUN_TAG) }))
        .add(groupSnapshot("web-frontend", { tags: { team: "web" } }));
      pools.add(poolAgent(1, "azp-1234-1-1"), poolAgent(2, "azp-1234-1-2"), poolAgent(3, "azp-999-1-1"), poolAgent(4, "build-box"));

      const result = await stop(stopConfigWith({ collectLogs: "false" }));

      assert.deepEqual(removedNames(result), ["azp-1234-1-1", "azp-1234-1-2"]);
      assert.deepEqual(result.leftovers, []);
      assert.deepEqual([...aci.groups.keys()].sort(), ["azp-999-1-1", "web-frontend"]);
      assert.deepEqual(pools.names, ["azp-999-1-1", "build-box"]);
      for (const removed of result.removed) {
        assert.equal(removed.removedGroup, true);
        assert.equal(removed.removedRegistration, true);
      }
    });

    it("also removes registrations of this run whose group is gone (any attempt), and nothing of other runs", async () => {
      pools.add(poolAgent(1, "azp-1234-1-1", "offline"), poolAgent(2, "azp-1234-2-1", "online"), poolAgent(3, "azp-12345-1-1", "offline"), poolAgent(4, "azp-999-1-1", "offline"));

      const result = await stop(stopConfigWith());

      assert.deepEqual(removedNames(result), ["azp-1234-1-1", "azp-1234-2-1"]);
      assert.deepEqual(pools.names, ["azp-12345-1-1", "azp-999-1-1"]);
      for (const removed of result.removed) {
        assert.equal(removed.removedGroup, false);
        assert.equal(removed.removedRegistration, true);
      }
    });

    describe("fleets: each start step of the run is one, named by its namePrefix", () => {
      beforeEach(() => {
        for (const name of ["azp-1234-1-1", "azp-1234-2-1", "linux-1234-1-1", "linux-1234-1-2", "azp-999-1-1"]) {
          aci.add(groupSnapshot(name, { tags: ownTags(name, name.includes("-999-") ? OTHER_RUN_TAG : undefined) }));
        }
        pools.add(
          poolAgent(1, "azp-1234-1-1"),
          poolAgent(2, "azp-1234-2-1"),
          poolAgent(3, "linux-1234-1-1"),
          poolAgent(4, "linux-1234-1-2"),
          poolAgent(5, "azp-999-1-1"),
          poolAgent(6, "linux-1234-1-3", "offline"),
          poolAgent(7, "azp-1234-1-2", "offline"),
          poolAgent(8, "build-box"),
        );
      });

      it("removes only its own fleet (every attempt of it), found by the fleet tag", async () => {
        const result = await stop(stopConfigWith({ collectLogs: "false" }));
        assert.deepEqual(removedNames(result), ["azp-1234-1-1", "azp-1234-1-2", "azp-1234-2-1"]);
        assert.deepEqual([...aci.groups.keys()].sort(), ["azp-999-1-1", "linux-1234-1-1", "linux-1234-1-2"]);
        assert.deepEqual(pools.names, ["azp-999-1-1", "build-box", "linux-1234-1-1", "linux-1234-1-2", "linux-1234-1-3"]);
      });

      it("removes the fleet its namePrefix names, and no other", async () => {
        const result = await stop(stopConfigWith({ namePrefix: "Linux", collectLogs: "false" }));
        assert.deepEqual(removedNames(result), ["linux-1234-1-1", "linux-1234-1-2", "linux-1234-1-3"]);
        assert.deepEqual([...aci.groups.keys()].sort(), ["azp-1234-1-1", "azp-1234-2-1", "azp-999-1-1"]);
        assert.deepEqual(pools.names, ["azp-1234-1-1", "azp-1234-1-2", "azp-1234-2-1", "azp-999-1-1", "build-box"]);
      });

      it("removes every fleet of the run with namePrefix '*', and nothing of other runs", async () => {
        const result = await stop(stopConfigWith({ namePrefix: "*", collectLogs: "false" }));
        assert.deepEqual(removedNames(result), ["azp-1234-1-1", "azp-1234-1-2", "azp-1234-2-1", "linux-1234-1-1", "linux-1234-1-2", "linux-1234-1-3"]);
        assert.deepEqual([...aci.groups.keys()], ["azp-999-1-1"]);
        assert.deepEqual(pools.names, ["azp-999-1-1", "build-box"]);
      });

      it("places a group without a fleet tag (an older start's) in a fleet by its name", async () => {
        const untagged = ownTags("gpu-1234-1-1");
        Reflect.deleteProperty(untagged, OWN_TAGS.fleet);
        aci.add(groupSnapshot("gpu-1234-1-1", { tags: untagged }));
        assert.deepEqual(removedNames(await stop(stopConfigWith({ namePrefix: "azp", collectLogs: "false" }))), ["azp-1234-1-1", "azp-1234-1-2", "azp-1234-2-1"]);
        assert.deepEqual(removedNames(await stop(stopConfigWith({ namePrefix: "gpu", collectLogs: "false" }))), ["gpu-1234-1-1"]);
      });
    });

    it("matches the run tag of the organization whatever URL form names it", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }));
      const result = await stop(stopConfigWith({ organizationUrl: "https://contoso.visualstudio.com/" }));
      assert.deepEqual(removedNames(result), ["azp-1234-1-1"]);
    });

    it("succeeds with nothing removed when nothing is there, and says so", async () => {
      const result = await stop(stopConfigWith());
      assert.deepEqual(result, { removed: [], leftovers: [] });
      assert.ok(log.messages("info").includes("Nothing to remove."), log.messages("info").join("\n"));
      assert.deepEqual(aci.deleted, []);
    });

    it("counts nothing for what vanished in the meantime, and does not fail on it", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }));
      aci.vanishBeforeDelete.add("azp-1234-1-1");
      // The agent deregistered itself just before: the pool answers 404 (false).
      pools.add(poolAgent(1, "azp-1234-1-1"));
      pools.vanishBeforeDelete.add(1);

      const result = await stop(stopConfigWith({ collectLogs: "false" }));

      assert.deepEqual(result, { removed: [], leftovers: [] });
      assert.deepEqual(aci.deleted, ["azp-1234-1-1"]);
      assert.deepEqual(pools.deleteCalls, [1]);
    });

    it("records when each removed agent was created (its tag)", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1", undefined, undefined, "2026-03-01T11:00:00Z") }));
      const result = await stop(stopConfigWith({ collectLogs: "false" }));
      assert.equal(result.removed[0]?.createdAt, "2026-03-01T11:00:00Z");
    });
  });

  describe("what the run used", () => {
    // FakeClock stands at 12:00; every group was created at 10:00 by its tag, which does not count.
    const ran = (name: string, container: Partial<ContainerSnapshot>) => aci.add(groupSnapshot(name, { tags: ownTags(name), container }));

    it("takes each agent's lifetime from its container's instance view, read (GET) once before its delete, not from the creation tag", async () => {
      ran("azp-1234-1-1", { startTime: "2026-03-01T11:50:00Z" });
      ran("azp-1234-1-2", { state: "Terminated", exitCode: 0, startTime: "2026-03-01T11:00:00Z", finishTime: "2026-03-01T11:12:00Z", requests: { cpu: 1, memoryInGB: 1.5 } });

      const result = await stop(stopConfigWith({ collectLogs: "false" }));

      const usage = Object.fromEntries(result.removed.map((r) => [r.name, r.usage]));
      assert.deepEqual(usage, {
        "azp-1234-1-1": { lifetime: { startedAt: "2026-03-01T11:50:00.000Z", ms: 600_000, running: true, atLeast: false }, cpu: 2, memoryGB: 4 },
        "azp-1234-1-2": { lifetime: { startedAt: "2026-03-01T11:00:00.000Z", ms: 720_000, running: false, atLeast: false }, cpu: 1, memoryGB: 1.5 },
      });
      for (const name of ["azp-1234-1-1", "azp-1234-1-2"]) {
        const calls = aci.calls.filter((c) => c.endsWith(`/${name}`));
        assert.deepEqual(calls, [`get ci-agents/${name}`, `delete ci-agents/${name}`], "one GET, before the delete");
      }
    });

    it("logs one line per agent with its vCPU-seconds, GB-seconds and estimated cost, and one for the total", async () => {
      ran("azp-1234-1-1", { startTime: "2026-03-01T11:48:00Z" });
      ran("azp-1234-1-2", { state: "Terminated", startTime: "2026-03-01T11:00:00Z", finishTime: "2026-03-01T11:12:00Z", requests: { cpu: 1, memoryInGB: 1.5 } });

      await stop(stopConfigWith({ collectLogs: "false" }));

      const lines = log.messages("info").filter((m) => m.startsWith("Used "));
      assert.deepEqual(lines.slice(0, 2).sort(), [
        "Used by azp-1234-1-1: 2 vCPU and 4 GB for 720.0 s = 1,440 vCPU-s and 2,880 GB-s, estimated cost US$0.0197",
        "Used by azp-1234-1-2: 1 vCPU and 1.5 GB for 720.0 s = 720 vCPU-s and 1,080 GB-s, estimated cost US$0.0094",
      ]);
      assert.equal(lines.length, 3, lines.join("\n"));
      assert.match(lines[2] ?? "", /^Used in total by 2 agent\(s\): 2,160 vCPU-s and 3,960 GB-s, estimated cost US\$0\.0292 \(estimate at East US Linux pay-as-you-go list prices, .*checked \d{4}-\d{2}-\d{2}: https:\/\/azure\.microsoft\.com\/pricing\/details\/container-instances\/\)$/);
    });

    it("reads no group twice: scope names already read each group, scope expired each group it did not select by tag", async () => {
      ran("azp-1234-1-1", {});
      ran("azp-1234-1-2", {});
      await stop(stopConfigWith({ scope: "names", containerGroupNames: "azp-1234-1-1,azp-1234-1-2", collectLogs: "false" }));
      assert.deepEqual(aci.calls.filter((c) => c.startsWith("get ")).sort(), ["get ci-agents/azp-1234-1-1", "get ci-agents/azp-1234-1-2"]);

      aci.calls.length = 0;
      const past = "2026-03-01T11:59:00Z";
      aci.add(groupSnapshot("azp-1-1-1", { tags: ownTags("azp-1-1-1", "contoso/p/1", past) })).add(groupSnapshot("azp-3-1-1", { tags: ownTags("azp-3-1-1", "contoso/p/3"), state: "Succeeded" }));
      const result = await stop(stopConfigWith({ scope: "expired", collectLogs: "false" }));
      // 1 expired by its tag (read once, for its usage); 3 was read to see that it stopped.
      assert.deepEqual(aci.calls.filter((c) => c.startsWith("get ")).sort(), ["get ci-agents/azp-1-1-1", "get ci-agents/azp-3-1-1"]);
      assert.ok(result.removed.every((r) => r.usage?.lifetime?.ms === 600_000), JSON.stringify(result.removed));
    });

    it("still deletes a group whose instance view cannot be read, with a warning, and counts it as not known", async () => {
      ran("azp-1234-1-1", {});
      ran("azp-1234-1-2", {});
      aci.getFailures.set("azp-1234-1-2", new AzureError("Internal error", "InternalServerError", 500));

      const result = await stop(stopConfigWith({ collectLogs: "false" }));

      assert.deepEqual(aci.deleted.sort(), ["azp-1234-1-1", "azp-1234-1-2"]);
      assert.deepEqual(result.leftovers, []);
      assert.equal(result.removed.find((r) => r.name === "azp-1234-1-2")?.usage, undefined);
      assert.ok(log.messages("warning").includes("azp-1234-1-2: could not read its instance view, so what it used is not counted: InternalServerError: Internal error"), log.messages("warning").join("\n"));
      assert.ok(log.messages("info").some((m) => m.startsWith("Used in total by 1 agent(s) (1 more not known): 1,200 vCPU-s")), log.messages("info").join("\n"));
    });

    it("logs no usage line for an agent removed without a container group (its registration alone)", async () => {
      ran("azp-1234-1-1", {});
      pools.add(poolAgent(1, "azp-1234-1-1"), poolAgent(2, "azp-1234-1-2", "offline"));
      const result = await stop(stopConfigWith({ collectLogs: "false" }));
      assert.equal(result.removed.length, 2);
      const lines = log.messages("info").filter((m) => m.startsWith("Used "));
      assert.equal(lines.length, 2, lines.join("\n"));
      assert.match(lines[0] ?? "", /^Used by azp-1234-1-1: /);
      assert.match(lines[1] ?? "", /^Used in total by 1 agent\(s\): /);
    });
  });

  describe("scope names", () => {
    it("removes exactly the named groups and their registrations", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }))
        .add(groupSnapshot("azp-1234-1-2", { tags: ownTags("azp-1234-1-2") }))
        .add(groupSnapshot("azp-1234-1-3", { tags: ownTags("azp-1234-1-3") }));
      pools.add(poolAgent(1, "azp-1234-1-1"), poolAgent(3, "azp-1234-1-3"));

      const result = await stop(stopConfigWith({ scope: "names", containerGroupNames: "azp-1234-1-1,azp-1234-1-2", collectLogs: "false" }));

      assert.deepEqual(removedNames(result), ["azp-1234-1-1", "azp-1234-1-2"]);
      assert.deepEqual([...aci.groups.keys()], ["azp-1234-1-3"]);
      assert.deepEqual(pools.names, ["azp-1234-1-3"]);
    });

    it("refuses a group this extension did not create, naming it and the input, before removing anything", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") })).add(groupSnapshot("database", { tags: { team: "data" } }));
      pools.add(poolAgent(1, "azp-1234-1-1"));

      await assert.rejects(
        stop(stopConfigWith({ scope: "names", containerGroupNames: "azp-1234-1-1,database" })),
        (error: unknown) => error instanceof InputError && /^containerGroupNames: database was not created by this extension/.test(error.message),
      );
      assert.deepEqual(aci.deleted, []);
      assert.deepEqual(pools.deleteCalls, []);
      assert.deepEqual(log.uploadedFiles, []);
      assert.equal(aci.groups.size, 2);
    });

    it("names every foreign group in one message", async () => {
      aci.add(groupSnapshot("db-1")).add(groupSnapshot("db-2", { tags: { [`aci-agents-expires`]: "2020-01-01T00:00:00Z" } }));
      await assert.rejects(stop(stopConfigWith({ scope: "names", containerGroupNames: "db-1,db-2" })), /containerGroupNames: db-1, db-2 were not created by this extension/);
    });

    it("removes the registration of a named agent whose group is already gone, and passes over a name that is gone entirely", async () => {
      pools.add(poolAgent(1, "azp-1234-1-1", "offline"));
      const result = await stop(stopConfigWith({ scope: "names", containerGroupNames: "azp-1234-1-1,azp-1234-1-2" }));
      assert.deepEqual(removedNames(result), ["azp-1234-1-1"]);
      assert.deepEqual(result.leftovers, []);
      assert.deepEqual(pools.names, []);
    });
  });

  describe("scope expired", () => {
    it("removes expired and stopped groups of this extension and stale registrations, nothing live or foreign", async () => {
      const past = "2026-03-01T11:59:00Z";
      aci.add(groupSnapshot("azp-1-1-1", { tags: ownTags("azp-1-1-1", "contoso/p/1", past) }))
        .add(groupSnapshot("azp-2-1-1", { tags: ownTags("azp-2-1-1", "contoso/p/2") }))
        .add(groupSnapshot("azp-3-1-1", { tags: ownTags("azp-3-1-1", "contoso/p/3"), state: "Succeeded" }))
        .add(groupSnapshot("azp-4-1-1", { tags: ownTags("azp-4-1-1", "contoso/p/4", NEVER_EXPIRES) }))
        .add(groupSnapshot("azp-5-1-1", { tags: ownTags("azp-5-1-1", "other-org/p/5", past) }))
        .add(groupSnapshot("legacy", { tags: { "aci-agents-expires": past } }));
      pools.add(
        poolAgent(1, "azp-1-1-1", "online"),
        poolAgent(2, "azp-2-1-1", "offline"),
        poolAgent(6, "azp-6-1-1", "offline"),
        poolAgent(7, "azp-7-1-1", "online"),
        poolAgent(8, "build-box", "offline"),
      );

      const result = await stop(stopConfigWith({ scope: "expired", collectLogs: "false" }));

      // 1 and 5 expired (any run, any organization), 3 has stopped, 6 is an offline leftover.
      assert.deepEqual(removedNames(result), ["azp-1-1-1", "azp-3-1-1", "azp-5-1-1", "azp-6-1-1"]);
      assert.deepEqual([...aci.groups.keys()].sort(), ["azp-2-1-1", "azp-4-1-1", "legacy"]);
      // 2 is offline but its group is live (it may still be registering); 7 is online.
      assert.deepEqual(pools.names, ["azp-2-1-1", "azp-7-1-1", "build-box"]);
      // The state of a group that has not expired is read, since list items carry none.
      assert.ok(aci.calls.includes("get ci-agents/azp-3-1-1"), aci.calls.join("\n"));
    });

    it("uses namePrefix for stale registrations", async () => {
      pools.add(poolAgent(1, "azp-6-1-1", "offline"), poolAgent(2, "gpu-6-1-1", "offline"));
      const result = await stop(stopConfigWith({ scope: "expired", namePrefix: "gpu" }));
      assert.deepEqual(removedNames(result), ["gpu-6-1-1"]);
      assert.deepEqual(pools.names, ["azp-6-1-1"]);
    });
  });

  describe("busy agents", () => {
    it("retries deregistration while Azure DevOps says the agent is running a job, with growing pauses", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }));
      pools.add(poolAgent(1, "azp-1234-1-1"));
      pools.deleteErrors.set(1, [busy("azp-1234-1-1"), busy("azp-1234-1-1"), busy("azp-1234-1-1")]);

      const result = await stop(stopConfigWith({ collectLogs: "false" }));

      assert.deepEqual(removedNames(result), ["azp-1234-1-1"]);
      assert.deepEqual(pools.deleteCalls, [1, 1, 1, 1]);
      assert.deepEqual(clock.sleeps, [1000, 1500, 2250]);
      assert.equal(log.messages("info").filter((m) => m.includes("still busy; retrying")).length, 3);
      assert.deepEqual(pools.names, []);
      assert.equal(aci.groups.size, 0);
    });

    it("gives up after eight attempts and names the agent as left over", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") })).add(groupSnapshot("azp-1234-1-2", { tags: ownTags("azp-1234-1-2") }));
      pools.add(poolAgent(1, "azp-1234-1-1"), poolAgent(2, "azp-1234-1-2"));
      pools.deleteAlways.set(1, busy("azp-1234-1-1"));

      const result = await stop(stopConfigWith({ collectLogs: "false" }));

      assert.equal(pools.deleteCalls.filter((id) => id === 1).length, 8);
      assert.ok(clock.sleeps.every((ms) => ms <= 5000), clock.sleeps.join(", "));
      assert.deepEqual(removedNames(result), ["azp-1234-1-2"]);
      assert.deepEqual(result.leftovers.map((l) => l.name), ["azp-1234-1-1"]);
      assert.match(result.leftovers[0]?.reason ?? "", /running a job/);
    });

    it("does not retry other refusals", async () => {
      pools.add(poolAgent(1, "azp-1234-1-1", "offline"));
      pools.deleteAlways.set(1, new DevOpsError("Azure DevOps answered 403: Access denied", 403));
      const result = await stop(stopConfigWith());
      assert.deepEqual(pools.deleteCalls, [1]);
      assert.deepEqual(clock.sleeps, []);
      assert.deepEqual(result.leftovers.map((l) => l.name), ["azp-1234-1-1"]);
      assert.match(result.leftovers[0]?.reason ?? "", /registration was not removed: Azure DevOps answered 403: Access denied$/);
    });
  });

  describe("failures", () => {
    it("still deletes the container group when the pool refuses to deregister its agent, and names the registration as left over", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }));
      pools.add(poolAgent(1, "azp-1234-1-1"));
      pools.deleteAlways.set(1, new DevOpsError("Azure DevOps answered 403: Access denied. Needs Manage permissions for pool aci", 403));

      const result = await stop(stopConfigWith({ collectLogs: "false" }));

      assert.deepEqual(result.leftovers.map((l) => l.name), ["azp-1234-1-1"]);
      assert.match(result.leftovers[0]?.reason ?? "", /403/);
      // A running agent that cannot be deregistered still takes jobs and costs money: its group must go.
      assert.deepEqual(aci.deleted, ["azp-1234-1-1"], "the container group was not deleted");
      assert.equal(aci.groups.size, 0);
    });

    it("removes everything else when one group cannot be deleted, and says why that one is left", async () => {
      for (const name of ["azp-1234-1-1", "azp-1234-1-2", "azp-1234-1-3"]) aci.add(groupSnapshot(name, { tags: ownTags(name) }));
      aci.deleteFailures.set("azp-1234-1-2", new AzureError("Internal error", "InternalServerError", 500));

      const result = await stop(stopConfigWith({ collectLogs: "false" }));

      assert.deepEqual(removedNames(result), ["azp-1234-1-1", "azp-1234-1-3"]);
      assert.deepEqual(result.leftovers, [{ name: "azp-1234-1-2", reason: "InternalServerError: Internal error" }]);
      assert.deepEqual([...aci.groups.keys()], ["azp-1234-1-2"]);
    });

    it("still removes the groups when the pool is not visible, with a warning naming the pool", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }));
      pools.hidden = true;
      const result = await stop(stopConfigWith({ collectLogs: "false" }));
      assert.deepEqual(removedNames(result), ["azp-1234-1-1"]);
      assert.equal(result.removed[0]?.removedRegistration, false);
      assert.ok(log.messages("warning").some((w) => w.startsWith("pool: no agent pool 'aci'")), log.messages("warning").join("\n"));
    });

    it("removes the agents concurrently, not one after the other", async () => {
      for (let i = 1; i <= 20; i++) aci.add(groupSnapshot(`azp-1234-1-${i}`, { tags: ownTags(`azp-1234-1-${i}`) }));
      const result = await stop(stopConfigWith({ collectLogs: "false" }));
      assert.equal(result.removed.length, 20);
      assert.ok(aci.maxDeletesInFlight > 1, `only ${aci.maxDeletesInFlight} delete in flight at a time`);
    });
  });

  describe("Azure DevOps down or hanging", () => {
    const down = () => new DevOpsError("Azure DevOps answered 503: Service Unavailable", 503, "");
    const runGroups = () =>
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") })).add(groupSnapshot("azp-1234-1-2", { tags: ownTags("azp-1234-1-2") }));

    for (const [call, breakIt, reason] of [
      ["the pool lookup fails", () => { pools.lookupFailures.findPool = down(); }, /Azure DevOps answered 503/],
      ["the agent listing fails", () => { pools.lookupFailures.listAgents = down(); }, /Azure DevOps answered 503/],
      ["the agent listing gets no answer in time", () => { pools.lookupFailures.listAgents = new RequestTimeout("Azure DevOps: GET https://dev.azure.com/contoso/_apis/distributedtask/pools/7/agents", 60_000); }, /no answer within 60 s/],
    ] as const) {
      it(`deletes every group it found when ${call}, and names each registration and the pool as left over`, async () => {
        runGroups();
        pools.add(poolAgent(1, "azp-1234-1-1"), poolAgent(2, "azp-1234-1-2"));
        breakIt();

        const result = await stop(stopConfigWith({ collectLogs: "false" }));

        assert.deepEqual([...aci.groups.keys()], []);
        assert.deepEqual(aci.deleted.sort(), ["azp-1234-1-1", "azp-1234-1-2"]);
        assert.deepEqual(result.leftovers.map((l) => l.name), ["azp-1234-1-1", "azp-1234-1-2", "pool 'aci'"]);
        for (const leftover of result.leftovers.slice(0, 2)) {
          assert.match(leftover.reason, /^container group deleted, but its agent registration could not be checked: /);
          assert.match(leftover.reason, reason);
        }
        assert.match(result.leftovers[2]?.reason ?? "", /registrations could not be read, so none were removed: /);
        assert.match(result.leftovers[2]?.reason ?? "", reason);
        assert.deepEqual(pools.deleteCalls, []);
      });
    }

    it("deletes the named groups when Azure DevOps refuses the registration credentials, naming the input", async () => {
      runGroups();
      pools.lookupFailures.findPool = new DevOpsError("Azure DevOps answered 401: the PAT is not valid", 401, "");

      const result = await stop(stopConfigWith({ scope: "names", containerGroupNames: "azp-1234-1-1,azp-1234-1-2", collectLogs: "false" }));

      assert.deepEqual([...aci.groups.keys()], []);
      assert.equal(result.leftovers.length, 3);
      assert.match(result.leftovers[0]?.reason ?? "", /registrationToken: Azure DevOps answered 401/);
    });

    it("sends every group's delete while Azure DevOps does not answer at all", async () => {
      runGroups();
      pools.hangs = true;

      void stop(stopConfigWith({ collectLogs: "false" }));

      for (let turn = 0; turn < 20 && aci.deleted.length < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(aci.deleted.sort(), ["azp-1234-1-1", "azp-1234-1-2"]);
    });
  });

  describe("collectLogs", () => {
    it("writes each container's log to a file, attaches it, then deletes the group, with one output line per container", async () => {
      const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }), `${lines.join("\n")}\n`);
      aci.add(groupSnapshot("azp-1234-1-2", { tags: ownTags("azp-1234-1-2") }), "");

      const result = await stop(stopConfigWith());

      const file1 = join(logDirectory, "azp-1234-1-1.log");
      const file2 = join(logDirectory, "azp-1234-1-2.log");
      assert.deepEqual([...log.uploadedFiles].sort(), [file1, file2]);
      assert.equal(readFileSync(file1, "utf8"), `${lines.join("\n")}\n`);
      assert.equal(readFileSync(file2, "utf8"), "");
      assert.deepEqual(result.removed.map((r) => r.logFile).sort(), [file1, file2]);
      assert.deepEqual(log.messages("infoExternal"), [], "the log is attached, not printed");
      for (const name of ["azp-1234-1-1", "azp-1234-1-2"]) {
        assert.deepEqual(log.messages("info").filter((line) => line.includes(name) && !line.startsWith("Removing") && !line.startsWith("Used by")), [`${name}: container group deleted, log attached`]);
      }
      // The log is read before the group goes.
      const order = aci.calls.filter((c) => c.includes("azp-1234-1-1"));
      assert.ok(order.indexOf("logs ci-agents/azp-1234-1-1/azp-1234-1-1") < order.indexOf("delete ci-agents/azp-1234-1-1"), order.join("\n"));
    });

    it("warns and still deletes the group when its log cannot be read", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }));
      aci.logFailures.set("azp-1234-1-1", new AzureError("The container is not running", "ContainerGroupNotRunning", 409));
      const result = await stop(stopConfigWith());
      assert.deepEqual(removedNames(result), ["azp-1234-1-1"]);
      assert.equal(result.removed[0]?.logFile, undefined);
      assert.ok(log.messages("warning").some((w) => w.startsWith("azp-1234-1-1: could not read its log: ContainerGroupNotRunning")), log.messages("warning").join("\n"));
      assert.deepEqual(log.uploadedFiles, []);
    });

    it("masks every secret the step knows in the attached log", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }), `configuring with ${STEP_SECRET}\nonline\n`);
      const result = await stop(stopConfigWith());
      const file = result.removed[0]?.logFile;
      assert.ok(file !== undefined);
      assert.equal(readFileSync(file, "utf8"), "configuring with ***\nonline\n");
    });

    it("reads no log when collectLogs is false", async () => {
      aci.add(groupSnapshot("azp-1234-1-1", { tags: ownTags("azp-1234-1-1") }), "hello");
      await stop(stopConfigWith({ collectLogs: "false" }));
      assert.ok(!aci.calls.some((c) => c.startsWith("logs ")), aci.calls.join("\n"));
      assert.deepEqual(log.uploadedFiles, []);
    });
  });
});
