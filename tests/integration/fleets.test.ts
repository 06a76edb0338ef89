// Integration: one run, many fleets. The bundled tasks run as an agent runs them, against the
// emulator, in the layouts users build: a YAML pipeline whose parallel stages each start and stop
// their own agents, a classic release whose stages do the same, and a rerun of a failed start.
// Jobs are queued with the demand the start step gives and matched as Azure DevOps matches them.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import type { ReleaseStage } from "../../emulator/pipeline";
import { OWN_TAGS } from "../../src/run/tags";
import {
  agentNamesInPool,
  assertNoSecretLeaks,
  groupNames,
  namesOf,
  newJobDirectory,
  nextBuildId,
  plainOutput,
  runJob,
  runStart,
  runTaskStep,
  useEmulator,
  type Run,
  type RunningEmulator,
} from "./helpers";

function assertSucceeded(run: Run): void {
  assert.equal(run.result, "Succeeded", `${run.step.task} did not succeed: ${run.message}\n${plainOutput(run)}`);
}

function fleetTags(emu: RunningEmulator): Record<string, string | undefined> {
  return Object.fromEntries(
    [...emu.state.containerGroups.values()].map((g) => [g.name, (g.body.tags as Record<string, string> | undefined)?.[OWN_TAGS.fleet]]),
  );
}

describe("integration: one run, many fleets", function () {
  this.timeout(240_000);
  const emulator = useEmulator();

  describe("a YAML pipeline with two parallel stages, each with its own start and stop", function () {
    it("gives each stage's jobs only its own agents, and each stop removes only its own fleet", async function () {
      const emu = emulator();
      const build = nextBuildId();
      const [linux, tools] = await Promise.all([
        runStart(emu, { buildId: build, inputs: { namePrefix: "linux", agentCount: "2" } }),
        runStart(emu, { buildId: build, inputs: { namePrefix: "tools", agentCount: "1" } }),
      ]);
      assertSucceeded(linux);
      assertSucceeded(tools);
      assert.equal(linux.outputs.demand, `ACI_FLEET -equals linux-${build}`);
      assert.equal(tools.outputs.demand, `ACI_FLEET -equals tools-${build}`);
      const linuxAgents = namesOf(build, 2, "linux");
      const toolsAgents = namesOf(build, 1, "tools");
      assert.deepEqual(groupNames(emu), [...linuxAgents, ...toolsAgents]);
      assert.deepEqual(fleetTags(emu), {
        [linuxAgents[0] ?? ""]: `linux-${build}`,
        [linuxAgents[1] ?? ""]: `linux-${build}`,
        [toolsAgents[0] ?? ""]: `tools-${build}`,
      });

      // Both of the linux stage's jobs are queued while the tools agent is idle too: only the
      // demand keeps them off it.
      const ranOn = await Promise.all([
        runJob(emu, [linux.outputs.demand], "linux build 1"),
        runJob(emu, [linux.outputs.demand], "linux build 2"),
      ]);
      assert.deepEqual([...ranOn].sort(), linuxAgents);

      const stopLinux = await runTaskStep(emu, "AciAgentStopV1", { buildId: build, inputs: { namePrefix: "linux" } });
      assertSucceeded(stopLinux);
      assert.equal(stopLinux.outputs.removedCount, "2");
      assert.deepEqual(groupNames(emu), toolsAgents, "the linux stage's stop touched the tools stage's agent");
      assert.deepEqual(agentNamesInPool(emu), toolsAgents);

      // The tools stage still has its agent, and its job runs there.
      assert.equal(await runJob(emu, [tools.outputs.demand], "tools build"), toolsAgents[0]);
      const stopTools = await runTaskStep(emu, "AciAgentStopV1", { buildId: build, inputs: { namePrefix: "tools" } });
      assertSucceeded(stopTools);
      assert.equal(stopTools.outputs.removedCount, "1");
      assert.deepEqual(groupNames(emu), []);
      assert.deepEqual(agentNamesInPool(emu), []);
      assertNoSecretLeaks(emu);
    });

    it("a final clean-up job with namePrefix '*' removes every fleet of the run and nothing of another run", async function () {
      const emu = emulator();
      const build = nextBuildId();
      const other = nextBuildId();
      const starts = await Promise.all([
        runStart(emu, { buildId: build, inputs: { namePrefix: "linux" } }),
        runStart(emu, { buildId: build, inputs: { namePrefix: "tools" } }),
        runStart(emu, { buildId: other, inputs: { namePrefix: "linux" } }),
      ]);
      for (const start of starts) assertSucceeded(start);

      const stop = await runTaskStep(emu, "AciAgentStopV1", { buildId: build, inputs: { namePrefix: "*" } });

      assertSucceeded(stop);
      assert.equal(stop.outputs.removedCount, "2");
      assert.deepEqual(groupNames(emu), namesOf(other, 1, "linux"));
      assert.deepEqual(agentNamesInPool(emu), namesOf(other, 1, "linux"));
      assertNoSecretLeaks(emu);
    });
  });

  it("two start steps in one job keep their files apart: dry-run templates and summaries", async function () {
    const emu = emulator();
    const build = nextBuildId();
    const job = newJobDirectory();
    const dryRuns = [];
    for (const prefix of ["linux", "tools"]) {
      dryRuns.push(await runStart(emu, { buildId: build, tempDirectory: job, inputs: { namePrefix: prefix, dryRun: "true" } }));
    }
    const [linux, tools] = dryRuns;
    assert.ok(linux !== undefined && tools !== undefined);
    assertSucceeded(linux);
    assertSucceeded(tools);
    assert.notEqual(linux.outputs.armTemplatePath, tools.outputs.armTemplatePath);
    assert.match(readFileSync(linux.outputs.armTemplatePath ?? "", "utf8"), new RegExp(`linux-${build}-1-1`));
    assert.match(readFileSync(tools.outputs.armTemplatePath ?? "", "utf8"), new RegExp(`tools-${build}-1-1`));

    const starts = [];
    for (const prefix of ["linux", "tools"]) {
      starts.push(await runStart(emu, { buildId: build, tempDirectory: job, inputs: { namePrefix: prefix } }));
    }
    const summaries = starts.map((start) => {
      assertSucceeded(start);
      const line = start.lines.find((l) => l.startsWith("##vso[task.uploadsummary]"));
      assert.ok(line !== undefined, plainOutput(start));
      return readFileSync(line.slice("##vso[task.uploadsummary]".length).trim(), "utf8");
    });
    assert.match(summaries[0] ?? "", new RegExp(`fleet linux-${build}`));
    assert.match(summaries[1] ?? "", new RegExp(`fleet tools-${build}`));
    assertNoSecretLeaks(emu);
  });

  describe("a classic release with two stages, each with an agent job on the ACI pool", function () {
    it("pins each stage's jobs to its own fleet by Release.ReleaseId, and each stage's stop removes only its fleet", async function () {
      const emu = emulator();
      const release = nextBuildId();
      // The release's artifact is a build: Build.BuildId is set too, and must not name anything.
      const artifactBuild = nextBuildId();
      const qa: ReleaseStage = { releaseId: release, definitionEnvironmentId: 1, environmentName: "QA" };
      const prod: ReleaseStage = { releaseId: release, definitionEnvironmentId: 2, environmentName: "Prod" };
      const [qaStart, prodStart] = await Promise.all([
        runStart(emu, { buildId: artifactBuild, release: qa, inputs: { namePrefix: "qa" } }),
        runStart(emu, { buildId: artifactBuild, release: prod, inputs: { namePrefix: "prod" } }),
      ]);
      assertSucceeded(qaStart);
      assertSucceeded(prodStart);
      assert.equal(qaStart.outputs.runId, release);
      // The demand the README tells a classic release's agent job to use, with the variable expanded.
      const demandOf = (prefix: string) => `ACI_FLEET -equals ${prefix}-$(Release.ReleaseId)`.replace("$(Release.ReleaseId)", release);
      assert.equal(qaStart.outputs.demand, demandOf("qa"));
      assert.equal(prodStart.outputs.demand, demandOf("prod"));
      assert.deepEqual(groupNames(emu), [...namesOf(release, 1, "prod"), ...namesOf(release, 1, "qa")]);

      // The Prod job is queued first, while both agents are idle: only its demand keeps it off QA's.
      const prodJob = runJob(emu, [demandOf("prod")], "Prod deploy");
      const qaJob = runJob(emu, [demandOf("qa")], "QA deploy");
      assert.deepEqual(await Promise.all([prodJob, qaJob]), [...namesOf(release, 1, "prod"), ...namesOf(release, 1, "qa")]);

      const qaStop = await runTaskStep(emu, "AciAgentStopV1", { buildId: artifactBuild, release: qa, inputs: { namePrefix: "qa" } });
      assertSucceeded(qaStop);
      assert.equal(qaStop.outputs.removedCount, "1");
      assert.deepEqual(groupNames(emu), namesOf(release, 1, "prod"));
      const prodStop = await runTaskStep(emu, "AciAgentStopV1", { buildId: artifactBuild, release: prod, inputs: { namePrefix: "prod" } });
      assertSucceeded(prodStop);
      assert.deepEqual(groupNames(emu), []);
      assert.deepEqual(agentNamesInPool(emu), []);
      assertNoSecretLeaks(emu);
    });
  });

  describe("a rerun of a failed stage", function () {
    it("starts a fresh fleet with the same demand beside attempt 1's leftovers, and the stop removes both attempts' groups", async function () {
      const emu = emulator();
      const build = nextBuildId();
      const inputs = { agentCount: "2", keepOnFailure: "true" };
      // Attempt 1: the region has no capacity, and keepOnFailure keeps the failed groups.
      emu.state.behaviour.capacityFailures.set("westeurope", "async");
      const first = await runStart(emu, { buildId: build, inputs });
      assert.equal(first.result, "Failed", plainOutput(first));
      // The first failure ends the start: the other agent's group (or its registration) may not have been made.
      const leftGroups = groupNames(emu);
      const leftovers = new Set([...leftGroups, ...agentNamesInPool(emu)]);
      assert.ok(leftGroups.length >= 1 && leftGroups.every((name) => namesOf(build, 2, "azp", 1).includes(name)), leftGroups.join(", "));

      // Attempt 2, after the capacity came back: same inputs, System.JobAttempt 2.
      emu.state.behaviour.capacityFailures.delete("westeurope");
      const second = await runStart(emu, { buildId: build, jobAttempt: 2, inputs });
      assertSucceeded(second);
      assert.equal(second.outputs.demand, `ACI_FLEET -equals azp-${build}`);
      assert.deepEqual(groupNames(emu), [...leftGroups, ...namesOf(build, 2, "azp", 2)]);
      const ranOn = await runJob(emu, [second.outputs.demand], "build");
      assert.ok(namesOf(build, 2, "azp", 2).includes(ranOn), `the job ran on ${ranOn}, not on an agent of attempt 2`);

      const stop = await runTaskStep(emu, "AciAgentStopV1", { buildId: build, jobAttempt: 2 });
      assertSucceeded(stop);
      assert.equal(stop.outputs.removedCount, String(leftovers.size + 2));
      assert.deepEqual(groupNames(emu), []);
      assert.deepEqual(agentNamesInPool(emu), []);
      assertNoSecretLeaks(emu);
    });
  });
});
