/**
 * Every YAML example in README.md and overview.md runs: its AciAgentStart/AciAgentStop/AciAgentStandbyPool steps go
 * through the bundled tasks as the agent runs them (emulator/pipeline.ts), against the emulator,
 * with the reader's names replaced by the emulator's: the service connection by the emulator's
 * ARM connection, the resource group and pool by the emulator's, `$(AZP_TOKEN)` by its PAT,
 * `$(Build.BuildId)` and the other pipeline variables by the emulated run's, `<sub>` by its
 * subscription. Inputs a step leaves out get task.json's defaults, as the agent gives them. A
 * snippet that uses `$(Release.…)` runs as a stage of a classic release. When the pipeline reaches
 * a job with demands, an online agent must meet them (as Azure DevOps matches demands).
 */
import { strict as assert } from "node:assert";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { demandsMet } from "../../emulator/devops/demands";
import type { ReleaseStage } from "../../emulator/pipeline";
import { nextBuildId, plainOutput, repoRoot, runTaskStep, useEmulator, type RunningEmulator } from "../integration/helpers";
import { inputProblems, snippetRuns, substitute, taskDefinition, yamlSnippets, type SnippetRun, type TaskName } from "./snippets";

const documents = ["README.md", "overview.md"];
const runs: SnippetRun[] = documents.flatMap((file) => yamlSnippets(readFileSync(join(repoRoot, file), "utf8"), file).flatMap(snippetRuns));
const definitions = {
  AciAgentStart: taskDefinition(repoRoot, "AciAgentStart"),
  AciAgentStop: taskDefinition(repoRoot, "AciAgentStop"),
  AciAgentStandbyPool: taskDefinition(repoRoot, "AciAgentStandbyPool"),
};
const startScript = join(repoRoot, "agent", "start.sh");

describe("docs: the YAML examples of README.md and overview.md", function () {
  it("include a whole pipeline with a start and a stop step in each document", function () {
    for (const file of documents) {
      const pipelines = runs.filter((run) => run.label.startsWith(`${file}:`) && run.steps.some((s) => s.task === "AciAgentStart") && run.steps.some((s) => s.task === "AciAgentStop"));
      assert.ok(pipelines.length > 0, `${file} has no example pipeline with both tasks`);
    }
  });

  for (const run of runs) {
    it(`${run.label}: every input is one task.json knows, with a value it offers`, function () {
      for (const step of run.steps) {
        assert.deepEqual(inputProblems(step, definitions[step.task]), [], run.label);
        assert.ok(step.inputs.azureSubscription !== undefined, `${run.label}: ${step.task} has no azureSubscription`);
      }
    });
  }

  describe("run against the emulator", function () {
    this.timeout(180_000);
    const emulator = useEmulator();

    // The default image (Debian) has apt-get; this machine's must not run from a test. A stand-in
    // that succeeds lets a startupScript that installs packages run as it would in the image.
    let shimDirectory = "";
    const originalPath = process.env.PATH;
    before(function () {
      shimDirectory = mkdtempSync(join(tmpdir(), "aci-docs-shim-"));
      const aptGet = join(shimDirectory, "apt-get");
      writeFileSync(aptGet, '#!/bin/sh\necho "apt-get (stand-in) $*"\n');
      chmodSync(aptGet, 0o755);
      process.env.PATH = `${shimDirectory}${delimiter}${originalPath ?? ""}`;
    });
    after(function () {
      process.env.PATH = originalPath;
      rmSync(shimDirectory, { recursive: true, force: true });
    });

    for (const run of runs) {
      it(`${run.label} runs to success`, async function () {
        await play(emulator(), run);
      });
    }
  });
});

async function play(emu: RunningEmulator, run: SnippetRun): Promise<void> {
  const { info } = emu;
  const buildId = nextBuildId();
  // A classic release's stage: its artifact's build sets Build.BuildId too.
  const release: ReleaseStage | undefined = run.classicRelease ? { releaseId: nextBuildId(), definitionEnvironmentId: 1, environmentName: "Stage 1" } : undefined;
  const macros: Record<string, string> = {
    AZP_TOKEN: info.pat,
    "Build.BuildId": buildId,
    ...(release === undefined ? {} : { "Release.ReleaseId": release.releaseId, "Release.EnvironmentName": release.environmentName }),
    "System.AccessToken": info.systemAccessToken,
    "System.CollectionUri": info.organizationUrl,
  };
  const placeholders = { sub: info.subscriptionId };
  // The README's set-up, done once by a user before any standby example: the roles the standby
  // pool's provider needs (README, Permissions).
  emu.state.behaviour.standbyProviderWithoutRoles = false;
  for (const [index, step] of run.steps.entries()) {
    assertDemandsMet(emu, run, index, { macros, placeholders });
    const definition = definitions[step.task];
    const inputs: Record<string, string> = {};
    for (const input of definition.inputs) {
      const given = step.inputs[input.name] ?? input.aliases?.map((alias) => step.inputs[alias]).find((v) => v !== undefined);
      const value = given ?? input.defaultValue ?? "";
      if (value !== "") inputs[input.name] = substitute(value, { macros, placeholders });
    }
    Reflect.deleteProperty(inputs, "azureSubscription"); // the emulator's connection stands in
    inputs.resourceGroup = info.resourceGroup;
    if (definition.inputs.some((input) => input.name === "pool")) inputs.pool = info.pool;
    if (inputs.imageMode === "prebuilt" && inputs.image !== undefined) {
      emu.state.behaviour.images.set(inputs.image, { entrypoint: ["/bin/sh", startScript], agentPreinstalled: true });
    }
    const omit = ["registrationAuth", "registrationToken"].filter((name) => inputs[name] === undefined);
    const result = await runTaskStep(emu, folderOf(step.task), { buildId, inputs, omit, ...(release === undefined ? {} : { release }) });
    assert.equal(result.result, "Succeeded", `${run.label}: ${step.task} failed: ${result.message}\n${plainOutput(result)}`);
    if (step.name !== undefined) {
      for (const [name, value] of Object.entries(result.outputs)) macros[`${step.name}.${name}`] = value;
    }
    if (step.task === "AciAgentStandbyPool" && (inputs.action ?? "apply") === "apply" && inputs.dryRun !== "true") {
      const pool = [...emu.state.standbyPools.values()].find((candidate) => candidate.name === inputs.standbyPool);
      assert.ok(pool !== undefined, `${run.label}: no standby pool ${inputs.standbyPool ?? ""} after the step`);
    }
    if (step.task === "AciAgentStart" && inputs.dryRun === "true") {
      // What the docs promise a dry run leaves: the template, and beside it the image's build context.
      const template = result.outputs.armTemplatePath ?? "";
      assert.equal(result.message, `Dry run: nothing was created; the ARM template is at ${template}`, "the task.json message, found by the bundle");
      assert.ok(existsSync(template), `${run.label}: no ARM template at '${template}'`);
      assert.ok(existsSync(join(template.replace(/\.template\.json$/, ".image"), "Dockerfile")), `${run.label}: no Dockerfile beside ${template}`);
    }
  }
  assertDemandsMet(emu, run, run.steps.length, { macros, placeholders });
  const stopsTheRun = run.steps.some((step) => step.task === "AciAgentStop" && (step.inputs.scope ?? "run") === "run");
  if (stopsTheRun) {
    assert.deepEqual([...emu.state.containerGroups.keys()], [], `${run.label}: container groups left after the stop step`);
    assert.deepEqual([...emu.state.agents.values()].map((a) => a.name), [], `${run.label}: agents left after the stop step`);
  }
}

/**
 * The demands of each job the pipeline reaches after `stepsRun` task steps are met by one online
 * agent, as Azure DevOps matches them.
 */
function assertDemandsMet(emu: RunningEmulator, run: SnippetRun, stepsRun: number, substitutions: Parameters<typeof substitute>[1]): void {
  for (const job of run.jobs.filter((candidate) => candidate.reachedAfterSteps === stepsRun)) {
    const demands = job.demands.map((demand) => `${demand.name} -equals ${substitute(demand.value, substitutions)}`);
    const matching = [...emu.state.agents.values()].filter(
      (agent) => agent.sessionId !== undefined && demandsMet({ ...agent.systemCapabilities, ...agent.userCapabilities }, demands),
    );
    assert.ok(matching.length > 0, `${run.label}: no online agent meets the demands ${demands.join("; ")}`);
  }
}

function folderOf(task: TaskName): `${TaskName}V1` {
  return `${task}V1`;
}
