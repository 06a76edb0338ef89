// Issue 10: the registration secret is gone before the first job. For each registration mode,
// AciAgentStart starts a long-lived agent in the emulator; a job on it hunts for the credential
// (tests/agent/secretHunt.job.js: every process's environ, cmdline and memory, the files under
// AZP_HOME, the temp folder and HOME) and rewrites every script under AZP_HOME; then AciAgentStop
// removes it, which is when a bootstrap that deregistered itself would run config.sh again.
import { strict as assert } from "node:assert";
import { containerSpecs, containerState } from "../../emulator/runtime/containerRuntime";
import { assertHuntFoundNothing, huntReport, secretHuntJob } from "../agent/secretHunt";
import { agentNamesInPool, assertInvariants, groupNames, namesOf, plainOutput, runJob, runStart, runTaskStep, useEmulator, type RunningEmulator, type StepOptions } from "./helpers";

const azureDevOpsResource = "499b84ac-1321-427f-aa17-267ca6975798";

/** The secure values the task gave the agent container (its registration credential). */
function credentialsGiven(emu: RunningEmulator, groupName: string): string[] {
  const record = [...emu.state.containerGroups.values()].find((g) => g.name === groupName);
  assert.ok(record !== undefined);
  const environment = containerSpecs(record)[0]?.environmentVariables ?? [];
  return environment.filter((v) => /^AZP_(TOKEN|CLIENT_SECRET)$/.test(v.name)).flatMap((v) => (v.secureValue === undefined ? [] : [v.secureValue]));
}

/** Every token for Azure DevOps that the emulated Entra or instance metadata service issued (the container's own included). */
function azureDevOpsTokens(emu: RunningEmulator): string[] {
  return emu.state.requestLog
    .filter((e) => (e.service === "entra" || e.service === "imds") && e.status === 200 && `${e.url}\n${e.requestBody}`.includes(azureDevOpsResource))
    .flatMap((e) => {
      const token = (JSON.parse(e.responseBody) as { access_token?: unknown }).access_token;
      return typeof token === "string" ? [token] : [];
    });
}

const tfsConnectionId = "7a1f0000-0000-4000-8000-0000000000e7";
const noToken = ["registrationToken"];

const modes: { mode: string; options: (emu: RunningEmulator) => StepOptions }[] = [
  { mode: "pat", options: () => ({}) },
  { mode: "accessToken", options: () => ({ omit: noToken, inputs: { registrationAuth: "accessToken" } }) },
  {
    mode: "serviceConnection",
    options: (emu) => ({
      omit: noToken,
      tfsConnection: { id: tfsConnectionId, token: emu.info.pat },
      inputs: { registrationAuth: "serviceConnection", registrationConnection: tfsConnectionId },
    }),
  },
  { mode: "entraToken", options: () => ({ omit: noToken, scheme: "workloadIdentity", inputs: { registrationAuth: "entraToken" } }) },
  { mode: "servicePrincipal", options: () => ({ omit: noToken, inputs: { registrationAuth: "servicePrincipal" } }) },
];

describe("integration: a job cannot get the registration secret (issue 10)", function () {
  this.timeout(240_000);
  const emulator = useEmulator();

  for (const { mode, options } of modes) {
    it(`${mode}: a job that reads every process, file and memory region of its container and rewrites the agent's scripts finds no credential, before or after the stop`, async function () {
      const emu = emulator();
      const stepOptions = options(emu);
      const start = await runStart(emu, { ...stepOptions, inputs: { ...stepOptions.inputs, ephemeral: "false" } });
      assertInvariants(emu, start);
      assert.equal(start.result, "Succeeded", `${start.message}\n${plainOutput(start)}`);
      const [name] = namesOf(start.step.buildId, 1);
      assert.ok(name !== undefined);
      const given = credentialsGiven(emu, name);
      assert.ok(given.length > 0, "the container was given no credential");
      const demand = start.outputs.demand;
      assert.ok(demand !== undefined);

      // Kept: the group's record (and its log) is gone from the state once AciAgentStop deleted it.
      const record = [...emu.state.containerGroups.values()].find((g) => g.name === name);
      const spec = record === undefined ? undefined : containerSpecs(record)[0];
      assert.ok(record !== undefined && spec !== undefined);
      const logText = () => containerState(record, spec.name).log.map((line) => line.text).join("\n");

      const secrets = [...new Set([...given, ...azureDevOpsTokens(emu)])];
      await runJob(emu, [demand], "secret hunt", secretHuntJob(secrets, name));
      const report = huntReport(logText());

      const stop = await runTaskStep(emu, "AciAgentStopV1", { ...stepOptions, buildId: start.step.buildId });
      assertInvariants(emu, stop);
      assert.equal(stop.result, "Succeeded", `${stop.message}\n${plainOutput(stop)}`);
      assert.deepEqual(groupNames(emu), []);
      assert.deepEqual(agentNamesInPool(emu), []);

      assertHuntFoundNothing(report, logText(), [...new Set([...secrets, ...azureDevOpsTokens(emu)])], /start\.sh/);
    });
  }
});
