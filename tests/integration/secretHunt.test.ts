// Issues 10 and 16: no credential that can register anything is in a container, and a job finds
// no secret but its own agent's key. For each registration mode, AciAgentStart starts two
// long-lived agents in the emulator with a startup script that holds a canary; a job on the first
// hunts for every secret of the run (tests/agent/secretHunt.job.js: every process's environ,
// cmdline and memory, the files under AZP_HOME, the temp folder and HOME), the startup script's
// canary and the second agent's private key, and rewrites every script under AZP_HOME; then
// AciAgentStop removes both, which is when a bootstrap that deregistered itself would run again.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { containerSpecs, containerState } from "../../emulator/runtime/containerRuntime";
import { assertHuntFoundNothing, huntReport, secretHuntJob } from "../agent/secretHunt";
import { agentNamesInPool, assertInvariants, groupNames, namesOf, plainOutput, runJob, runStart, runTaskStep, useEmulator, type RunningEmulator, type StepOptions } from "./helpers";

const azureDevOpsResource = "499b84ac-1321-427f-aa17-267ca6975798";

/** The secure values and secret-volume files the task gave an agent's container. */
function givenTo(emu: RunningEmulator, groupName: string): { secureNames: string[]; privateExponent: string } {
  const record = [...emu.state.containerGroups.values()].find((g) => g.name === groupName);
  assert.ok(record !== undefined);
  const environment = containerSpecs(record)[0]?.environmentVariables ?? [];
  const volumes = (record.body.properties as { volumes?: { secret?: Record<string, string> }[] }).volumes ?? [];
  const rsa = volumes.flatMap((v) => (v.secret?.credentials_rsaparams === undefined ? [] : [v.secret.credentials_rsaparams]))[0];
  assert.ok(rsa !== undefined, `${groupName} got no agent identity`);
  const params = JSON.parse(Buffer.from(rsa, "base64").toString("utf8").replace(/^\uFEFF/, "")) as { d: string };
  return { secureNames: environment.filter((v) => v.secureValue !== undefined).map((v) => v.name), privateExponent: params.d };
}

/** Every token for Azure DevOps that the emulated Entra or instance metadata service issued. */
function azureDevOpsTokens(emu: RunningEmulator): string[] {
  return emu.state.requestLog
    .filter((e) => (e.service === "entra" || e.service === "imds") && e.status === 200 && `${e.url}\n${e.requestBody}`.includes(azureDevOpsResource))
    .flatMap((e) => {
      const token = (JSON.parse(e.responseBody) as { access_token?: unknown }).access_token;
      return typeof token === "string" ? [token] : [];
    });
}

const tfsConnectionId = "7a1f0000-0000-4000-8000-0000000000e7";
const tfsToken = "tfs-connection-token-0000000000000000000000000000";
const noToken = ["registrationToken"];

const modes: { mode: string; options: StepOptions }[] = [
  { mode: "pat", options: {} },
  { mode: "accessToken", options: { omit: noToken, inputs: { registrationAuth: "accessToken" } } },
  {
    mode: "serviceConnection",
    options: { omit: noToken, tfsConnection: { id: tfsConnectionId, token: tfsToken }, inputs: { registrationAuth: "serviceConnection", registrationConnection: tfsConnectionId } },
  },
  { mode: "entraToken", options: { omit: noToken, scheme: "workloadIdentity", inputs: { registrationAuth: "entraToken" } } },
];

describe("integration: a job finds no credential but its own agent's key (issues 10 and 16)", function () {
  this.timeout(240_000);
  const emulator = useEmulator();

  for (const { mode, options } of modes) {
    it(`${mode}: a job that reads every process, file and memory region of its container and rewrites the agent's scripts finds no credential, no startup script canary and no other agent's key, before or after the stop`, async function () {
      const emu = emulator();
      if (mode === "serviceConnection") emu.state.pats.add(tfsToken);
      const canary = `startup-canary-${randomBytes(12).toString("hex")}`;
      const start = await runStart(emu, {
        ...options,
        inputs: { ...options.inputs, agentCount: "2", ephemeral: "false", maxLifetimeMinutes: "0", startupScript: `CANARY='${canary}'; echo "startup script ran"` },
      });
      assertInvariants(emu, start);
      assert.equal(start.result, "Succeeded", `${start.message}\n${plainOutput(start)}`);
      const [name, other] = namesOf(start.step.buildId, 2);
      assert.ok(name !== undefined && other !== undefined);
      // Only the startup script is a secure value: no registration credential reached a container.
      assert.deepEqual(givenTo(emu, name).secureNames, ["AZP_STARTUP_SCRIPT"]);
      const demand = start.outputs.demand;
      assert.ok(demand !== undefined);

      // Kept: the group's record (and its log) is gone from the state once AciAgentStop deleted it.
      const record = [...emu.state.containerGroups.values()].find((g) => g.name === name);
      const spec = record === undefined ? undefined : containerSpecs(record)[0];
      assert.ok(record !== undefined && spec !== undefined);
      const logText = () => containerState(record, spec.name).log.map((line) => line.text).join("\n");

      const secrets = [...new Set([...start.step.secrets, tfsToken, canary, givenTo(emu, other).privateExponent, ...azureDevOpsTokens(emu)])];
      await runJob(emu, [demand, `Agent.Name -equals ${name}`], "secret hunt", secretHuntJob(secrets, name));
      const report = huntReport(logText());

      const stop = await runTaskStep(emu, "AciAgentStopV1", { ...options, buildId: start.step.buildId });
      assertInvariants(emu, stop);
      assert.equal(stop.result, "Succeeded", `${stop.message}\n${plainOutput(stop)}`);
      assert.deepEqual(groupNames(emu), []);
      assert.deepEqual(agentNamesInPool(emu), []);

      assertHuntFoundNothing(report, logText(), [...new Set([...secrets, ...azureDevOpsTokens(emu)])], /start\.sh/);
    });
  }
});
