// Integration: the bundled tasks with each kind of ARM connection and each registration mode
// that needs no PAT, against the emulated Entra, instance metadata service, ARM and Azure DevOps.
import { strict as assert } from "node:assert";
import { agentMachineIdentities } from "../../emulator/imds/routes";
import {
  agentNamesInPool,
  assertInvariants,
  groupNames,
  namesOf,
  plainOutput,
  runStart,
  runTaskStep,
  useEmulator,
  type RunningEmulator,
  type StepOptions,
} from "./helpers";

/** Start then stop with the same connection; both must succeed and leave nothing of the run. */
async function startAndStop(emu: RunningEmulator, options: StepOptions): Promise<void> {
  const start = await runStart(emu, options);
  assertInvariants(emu, start);
  assert.equal(start.result, "Succeeded", `${start.message}\n${plainOutput(start)}`);
  assert.deepEqual(groupNames(emu), namesOf(start.step.buildId, 1));
  assert.deepEqual(agentNamesInPool(emu), namesOf(start.step.buildId, 1));
  const stop = await runTaskStep(emu, "AciAgentStopV1", { ...options, buildId: start.step.buildId });
  assertInvariants(emu, stop);
  assert.equal(stop.result, "Succeeded", `${stop.message}\n${plainOutput(stop)}`);
  assert.equal(stop.outputs.removedCount, "1");
  assert.deepEqual(groupNames(emu), []);
  assert.deepEqual(agentNamesInPool(emu), []);
}

function imdsTokenRequests(emu: RunningEmulator) {
  return emu.state.requestLog.filter((e) => e.service === "imds" && /\/metadata\/identity\/oauth2\/token/.test(e.url));
}

describe("integration: connections and registration modes", function () {
  this.timeout(180_000);
  const emulator = useEmulator();

  describe("ManagedServiceIdentity ARM connections", function () {
    it("start and stop with the agent machine's system-assigned identity", async function () {
      const emu = emulator();
      await startAndStop(emu, { scheme: "managedIdentity" });
      const requests = imdsTokenRequests(emu);
      assert.ok(requests.length > 0, "the instance metadata service was asked for a token");
      for (const entry of requests) {
        assert.equal(entry.status, 200);
        assert.ok(!/[?&](client_id|object_id|mi_res_id)=/.test(entry.url), `no user-assigned identity was chosen: ${entry.url}`);
      }
      assert.deepEqual(emu.state.requestLog.filter((e) => e.service === "entra"), [], "nothing went to Entra's token endpoint");
    });

    it("start and stop with a user-assigned identity named by the connection's msiclientId", async function () {
      const emu = emulator();
      const identity = agentMachineIdentities.userAssigned[0];
      assert.ok(identity !== undefined);
      await startAndStop(emu, { scheme: "managedIdentity", msiClientId: identity.clientId });
      const requests = imdsTokenRequests(emu);
      assert.ok(requests.length > 0);
      for (const entry of requests) assert.ok(entry.url.includes(`client_id=${identity.clientId}`), entry.url);
    });

    it("fails naming azureSubscription when the machine has no such user-assigned identity", async function () {
      const emu = emulator();
      const run = await runStart(emu, { scheme: "managedIdentity", msiClientId: "00000000-0000-4000-8000-0000000000ff" });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /^azureSubscription: .*Identity not found/);
      assert.deepEqual(groupNames(emu), []);
    });
  });

  it("a sovereign cloud (AzureUSGovernment) connection uses the authority and ARM URL its data names", async function () {
    const emu = emulator();
    await startAndStop(emu, { environment: "AzureUSGovernment" });
    const tokens = emu.state.requestLog.filter((e) => e.service === "entra" && /\/oauth2\/v2\.0\/token/.test(e.url));
    assert.ok(tokens.length > 0);
    for (const entry of tokens) assert.equal(new URLSearchParams(entry.requestBody).get("scope"), `${emu.info.armUrl}.default`);
  });
});
