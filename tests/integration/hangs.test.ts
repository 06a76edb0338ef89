// Integration: AciAgentStart@1 (the bundle) with timeoutMinutes 1 against an emulator where one
// call never answers (connection open, no response): the create's PUT, the GET of the group, the
// poll of the create operation, or the Azure DevOps agent list while waiting for the agents to come
// online. Each step must end by itself (its process exits, no signal is sent), fail with a message
// that names what hung, and leave no container group (once the deletes finish) and no registration.
// The five steps run at once against one emulator, each fault scoped to its own step: by group name,
// by region (the create's operation URL) or by pool (the agent list).
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startEmulator } from "../../emulator/emulator";
import {
  agentNamesInPool,
  ensureBundles,
  groupNames,
  nextBuildId,
  plainOutput,
  requests,
  startStep,
  until,
  type RunningEmulator,
  type StartStep,
} from "./helpers";

interface HungCall {
  title: string;
  namePrefix: string;
  inputs?: Record<string, string>;
  /** Puts the fault in place for the step's one agent, `name`, in pool `pool`. */
  arrange(emu: RunningEmulator, name: string, pool: string): void;
  /** What the failure message must name. */
  named(name: string, pool: string): RegExp;
  /** The hung request, from the emulator's log (hung requests are logged with status 0). */
  hung(emu: RunningEmulator, name: string, pool: string): boolean;
}

/** A guard against a step that never ends (not a timing assertion): far beyond its minute and its clean-up. */
const stepGuardMs = 240_000;

const groupPath = (name: string) => new RegExp(`/containerGroups/${name}$`, "i");
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function hangs(emu: RunningEmulator, service: string, method: string, path: RegExp): boolean {
  return requests(emu, service, method, path).some((e) => e.status === 0);
}

function poolId(emu: RunningEmulator, pool: string): number {
  const found = emu.state.poolByName(pool);
  assert.ok(found !== undefined, `no pool ${pool}`);
  return found.id;
}

const hungCalls: HungCall[] = [
  {
    title: "the container group's PUT (the group is made, its answer never comes)",
    namePrefix: "hangput",
    arrange: (emu, name) => {
      emu.state.faults.push({ id: "put-hangs", service: "arm", method: "PUT", path: `/containerGroups/${name}$`, hang: "after", remaining: 1 });
      // Online, the agent would end the step with success however its PUT fares.
      emu.state.behaviour.agentsNeverOnline.push(name);
    },
    named: (name) => new RegExp(`create of container group ${name}\\b`),
    hung: (emu, name) => hangs(emu, "arm", "PUT", groupPath(name)),
  },
  {
    title: "every GET of the container group",
    namePrefix: "hangget",
    arrange: (emu, name) => {
      emu.state.faults.push({ id: "get-hangs", service: "arm", method: "GET", path: `/containerGroups/${name}$`, hang: "before", remaining: 1000 });
      emu.state.behaviour.agentsNeverOnline.push(name);
    },
    named: (name) => new RegExp(`read container group ${name}\\b`),
    hung: (emu, name) => hangs(emu, "arm", "GET", groupPath(name)),
  },
  {
    title: "a poll of the create operation (Azure-AsyncOperation) after the first",
    namePrefix: "hangpoll",
    // The operation's URL names its region and nothing else of the step: a region of its own scopes the fault.
    inputs: { location: "northeurope" },
    arrange: (emu, name) => {
      emu.state.behaviour.agentsNeverOnline.push(name);
      // The SDK's begin… polls once itself; the polls after it are the ones the step waits on.
      const polls = /\/locations\/northeurope\/operations\//i;
      void until("the first poll of the create operation", () => requests(emu, "arm", "GET", polls).some((e) => e.status === 200), 120_000)
        .then(() => { emu.state.faults.push({ id: "poll-hangs", service: "arm", method: "GET", path: polls.source, hang: "before", remaining: 1 }); })
        .catch(() => {});
    },
    named: (name) => new RegExp(`create operation of container group ${name}\\b`),
    hung: (emu) => hangs(emu, "arm", "GET", /\/locations\/northeurope\/operations\//i),
  },
  {
    title: "the first poll of the create operation, which the SDK sends before its begin… returns",
    namePrefix: "hangfirstpoll",
    inputs: { location: "westus" },
    arrange: (emu, name) => {
      emu.state.behaviour.agentsNeverOnline.push(name);
      emu.state.faults.push({ id: "first-poll-hangs", service: "arm", method: "GET", path: "/locations/westus/operations/", hang: "before", remaining: 1 });
    },
    // The PUT was answered: the message must not say the create hung.
    named: (name) => new RegExp(`first poll of the create operation of container group ${name}\\b`),
    hung: (emu) => hangs(emu, "arm", "GET", /\/locations\/westus\/operations\//i),
  },
  {
    title: "the Azure DevOps agent list while waiting for the agent to come online",
    namePrefix: "hangdevops",
    // The list's URL names the pool and nothing else of the step: a pool of its own scopes the fault.
    inputs: { pool: "hang-pool" },
    arrange: (emu, _name, pool) => {
      const id = emu.state.newId();
      emu.state.pools.set(id, { id, name: pool });
      // Pre-flight's list (are the names free?) is answered; the first list of the wait hangs and
      // spans it: it has no answer when timeoutMinutes passes; the clean-up's list is answered.
      emu.state.faults.push({ id: "list-hangs", service: "devops", method: "GET", path: `/_apis/distributedtask/pools/${id}/agents$`, hang: "before", remaining: 1, skip: 1 });
    },
    named: (_name, pool) => new RegExp(`list the agents of pool '${escaped(pool)}'`),
    hung: (emu, _name, pool) => hangs(emu, "devops", "GET", new RegExp(`/pools/${poolId(emu, pool)}/agents$`)),
  },
];

describe("AciAgentStart@1 with a hung call and timeoutMinutes 1 (five steps at once)", function () {
  this.timeout(300_000);
  let emu: RunningEmulator | undefined;
  const jobDirectory = mkdtempSync(join(tmpdir(), "aci-hangs-"));
  const steps = new Map<HungCall, { step: StartStep; name: string; pool: string }>();

  before(async function () {
    this.timeout(180_000);
    ensureBundles();
    emu = await startEmulator();
    // Provisioning takes a while, so that the create operation is still running when the SDK first polls it.
    emu.state.delays.provisionMs = 10_000;
    for (const call of hungCalls) {
      const buildId = nextBuildId();
      const name = `${call.namePrefix}-${buildId}-1-1`;
      const pool = call.inputs?.pool ?? emu.info.pool;
      call.arrange(emu, name, pool);
      const step = startStep(emu, {
        buildId,
        tempDirectory: mkdtempSync(join(jobDirectory, `${call.namePrefix}-`)),
        inputs: { agentCount: "1", namePrefix: call.namePrefix, timeoutMinutes: "1", ...call.inputs },
      });
      steps.set(call, { step, name, pool });
    }
  });

  after(async function () {
    this.timeout(120_000);
    await Promise.all([...steps.values()].map(({ step }) => step.running.done));
    if (emu !== undefined) {
      await emu.context.runtime.stopAll();
      await emu.stop();
    }
    rmSync(jobDirectory, { recursive: true, force: true });
  });

  for (const call of hungCalls) {
    it(`${call.title}: the step ends by itself at its deadline, names what hung, and leaves nothing behind`, async function () {
      const running = emu;
      const started = steps.get(call);
      assert.ok(running !== undefined && started !== undefined, "the step did not start");
      const { step, name, pool } = started;
      const run = await Promise.race([step.running.done, sleep(stepGuardMs, undefined, { ref: false })]);
      if (run === undefined) {
        step.running.signal("SIGKILL");
        const killed = await step.running.done;
        assert.fail(`the step's process had not ended ${stepGuardMs / 1000} s into this test (killed):\n${plainOutput(killed)}`);
      }
      const output = plainOutput(run);

      assert.ok(call.hung(running, name, pool), `the fault did not hold a request open:\n${output}`);
      assert.deepEqual(run.signals, [], "the step was sent a signal");
      // task-lib reports the result with task.complete; null would mean the process ended by a signal.
      assert.notEqual(run.exitCode, null, `the step's process did not exit by itself:\n${output}`);
      assert.equal(run.result, "Failed", output);
      assert.match(run.message, /timeoutMinutes/, `the message does not say that the step's time ran out:\n${output}`);
      assert.match(run.message, call.named(name, pool), `the message does not name what hung:\n${output}`);

      // The group was made (even the hung PUT's), so its absence below is the clean-up's doing.
      assert.ok(requests(running, "arm", "DELETE", groupPath(name)).some((e) => e.status === 202), `no DELETE of ${name} was accepted:\n${output}`);
      // A delete ARM accepted takes its time (scaled down here); the group is gone once it ends.
      await until(`the container group ${name} to be deleted`, () => !groupNames(running).includes(name), 60_000).catch((error: unknown) => {
        const left = [...running.state.containerGroups.values()].filter((g) => g.name === name).map((g) => `${g.name}: ${g.provisioningState}`);
        throw new Error(`${String(error)}; left: ${left.join(", ")}\n${output}`);
      });
      assert.deepEqual(agentNamesInPool(running).filter((agent) => agent === name), [], `the step left its agent registered:\n${output}`);
    });
  }
});
