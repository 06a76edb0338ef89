// Integration: the bundled AciAgentStart@1 with `standbyPool` claims its agents from a standby pool
// of the emulator, made here through the emulator's ARM routes as AciAgentStandbyPool@1 makes it
// (profile container `azp-agent` in standby mode, restart policy Never; a pool of that profile).
import { strict as assert } from "node:assert";
import { makeStandbyPool, poolName } from "../helpers/standbyPool";
import { assertNoSecretLeaks, groupsNotBeingDeleted, namesOf, plainOutput, runJob, runStart, stopAgents, until, useEmulator, type RunningEmulator } from "./helpers";

/** Starts `count` agents from the pool, runs a job on one, and removes them with AciAgentStop; answers the start's output. */
async function startRunStop(emu: RunningEmulator, buildId: string, count: number): Promise<string> {
  const run = await runStart(emu, { buildId, inputs: { agentCount: String(count), standbyPool: poolName, timeoutMinutes: "15" } });
  const output = plainOutput(run);
  assert.equal(run.result, "Succeeded", `AciAgentStart failed: ${run.message}\n${output}`);
  const names = namesOf(buildId, count);
  const agent = await runJob(emu, [`ACI_FLEET -equals azp-${buildId}`], `job-${buildId}`);
  assert.ok(names.includes(agent), `${agent} is not one of ${names.join(", ")}`);
  for (const name of names) {
    const group = [...emu.state.containerGroups.values()].find((g) => g.name === name);
    assert.ok(group !== undefined, `no group ${name}`);
    assert.equal((group.body.tags as Record<string, string> | undefined)?.["aci-agents-agent"], name, `${name} carries no run tags`);
    const configMap = (group.body.properties as { containers: { properties: { configMap?: { keyValuePairs: Record<string, string> } } }[] }).containers[0]?.properties.configMap?.keyValuePairs ?? {};
    assert.equal(configMap.agentName, name);
    assert.equal(configMap.ACI_FLEET, `azp-${buildId}`);
    const pool = emu.state.poolByName(emu.info.pool);
    assert.deepEqual(pool === undefined ? undefined : emu.state.agentByName(pool.id, name)?.userCapabilities, { ACI_RUN_ID: buildId, ACI_FLEET: `azp-${buildId}` }, `${name}'s pinning values are user capabilities`);
  }
  const stop = await stopAgents(emu, buildId);
  assert.equal(stop.result, "Succeeded", `AciAgentStop failed: ${stop.message}\n${plainOutput(stop)}`);
  await until("the claimed groups to be gone", () => groupsNotBeingDeleted(emu).every((g) => !names.includes(g)), 120_000);
  assertNoSecretLeaks(emu);
  return output;
}

function warmCount(output: string): { warm: number; fresh: number } {
  const found = /From standby pool '[^']+': (\d+) warm.*?, (\d+) fresh/.exec(output);
  assert.ok(found !== null, `no warm/fresh line in\n${output}`);
  return { warm: Number(found[1]), fresh: Number(found[2]) };
}

describe("integration: AciAgentStart@1 with standbyPool against the emulator", function () {
  this.timeout(900_000);
  const emulator = useEmulator();

  it("claims 1 agent warm from a filled pool: online, runs a job, removed by AciAgentStop", async function () {
    const emu = emulator();
    await makeStandbyPool(emu, 1);
    const output = await startRunStop(emu, "7801", 1);
    assert.deepEqual(warmCount(output), { warm: 1, fresh: 0 });
  });

  it("claims 20 agents warm from a filled pool of 20: online, run a job, removed by AciAgentStop", async function () {
    const emu = emulator();
    await makeStandbyPool(emu, 20);
    const output = await startRunStop(emu, "7802", 20);
    assert.deepEqual(warmCount(output), { warm: 20, fresh: 0 });
  });

  it("20 agents from a pool holding 5: 5 warm, 15 fresh from the profile", async function () {
    const emu = emulator();
    await makeStandbyPool(emu, 5);
    // The emulator's pool refills at once (its instances provision in provisionMs, 0 by default),
    // faster than the claims of 20 agents go out: with provisioning slow, the claimed 5 are not
    // replaced during the start, as in ACI, where a group takes tens of seconds to provision.
    const provisionMs = emu.state.delays.provisionMs;
    emu.state.delays.provisionMs = 20_000;
    let output: string;
    try {
      output = await startRunStop(emu, "7803", 20);
    } finally {
      emu.state.delays.provisionMs = provisionMs;
    }
    assert.deepEqual(warmCount(output), { warm: 5, fresh: 15 });
  });

  it("refuses a pool that does not exist, naming standbyPool, and creates nothing", async function () {
    const emu = emulator();
    const run = await runStart(emu, { buildId: "7804", inputs: { agentCount: "1", standbyPool: "no-such-pool" } });
    assert.equal(run.result, "Failed");
    assert.match(run.message, /standbyPool: there is no standby pool 'no-such-pool'/);
    assert.deepEqual(groupsNotBeingDeleted(emu), []);
  });
});
