// Integration: the bundled AciAgentStandbyPool@1 runs as the agent runs it against the emulated
// ARM (container group profiles, standby pools) and Azure DevOps (the agent feed).
import { strict as assert } from "node:assert";
import { containerSpecs, containerState } from "../../emulator/runtime/containerRuntime";
import type { RunningEmulator } from "../../emulator/emulator";
import { control } from "../helpers/emulator";
import { assertNoSecretLeaks, plainOutput, runTaskStep, until, useEmulator, type Run } from "./helpers";

const POOL = "warm-agents";
const KEY_LINE = /^aci-agent-public-key exponent=[A-Za-z0-9+/=]+ modulus=[A-Za-z0-9+/=]+$/m;

function assertSucceeded(run: Run): void {
  assert.equal(run.result, "Succeeded", `${run.step.task} did not succeed: ${run.message}\n${plainOutput(run)}`);
}

function apply(emu: RunningEmulator, inputs: Record<string, string> = {}): Promise<Run> {
  return runTaskStep(emu, "AciAgentStandbyPoolV1", { inputs: { standbyPool: POOL, readyCapacity: "2", cpu: "1", memoryGB: "1.5", ...inputs } });
}

function output(run: Run, name: string): string | undefined {
  const line = run.step.lines.find((l) => l.startsWith(`##vso[task.setvariable variable=${name};`));
  return line?.slice(line.indexOf("]") + 1);
}

function profileRecord(emu: RunningEmulator) {
  return [...emu.state.containerGroupProfiles.values()].find((p) => p.name === POOL);
}

function poolRecord(emu: RunningEmulator) {
  return [...emu.state.standbyPools.values()].find((p) => p.name === POOL);
}

/** The logs of the pool's running instances. */
function instanceLogs(emu: RunningEmulator): string[] {
  return [...(poolRecord(emu)?.instances ?? [])].map((instance) => {
    const spec = containerSpecs(instance)[0];
    return spec === undefined ? "" : containerState(instance, spec.name).log.map((line) => line.text).join("\n");
  });
}

describe("AciAgentStandbyPool@1 against the emulator (bundle, as the agent runs it)", function () {
  this.timeout(180_000);
  const emulator = useEmulator();
  // The roles the pool's provider needs, granted once at set-up (README, Permissions); one test goes without.
  beforeEach(function () {
    emulator().state.behaviour.standbyProviderWithoutRoles = false;
  });

  it("apply makes the profile and the pool, which fills with containers that print their key; again changes nothing; a new input a new revision; delete removes both", async function () {
    const emu = emulator();
    const first = await apply(emu);
    assertSucceeded(first);
    assert.ok(profileRecord(emu) !== undefined, "no profile");
    assert.ok(poolRecord(emu) !== undefined, "no pool");
    const revision = output(first, "profileRevision");
    assert.equal(revision, "1");
    await until("two instances that printed their public key", () => instanceLogs(emu).filter((log) => KEY_LINE.test(log)).length === 2, 120_000);

    const again = await apply(emu);
    assertSucceeded(again);
    assert.match(again.message, /nothing changed/);
    assert.equal(output(again, "profileRevision"), revision);

    const changed = await apply(emu, { environmentVariables: "TOOLS=dotnet" });
    assertSucceeded(changed);
    assert.equal(output(changed, "profileRevision"), "2");
    assert.equal(poolRecord(emu)?.revision, 2);

    const removed = await runTaskStep(emu, "AciAgentStandbyPoolV1", { inputs: { standbyPool: POOL, action: "delete" } });
    assertSucceeded(removed);
    assert.equal(poolRecord(emu), undefined);
    assert.equal(profileRecord(emu), undefined);
    assertNoSecretLeaks(emu);
  });

  it("a standby pool provider without its roles (the emulator's default): apply fails naming the role assignments to make; the pool stays and fills once they are made", async function () {
    const emu = emulator();
    await control(emu.info, "POST", "/reset");
    const refused = await apply(emu);
    assert.equal(refused.result, "Failed", plainOutput(refused));
    assert.match(refused.message, /standby pool 'warm-agents' cannot create its containers \(the pool is degraded: AuthorizationFailed: .*containerGroups\/write/);
    const group = `/subscriptions/${emu.info.subscriptionId}/resourceGroups/${emu.info.resourceGroup}`;
    assert.ok(refused.message.includes(`'Standby Pool Resource Provider'`), refused.message);
    assert.ok(refused.message.includes(`Azure Container Instances Contributor on ${group}; Standby Container Group Pool Contributor on ${group}`), refused.message);
    assert.ok(poolRecord(emu) !== undefined, "the pool was removed");

    emu.state.behaviour.standbyProviderWithoutRoles = false;
    const granted = await apply(emu);
    assertSucceeded(granted);
    assert.match(plainOutput(granted), /Standby pool warm-agents: \d+ instance\(s\) running/);
  });
});
