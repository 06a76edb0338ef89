// Integration: a 20-agent AciAgentStart@1 (the bundle) cancelled the way the agent cancels a step
// (SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that) at several points of its work, against
// an emulator whose deletes take ACI's full minute. Read from the emulator's request log: every
// planned name that was PUT was sent a DELETE after the SIGINT (and after its PUT was done) and
// before the SIGKILL, and no fallback PUT followed the SIGINT. Read from its state once
// the step has ended: every group left is being deleted (so none is left once the deletes finish)
// and no agent of the run is registered.
import { strict as assert } from "node:assert";
import { aciDeleteMs } from "../../emulator/state";
import { agentCancel, type StepRun } from "../../emulator/pipeline";
import { makeStandbyPool, poolName } from "../helpers/standbyPool";
import { agentNamesInPool, namesOf, namesOfBuild, plainOutput, startStep, until, useEmulator, type RunningEmulator } from "./helpers";

const agentCount = 20;

interface CancelPoint {
  title: string;
  /** Set-up that takes time, before the step starts (a standby pool to fill). */
  prepare?(emu: RunningEmulator): Promise<void>;
  arrange(emu: RunningEmulator): void;
  inputs?: Record<string, string>;
  /** What has happened when the cancel comes. */
  waitFor: string;
  reached(emu: RunningEmulator, names: string[]): boolean;
  /** Requests the emulator still holds have been answered (default: none are held). */
  settled?(emu: RunningEmulator): boolean;
}

const groupsApi = /\/providers\/Microsoft\.ContainerInstance\/containerGroups(\/[^/?]+)?(\?|$)/i;

function nameOf(url: string): string | undefined {
  return /\/containerGroups\/([^/?]+)/i.exec(url)?.[1]?.toLowerCase();
}

/** ARM requests on container groups: when each arrived and when it was answered (and so done). */
function armRequests(emu: RunningEmulator, method: string): { name: string | undefined; receivedAt: number; answeredAt: number; status: number }[] {
  return emu.state.requestLog
    .filter((e) => e.service === "arm" && e.method === method && groupsApi.test(e.url))
    .map((e) => ({ name: nameOf(e.url), receivedAt: Date.parse(e.receivedAt), answeredAt: Date.parse(e.at), status: e.status }));
}

const cancelPoints: CancelPoint[] = [
  {
    title: "during pre-flight (the group list does not answer)",
    arrange: (emu) => {
      emu.state.faults.push({ id: "list-hangs", service: "arm", method: "GET", path: "/providers/Microsoft\\.ContainerInstance/containerGroups$", hang: "before", remaining: 1 });
    },
    waitFor: "the group list to hang",
    reached: (emu) => emu.state.requestLog.some((e) => e.status === 0),
  },
  {
    title: "while the creates are in flight (accepted, still provisioning)",
    arrange: (emu) => {
      emu.state.delays.provisionMs = 5 * 60_000;
    },
    waitFor: "every create to be accepted",
    reached: (emu, names) => names.every((n) => armRequests(emu, "PUT").some((p) => p.name === n && p.status >= 200 && p.status < 300)),
  },
  {
    title: "while the PUTs are in flight (each answered 4 s after it arrived)",
    arrange: (emu) => {
      emu.state.faults.push({ id: "slow-puts", service: "arm", method: "PUT", path: "/containerGroups/", delayMs: 4000, remaining: agentCount });
    },
    waitFor: "every PUT to arrive",
    reached: (emu) => emu.state.faults.every((f) => f.remaining === 0),
    settled: (emu) => armRequests(emu, "PUT").length >= agentCount,
  },
  {
    title: "while the claims are in flight (a standby start; each claim answered 4 s after it arrived)",
    // Two warm instances; the other claims make fresh groups from the profile.
    prepare: (emu) => makeStandbyPool(emu, 2),
    arrange: (emu) => {
      emu.state.faults.push({ id: "slow-claims", service: "arm", method: "PUT", path: "/containerGroups/", delayMs: 4000, remaining: agentCount });
    },
    inputs: { standbyPool: poolName },
    waitFor: "every claim to arrive",
    reached: (emu) => emu.state.faults.every((f) => f.remaining === 0),
    settled: (emu) => armRequests(emu, "PUT").length >= agentCount,
  },
  {
    title: "during a region-fallback delete",
    arrange: (emu) => {
      emu.state.delays.provisionMs = 500;
      emu.state.behaviour.capacityFailures.set("westeurope", "async");
    },
    inputs: { location: "westeurope", fallbackLocations: "northeurope" },
    waitFor: "a fallback delete to be under way",
    reached: (emu, names) => armRequests(emu, "DELETE").some((d) => d.name !== undefined && names.includes(d.name) && d.status === 202),
  },
  {
    title: "while waiting for the agents to come online",
    arrange: (emu) => {
      emu.state.behaviour.agentsNeverOnline.push("azp-");
    },
    waitFor: "every agent to register",
    reached: (emu, names) => names.every((n) => agentNamesInPool(emu).includes(n)),
  },
];

describe(`AciAgentStart@1 cancelled as the agent cancels (${agentCount} agents, one-minute deletes)`, function () {
  this.timeout(240_000);
  const emulator = useEmulator();

  for (const point of cancelPoints) {
    it(`${point.title}: every planned name gets its DELETE before the SIGKILL, and nothing is left once the deletes finish`, async function () {
      const emu = emulator();
      await point.prepare?.(emu);
      emu.state.delays.deleteMs = aciDeleteMs;
      point.arrange(emu);
      const step = startStep(emu, { inputs: { agentCount: String(agentCount), timeoutMinutes: "10", ...point.inputs } });
      const names = namesOf(step.buildId, agentCount);
      let ended: StepRun | undefined;
      void step.running.done.then((run) => { ended = run; });
      await until(point.waitFor, () => ended !== undefined || point.reached(emu, names), 120_000);
      assert.equal(ended, undefined, `the step ended before the cancel:\n${plainOutput(ended ?? { lines: [] })}`);

      const run: StepRun = await step.running.cancel();
      await until("the requests the emulator held to be answered", () => point.settled?.(emu) ?? true, 30_000);

      const sigint = run.signals.find((s) => s.signal === "SIGINT");
      assert.ok(sigint !== undefined, "no SIGINT was sent");
      const killAt = run.signals.find((s) => s.signal === "SIGKILL")?.at ?? sigint.at + agentCancel.sigintTimeoutMs + agentCancel.sigtermTimeoutMs;
      // A name whose PUT was sent needs a DELETE after the SIGINT, after its last PUT was done and
      // before the SIGKILL; a name never PUT (a cancel in pre-flight) has nothing to delete.
      const puts = armRequests(emu, "PUT");
      const deletes = armRequests(emu, "DELETE");
      const missing = names.filter((name) => {
        const lastPut = Math.max(...puts.filter((p) => p.name === name).map((p) => p.answeredAt));
        if (lastPut === -Infinity) return false;
        return !deletes.some((d) => d.name === name && d.receivedAt >= Math.max(sigint.at, lastPut) && d.receivedAt <= killAt);
      });
      assert.deepEqual(missing, [], `no DELETE between the SIGINT (or a later PUT) and the SIGKILL for these; signals ${JSON.stringify(run.signals)}\n${plainOutput(run)}`);
      // A PUT sent just before the SIGINT may arrive just after it (the DELETE check above covers
      // it); a PUT to a fallback region after the SIGINT means the fallback went on after the cancel.
      const putLocation = (e: { requestBody: string }) => String((JSON.parse(e.requestBody) as { location?: string }).location);
      const armPuts = emu.state.requestLog.filter((e) => e.service === "arm" && e.method === "PUT" && groupsApi.test(e.url));
      const firstRegion = armPuts[0] === undefined ? undefined : putLocation(armPuts[0]);
      assert.deepEqual(
        armPuts
          .filter((e) => Date.parse(e.receivedAt) > sigint.at && putLocation(e) !== firstRegion)
          .map((e) => `${nameOf(e.url) ?? e.url} in ${putLocation(e)}, ${Date.parse(e.receivedAt) - sigint.at} ms after the SIGINT: ${e.status}`),
        [],
        `PUTs to a fallback region after the SIGINT\n${plainOutput(run)}`,
      );

      const remaining = [...emu.state.containerGroups.values()].filter((g) => names.includes(g.name));
      assert.deepEqual(
        remaining.filter((g) => g.provisioningState !== "Deleting").map((g) => `${g.name}: ${g.provisioningState}`),
        [],
        "groups that are not being deleted, so will outlive the deletes",
      );
      assert.deepEqual(namesOfBuild(agentNamesInPool(emu), step.buildId), [], plainOutput(run));
      // Node's leak warning, meant for listeners that pile up, in the user's log of a clean-up
      // whose twenty deletes each listen to its deadline at once.
      assert.deepEqual(run.lines.filter((l) => l.includes("MaxListenersExceededWarning")), [], "Node warned of a listener leak");
    });
  }
});
