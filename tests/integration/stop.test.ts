// Integration: the bundled AciAgentStop@1 (tasks/AciAgentStopV1/dist/main.js) runs as a child
// process, with the environment an Azure Pipelines agent gives it, against the emulated Entra,
// ARM and Azure DevOps; the groups it removes are made by the bundled AciAgentStart@1 or put in
// through ARM. Every test ends by checking that no secret showed in any output line (other than
// ##vso[task.setsecret]), any attached file, or any response.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import {
  agentNamesInPool,
  assertNoSecretLeaks,
  containerLogText,
  groupNames,
  namesOf,
  namesOfBuild,
  nextBuildId,
  ownTags,
  plainOutput,
  putGroup,
  registerAgent,
  requests,
  startAgents,
  startTaskStep,
  stopAgents,
  stopGroup,
  until,
  uploadedFiles,
  useEmulator,
  type Run,
} from "./helpers";

const PAST = "2020-01-01T00:00:00Z";

/** When the first container of a group started, as the emulator's instance view says. */
function containerStartTime(emu: ReturnType<ReturnType<typeof useEmulator>>, groupName: string): string {
  const record = [...emu.state.containerGroups.values()].find((g) => g.name === groupName);
  const container = record === undefined ? undefined : [...record.containers.values()][0];
  assert.ok(container?.startTime !== undefined, `the container of ${groupName} has not started`);
  return container.startTime;
}
const FUTURE = "2099-01-01T00:00:00Z";

function assertSucceeded(run: Run): void {
  assert.equal(run.result, "Succeeded", `${run.step.task} did not succeed: ${run.message}\n${plainOutput(run)}`);
  assert.equal(run.exitCode, 0, plainOutput(run));
}

function assertFailed(run: Run): void {
  assert.equal(run.result, "Failed", `${run.step.task} did not fail:\n${plainOutput(run)}`);
}

describe("AciAgentStop@1 against the emulator (bundle, as the agent runs it)", function () {
  this.timeout(120_000);
  const emulator = useEmulator();

  it("removes the groups and registrations of a successful start, and nothing of another run", async function () {
    const emu = emulator();
    const buildA = nextBuildId();
    const buildB = nextBuildId();
    await startAgents(emu, buildA, 2);
    await startAgents(emu, buildB, 1);
    assert.deepEqual(namesOfBuild(groupNames(emu), buildA), namesOf(buildA, 2));
    assert.deepEqual(namesOfBuild(agentNamesInPool(emu), buildA), namesOf(buildA, 2));

    const stop = await stopAgents(emu, buildA);

    assertSucceeded(stop);
    assert.equal(stop.outputs.removedCount, "2");
    assert.match(stop.message, /Removed 2 agent\(s\) \(scope: run, fleet azp-\d+\)/);
    assert.deepEqual(groupNames(emu), namesOf(buildB, 1));
    assert.deepEqual(agentNamesInPool(emu), namesOf(buildB, 1));
    assert.ok(stop.lines.some((l) => /^##vso\[task\.uploadsummary\].*aci-agents-stop-azp-\d+\.md$/.test(l)), plainOutput(stop));

    // The other run's cleanup job, this time with the job's access token instead of a PAT.
    const stopB = await stopAgents(emu, buildB, { registrationAuth: "accessToken" }, ["registrationToken"]);
    assertSucceeded(stopB);
    assert.equal(stopB.outputs.removedCount, "1");
    assert.deepEqual(groupNames(emu), []);
    assert.deepEqual(agentNamesInPool(emu), []);
    assertNoSecretLeaks(emu);
  });

  it("removes the groups and registrations of agents that already ran their one job and ended (a container never deregisters itself), attaching logs that show the job", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await startAgents(emu, build, 2);
    const pool = emu.state.poolByName(emu.info.pool);
    assert.ok(pool !== undefined);
    const jobs = [1, 2].map((n) => {
      const requestId = emu.state.newId();
      emu.state.jobRequests.set(requestId, {
        requestId,
        poolId: pool.id,
        demands: [`ACI_RUN_ID -equals ${build}`],
        jobName: `build ${n}`,
        script: 'echo "building on $AZP_AGENT_NAME"',
        queueTime: new Date().toISOString(),
      });
      return requestId;
    });
    await until("both jobs to finish", () => jobs.every((id) => emu.state.jobRequests.get(id)?.result !== undefined));
    await until("the ephemeral agents' containers to end", () =>
      [...emu.state.containerGroups.values()].filter((g) => g.name.includes(`-${build}-`)).every((g) => g.state === "Succeeded"));
    assert.equal(namesOfBuild(agentNamesInPool(emu), build).length, 2, "a container removed its own registration");

    const stop = await stopAgents(emu, build);

    assertSucceeded(stop);
    assert.equal(stop.outputs.removedCount, "2");
    assert.deepEqual(groupNames(emu), []);
    assert.deepEqual(namesOfBuild(agentNamesInPool(emu), build), []);
    const logs = uploadedFiles(stop).map((file) => readFileSync(file, "utf8"));
    assert.equal(logs.length, 2);
    for (const log of logs) assert.match(log, /building on azp-\d+-1-[12]/);
    assertNoSecretLeaks(emu);
  });

  it("shows in its summary and log what each agent used, from its container's start in the instance view: vCPU-seconds, GB-seconds and an estimate, and the total", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await startAgents(emu, build, 2, { cpu: "1", memoryGB: "1.5" });
    const names = namesOf(build, 2);
    const started = new Map(names.map((name) => [name, Date.parse(containerStartTime(emu, name))]));
    const groupGets = (name: string) => requests(emu, "arm", "GET", new RegExp(`/containerGroups/${name}$`, "i")).length;
    const getsBefore = new Map(names.map((name) => [name, groupGets(name)]));
    const stopStarted = Date.now();

    const stop = await stopAgents(emu, build, { collectLogs: "false" });

    const stopEnded = Date.now();
    assertSucceeded(stop);
    const summaryFile = stop.lines.map((l) => /^##vso\[task\.uploadsummary\](.+)$/.exec(l)?.[1]?.trim()).find((f) => f !== undefined);
    assert.ok(summaryFile !== undefined, plainOutput(stop));
    const summary = readFileSync(summaryFile, "utf8");
    assert.match(summary, /^\| agent \| created \| lifetime \| vCPU × GB \| vCPU-s \| GB-s \| cost \(estimate\) \| removed \| log \|$/m);
    const number = (text: string | undefined) => Number((text ?? "").replace(/,/g, ""));
    let vCpuSeconds = 0;
    let gbSeconds = 0;
    for (const name of names) {
      const row = new RegExp(`^\\| ${name} \\| [^|]+ \\| ([\\d.,]+) s \\| 1 × 1\\.5 \\| ([\\d.,]+) \\| ([\\d.,]+) \\| (?:<)?US\\$[\\d.]+ \\| container group \\+ registration \\| – \\|$`, "m").exec(summary);
      assert.ok(row !== null, `no usage row for ${name} in\n${summary}`);
      const lifetime = number(row[1]);
      // From the container's start (not the group's creation) until the stop deleted it.
      const start = started.get(name) ?? Number.NaN;
      assert.ok(lifetime * 1000 >= stopStarted - start - 100 && lifetime * 1000 <= stopEnded - start + 100, `${name} lived ${lifetime} s; its container started ${new Date(start).toISOString()}, the stop ran from ${new Date(stopStarted).toISOString()} to ${new Date(stopEnded).toISOString()}`);
      assert.ok(Math.abs(number(row[2]) - lifetime) <= 0.11, `vCPU-s of ${name}: ${row[2]} for ${lifetime} s at 1 vCPU`);
      assert.ok(Math.abs(number(row[3]) - 1.5 * lifetime) <= 0.2, `GB-s of ${name}: ${row[3]} for ${lifetime} s at 1.5 GB`);
      vCpuSeconds += number(row[2]);
      gbSeconds += number(row[3]);
      assert.ok(stop.lines.some((l) => l.startsWith(`Used by ${name}: 1 vCPU and 1.5 GB for ${row[1]} s = ${row[2]} vCPU-s and ${row[3]} GB-s, estimated cost `)), plainOutput(stop));
      // The instance view cost one GET of the group during the stop, no more.
      assert.equal(groupGets(name) - (getsBefore.get(name) ?? 0), 1, `GETs of ${name} during the stop`);
    }
    const total = /^\| \*\*total\*\* \(2 agent\(s\)\) \|[ |]*\*\*([\d.,]+)\*\* \| \*\*([\d.,]+)\*\* \| \*\*(?:<)?US\$[\d.]+\*\* \|/m.exec(summary);
    assert.ok(total !== null, summary);
    assert.ok(Math.abs(number(total[1]) - vCpuSeconds) <= 0.2 && Math.abs(number(total[2]) - gbSeconds) <= 0.2, `total ${total[1]} vCPU-s, ${total[2]} GB-s; rows ${vCpuSeconds}, ${gbSeconds}`);
    assert.match(summary, /an \*\*estimate\*\* at the East US Linux pay-as-you-go list prices, .* checked on \d{4}-\d{2}-\d{2} \(\[Container Instances pricing\]\(https:\/\/azure\.microsoft\.com\/pricing\/details\/container-instances\/\)/);
    assert.ok(stop.lines.some((l) => l.startsWith(`Used in total by 2 agent(s): ${total[1]} vCPU-s and ${total[2]} GB-s, estimated cost `) && l.includes("(estimate at ")), plainOutput(stop));
    assertNoSecretLeaks(emu);
  });

  it("succeeds a second time with removedCount 0", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await startAgents(emu, build, 2);
    const first = await stopAgents(emu, build);
    assertSucceeded(first);
    assert.equal(first.outputs.removedCount, "2");

    const second = await stopAgents(emu, build);

    assertSucceeded(second);
    assert.equal(second.outputs.removedCount, "0");
    assert.ok(second.lines.includes("Nothing to remove."), plainOutput(second));
    assert.equal(requests(emu, "arm", "DELETE", /\/containerGroups\//i).length, 2, "the second stop deleted something");
    assert.deepEqual(groupNames(emu), []);
    assertNoSecretLeaks(emu);
  });

  describe("after a start that set no outputs", function () {
    it("finds by tag alone the groups of a start that was killed, and removes them and their registrations", async function () {
      const emu = emulator();
      const build = nextBuildId();
      // The agents register but never come online, so the start waits until it is killed.
      emu.state.behaviour.agentsNeverOnline = [`azp-${build}-`];
      const start = startTaskStep(emu, "AciAgentStartV1", { buildId: build, inputs: { agentCount: "2" } });
      // The step registers each agent, then creates its group.
      await until("both agents to be registered and their groups created", () => namesOfBuild(agentNamesInPool(emu), build).length === 2 && namesOfBuild(groupNames(emu), build).length === 2);
      start.signal("SIGKILL");
      const killed = await start.done;
      assert.equal(killed.result, undefined, "the killed start completed after all");
      assert.deepEqual(killed.outputs, {}, "the killed start set outputs");
      assert.deepEqual(namesOfBuild(groupNames(emu), build), namesOf(build, 2));

      const stop = await stopAgents(emu, build);

      assertSucceeded(stop);
      assert.equal(stop.outputs.removedCount, "2");
      assert.deepEqual(groupNames(emu), []);
      assert.deepEqual(agentNamesInPool(emu), []);
      assertNoSecretLeaks(emu);
    });

    it("leaves nothing after a start that was cancelled (SIGINT) while it waited", async function () {
      const emu = emulator();
      const build = nextBuildId();
      emu.state.behaviour.agentsNeverOnline = [`azp-${build}-`];
      const start = startTaskStep(emu, "AciAgentStartV1", { buildId: build, inputs: { agentCount: "2" } });
      await until("both agents to register", () => namesOfBuild(agentNamesInPool(emu), build).length === 2);
      start.signal("SIGINT");
      const cancelled = await start.done;
      assert.notEqual(cancelled.result, "Succeeded");

      const stop = await stopAgents(emu, build);

      assertSucceeded(stop);
      assert.ok(["0", "1", "2"].includes(stop.outputs.removedCount ?? ""), `removedCount ${stop.outputs.removedCount ?? "(not set)"}`);
      assert.deepEqual(groupNames(emu), []);
      assert.deepEqual(agentNamesInPool(emu), []);
      assertNoSecretLeaks(emu);
    });

    it("removes the groups a failed start kept (keepOnFailure)", async function () {
      const emu = emulator();
      const build = nextBuildId();
      emu.state.behaviour.inaccessibleImages.add("mcr.microsoft.com/dotnet/runtime-deps:8.0");
      const start = await startTaskStep(emu, "AciAgentStartV1", { buildId: build, inputs: { agentCount: "2", keepOnFailure: "true" } }).done;
      assert.equal(start.result, "Failed", start.lines.join("\n"));
      // The first failure ends the start: the other agent's group (or even its registration) may not have been made.
      const kept = [...new Set([...namesOfBuild(groupNames(emu), build), ...namesOfBuild(agentNamesInPool(emu), build)])];
      assert.ok(namesOfBuild(groupNames(emu), build).length >= 1, "keepOnFailure kept no group");

      const stop = await stopAgents(emu, build);

      assertSucceeded(stop);
      assert.equal(stop.outputs.removedCount, String(kept.length));
      assert.deepEqual(groupNames(emu), []);
      assert.deepEqual(agentNamesInPool(emu), []);
      assertNoSecretLeaks(emu);
    });

    it("removes a group carrying this run's and this fleet's tags whatever its name, and leaves another run's", async function () {
      const emu = emulator();
      const build = nextBuildId();
      const other = nextBuildId();
      await putGroup(emu, "hand-made-agent", ownTags(emu, build, "hand-made-agent", FUTURE));
      await putGroup(emu, `azp-${other}-1-1`, ownTags(emu, other, `azp-${other}-1-1`, FUTURE));

      const stop = await stopAgents(emu, build);

      assertSucceeded(stop);
      assert.equal(stop.outputs.removedCount, "1");
      assert.deepEqual(groupNames(emu), [`azp-${other}-1-1`]);
      assertNoSecretLeaks(emu);
    });
  });

  it("waits for slow deletes to finish and reads every page of the group list", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await startAgents(emu, build, 3);
    emu.state.delays.deleteMs = 1500;
    emu.state.behaviour.listPageSize = 1;

    const stop = await stopAgents(emu, build);

    assertSucceeded(stop);
    assert.equal(stop.outputs.removedCount, "3");
    // No waiting here: when the step ends, the groups are gone, not merely being deleted.
    assert.deepEqual(groupNames(emu), []);
    assert.deepEqual(agentNamesInPool(emu), []);
    assert.ok(requests(emu, "arm", "GET", /\/containerGroups$/i).length >= 3, "the list was not paged");
    assertNoSecretLeaks(emu);
  });

  it("attaches a container log that holds logging commands without letting them act on the run", async function () {
    const emu = emulator();
    const build = nextBuildId();
    const script = [
      'echo "##vso[task.setvariable variable=hijacked;isOutput=true]yes"',
      'echo "##vso[task.uploadfile]/etc/passwd"',
      'echo "##vso[task.complete result=Failed;]hijacked"',
    ].join("; ");
    await putGroup(emu, `azp-${build}-1-1`, ownTags(emu, build, `azp-${build}-1-1`, FUTURE), script);
    await until("the container to print its lines", () => containerLogText(emu, `azp-${build}-1-1`).includes("task.complete"));

    const stop = await stopAgents(emu, build);

    assertSucceeded(stop);
    assert.equal(stop.outputs.hijacked, undefined, "a line of the container log set an output variable");
    assert.ok(!stop.lines.some((l) => l.startsWith("##vso[task.uploadfile]/etc/passwd")), plainOutput(stop));
    assert.equal(stop.lines.filter((l) => l.startsWith("##vso[task.complete")).length, 1, plainOutput(stop));
    const attached = uploadedFiles(stop).map((file) => readFileSync(file, "utf8"));
    assert.ok(attached.some((content) => content.includes("task.complete result=Failed;]hijacked")), "the container's lines are not in the attached log");
    assertNoSecretLeaks(emu);
  });

  it("waits while Azure DevOps still shows an agent busy, then removes it", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await startAgents(emu, build, 2);
    const [busy, idle] = namesOf(build, 2) as [string, string];
    emu.state.behaviour.busyDeletes.set(busy, 2);
    // The groups' deletes run alongside the deregistrations; a delete slower than the retries keeps
    // the container's own clean-up from taking the busy answers meant for the step.
    emu.state.delays.deleteMs = 5000;
    const busyId = [...emu.state.agents.values()].find((a) => a.name === busy)?.id;
    assert.ok(busyId !== undefined, `no agent ${busy}`);

    const stop = await stopAgents(emu, build);

    assertSucceeded(stop);
    assert.equal(stop.outputs.removedCount, "2");
    assert.ok(stop.lines.some((l) => l.startsWith(`${busy}: Azure DevOps says the agent is still busy; retrying (1/`)), plainOutput(stop));
    assert.ok(stop.lines.some((l) => l.startsWith(`${busy}: Azure DevOps says the agent is still busy; retrying (2/`)), plainOutput(stop));
    assert.ok(!stop.lines.some((l) => l.startsWith(`${idle}: Azure DevOps says the agent is still busy`)), plainOutput(stop));
    // The stop's DELETEs of the busy agent: refused twice, then accepted. (Later ones, if any, are
    // the agent's own clean-up as its container goes.)
    const deletes = requests(emu, "devops", "DELETE", new RegExp(`/_apis/distributedtask/pools/\\d+/agents/${busyId}$`));
    assert.deepEqual(deletes.slice(0, 3).map((d) => d.status), [400, 400, 204]);
    assert.deepEqual(agentNamesInPool(emu), []);
    assert.deepEqual(groupNames(emu), []);
    assertNoSecretLeaks(emu);
  });

  it("absorbs a group DELETE that fails with 500 twice, and an agent DELETE that fails with 503 once", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await startAgents(emu, build, 2);
    const [flaky, other] = namesOf(build, 2) as [string, string];
    const otherId = [...emu.state.agents.values()].find((a) => a.name === other)?.id;
    assert.ok(otherId !== undefined, `no agent ${other}`);
    emu.state.faults.push({
      id: "flaky-deregistration",
      service: "devops",
      method: "DELETE",
      path: `/_apis/distributedtask/pools/\\d+/agents/${otherId}$`,
      status: 503,
      body: { message: "The service is temporarily unavailable." },
      remaining: 1,
    });
    emu.state.faults.push({
      id: "flaky-delete",
      service: "arm",
      method: "DELETE",
      path: `/containerGroups/${flaky}$`,
      status: 500,
      body: { error: { code: "InternalServerError", message: "An internal error occurred." } },
      remaining: 2,
    });

    const stop = await stopAgents(emu, build);

    assertSucceeded(stop);
    assert.equal(stop.outputs.removedCount, "2");
    assert.deepEqual(emu.state.faults.map((f) => `${f.id}: ${f.remaining}`), ["flaky-deregistration: 0", "flaky-delete: 0"], "a fault was not hit");
    const deletes = requests(emu, "arm", "DELETE", new RegExp(`/containerGroups/${flaky}$`, "i"));
    assert.deepEqual(deletes.map((d) => d.status), [500, 500, 202]);
    assert.deepEqual(groupNames(emu), []);
    assert.deepEqual(agentNamesInPool(emu), []);
    assertNoSecretLeaks(emu);
  });

  it("scope expired removes only this extension's expired or stopped groups and stale registrations", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await putGroup(emu, "azp-9001-1-1", ownTags(emu, "9001", "azp-9001-1-1", PAST));
    await putGroup(emu, "azp-9002-1-1", ownTags(emu, "9002", "azp-9002-1-1", FUTURE));
    await putGroup(emu, "azp-9003-1-1", ownTags(emu, "9003", "azp-9003-1-1", "never"));
    await putGroup(emu, "azp-9004-1-1", ownTags(emu, "9004", "azp-9004-1-1", FUTURE));
    await stopGroup(emu, "azp-9004-1-1");
    await putGroup(emu, "foreign-expired", { "aci-agents-expires": PAST, team: "data" });
    await putGroup(emu, "foreign-plain", {});
    await registerAgent(emu, "azp-9001-1-1");
    await registerAgent(emu, "azp-9002-1-1");
    await registerAgent(emu, "azp-9005-1-1");
    await registerAgent(emu, "azp-9006-1-1", { online: true });
    await registerAgent(emu, "other-9007-1-1");
    await registerAgent(emu, "azp-9008-1-1");
    // All registered three hours ago but 9008, registered just now: a start step may be creating its group.
    for (const agent of emu.state.agents.values()) {
      if (agent.name !== "azp-9008-1-1") agent.createdOn = new Date(Date.now() - 3 * 3600_000).toISOString();
    }

    const stop = await stopAgents(emu, build, { scope: "expired" });

    assertSucceeded(stop);
    assert.deepEqual(groupNames(emu), ["azp-9002-1-1", "azp-9003-1-1", "foreign-expired", "foreign-plain"]);
    // 9002: offline, but its group is live; 9006 online; other-*: another prefix; 9008: younger than the longest timeoutMinutes.
    assert.deepEqual(agentNamesInPool(emu), ["azp-9002-1-1", "azp-9006-1-1", "azp-9008-1-1", "other-9007-1-1"]);
    assert.equal(stop.outputs.removedCount, "3");
    assert.match(stop.message, /scope: expired/);
    assertNoSecretLeaks(emu);
  });

  describe("scope names", function () {
    it("removes only the named groups", async function () {
      const emu = emulator();
      const build = nextBuildId();
      await startAgents(emu, build, 2);
      const [first, second] = namesOf(build, 2) as [string, string];

      const stop = await stopAgents(emu, build, { scope: "names", containerGroupNames: first.toUpperCase() });

      assertSucceeded(stop);
      assert.equal(stop.outputs.removedCount, "1");
      assert.deepEqual(groupNames(emu), [second]);
      assert.deepEqual(agentNamesInPool(emu), [second]);
      assertNoSecretLeaks(emu);
    });

    it("refuses a group this extension did not create, deletes nothing, and fails naming containerGroupNames", async function () {
      const emu = emulator();
      const build = nextBuildId();
      await startAgents(emu, build, 1);
      const [ours] = namesOf(build, 1) as [string];
      await putGroup(emu, "payments-db", { team: "payments" });

      const stop = await stopAgents(emu, build, { scope: "names", containerGroupNames: `${ours},payments-db` });

      assertFailed(stop);
      assert.match(stop.message, /^containerGroupNames: payments-db was not created by this extension/);
      assert.ok(!stop.message.includes(ours), stop.message);
      assert.deepEqual(groupNames(emu), [ours, "payments-db"].sort());
      assert.deepEqual(agentNamesInPool(emu), [ours]);
      assert.deepEqual(requests(emu, "arm", "DELETE", /./), []);
      assert.deepEqual(requests(emu, "devops", "DELETE", /./), []);
      assert.equal(stop.outputs.removedCount, undefined);
      assertNoSecretLeaks(emu);
    });

    it("leaves a hand-made agent alone when a named group is gone and its name is not like ours", async function () {
      const emu = emulator();
      const build = nextBuildId();
      await registerAgent(emu, "build01");
      await registerAgent(emu, "azp-9100-1-1");

      const stop = await stopAgents(emu, build, { scope: "names", containerGroupNames: "build01,azp-9100-1-1" });

      assertSucceeded(stop);
      assert.deepEqual(agentNamesInPool(emu), ["build01"]);
      assert.equal(stop.outputs.removedCount, "1");
      assertNoSecretLeaks(emu);
    });
  });

  it("deletes every group while Azure DevOps is down, fails naming the registrations it could not check, and a later run removes them", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await startAgents(emu, build, 2);
    emu.state.faults.push({
      id: "devops-down",
      service: "devops",
      method: "GET",
      path: "/_apis/distributedtask/pools$",
      status: 503,
      body: { message: "The service is temporarily unavailable." },
      remaining: 1000,
    });

    const stop = await stopAgents(emu, build);

    assertFailed(stop);
    assert.deepEqual(groupNames(emu), [], "a group outlived Azure DevOps being down");
    for (const name of namesOf(build, 2)) assert.match(stop.message, new RegExp(`^${name}: container group deleted, but its agent registration could not be checked`, "m"));
    assert.match(stop.message, new RegExp(`^pool '${emu.info.pool}': its registrations could not be read`, "m"));

    // (A deleted container's start.sh may have deregistered its agent on the way out.)
    emu.state.faults = [];
    const again = await stopAgents(emu, build);
    assertSucceeded(again);
    assert.deepEqual(agentNamesInPool(emu), []);
    assertNoSecretLeaks(emu);
  });

  it("removes everything else when one group's DELETE keeps failing, and fails naming it and how to remove it by hand", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await startAgents(emu, build, 3);
    const [first, stuck, third] = namesOf(build, 3) as [string, string, string];
    emu.state.faults.push({
      id: "stuck-delete",
      service: "arm",
      method: "DELETE",
      path: `/containerGroups/${stuck}$`,
      status: 500,
      body: { error: { code: "InternalServerError", message: "An internal error occurred." } },
      remaining: 1000,
    });

    const stop = await stopAgents(emu, build);

    assertFailed(stop);
    assert.match(stop.message, /Could not remove 1 agent\(s\); everything else was removed\./);
    assert.match(stop.message, new RegExp(`^${stuck}: `, "m"));
    assert.ok(!stop.message.includes(first) && !stop.message.includes(third), stop.message);
    assert.match(stop.message, new RegExp(`az container delete --resource-group ${emu.info.resourceGroup} --name <name> --yes`));
    assert.match(stop.message, new RegExp(`pool '${emu.info.pool}'`));
    assert.equal(stop.outputs.removedCount, "2");
    assert.deepEqual(groupNames(emu), [stuck]);
    assert.ok(!agentNamesInPool(emu).includes(first) && !agentNamesInPool(emu).includes(third), agentNamesInPool(emu).join(", "));

    // Once ARM recovers, running the step again finishes the job, as the message says.
    emu.state.faults = [];
    const again = await stopAgents(emu, build);
    assertSucceeded(again);
    assert.equal(again.outputs.removedCount, "1");
    assert.deepEqual(groupNames(emu), []);
    assert.deepEqual(agentNamesInPool(emu), []);
    assertNoSecretLeaks(emu);
  });

  describe("collectLogs", function () {
    it("attaches one file per agent holding its container's log, before the group goes", async function () {
      const emu = emulator();
      const build = nextBuildId();
      await startAgents(emu, build, 2);
      const names = namesOf(build, 2);
      const before = new Map(names.map((name) => [name, containerLogText(emu, name)]));

      const stop = await stopAgents(emu, build);

      assertSucceeded(stop);
      const files = uploadedFiles(stop);
      assert.deepEqual(files.map((f) => basename(f)).sort(), names.map((n) => `${n}.log`));
      for (const file of files) {
        const name = basename(file, ".log");
        assert.ok(existsSync(file), `${file} does not exist`);
        assert.ok(file.startsWith(stop.step.tempDirectory), `${file} is not under the step's temp directory`);
        const content = readFileSync(file, "utf8");
        const earlier = before.get(name) ?? "";
        assert.ok(earlier.includes(`[aci-agent]`), `the container log of ${name} is unexpected:\n${earlier}`);
        // The file holds the log as ACI returned it; the container may have written more since.
        assert.ok(content.startsWith(earlier), `${file} does not hold the container log:\n--- file ---\n${content}\n--- log ---\n${earlier}`);
        // A container that ended well gets one line; its log is in the attachment, not the output.
        assert.ok(stop.lines.some((l) => l.endsWith(`${name}: container group deleted, agent deregistered, log attached`)), plainOutput(stop));
        assert.ok(!stop.lines.some((l) => l.includes(`----- ${name}: last lines of the container log`)), plainOutput(stop));
      }
      assert.deepEqual(groupNames(emu), []);
      assertNoSecretLeaks(emu);
    });

    it("attaches nothing and reads no log when collectLogs is false", async function () {
      const emu = emulator();
      const build = nextBuildId();
      await startAgents(emu, build, 1);

      const stop = await stopAgents(emu, build, { collectLogs: "false" });

      assertSucceeded(stop);
      assert.deepEqual(uploadedFiles(stop), []);
      assert.deepEqual(requests(emu, "arm", "GET", /\/logs$/i), []);
      assert.deepEqual(groupNames(emu), []);
      assertNoSecretLeaks(emu);
    });
  });

  it("still deletes the container groups when the identity may not deregister agents, and fails naming them", async function () {
    const emu = emulator();
    const build = nextBuildId();
    await startAgents(emu, build, 2);
    emu.state.behaviour.poolManageDenied = ["pat"];

    const stop = await stopAgents(emu, build);

    assertFailed(stop);
    for (const name of namesOf(build, 2)) assert.match(stop.message, new RegExp(`^${name}: .*Manage permissions`, "m"));
    assert.deepEqual(agentNamesInPool(emu), namesOf(build, 2));
    // The registrations cannot go, but the containers (which cost money) can and should.
    assert.deepEqual(groupNames(emu), [], "the container groups were left running because their agents could not be deregistered");
    assertNoSecretLeaks(emu);
  });
});
