// Stopping the emulator leaves nothing behind: no container process and no aci-emulator-* folder,
// even when a container was about to be restarted (restart policy OnFailure/Always) or a standby
// refill was still provisioning; a reset starts none of them again; and an emulator whose process
// is killed, never stopped, leaves nothing either.
import { strict as assert } from "node:assert";
import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startEmulator, type RunningEmulator } from "../../emulator/emulator";
import { containerState } from "../../emulator/runtime/containerRuntime";
import type { ContainerGroupRecord } from "../../emulator/state";
import { arm, containerGroupWire, control, eventually, groupPath, isAlive } from "../helpers/emulator";
import type { KillableEmulatorRunning } from "../helpers/killableEmulator";
import { claimFromPool, makeStandbyPool } from "../helpers/standbyPool";
import { STANDBY_CONTAINER } from "../../src/run/names";

/** The runtime's pause before a restart (emulator/runtime/containerRuntime.ts), with a margin. */
const afterRestartBackoffMs = 1_500;

/**
 * Creates `name` with restart policy OnFailure, its container running `script` (which fails), and
 * waits until a run has ended and waits for its restart (the container Terminated, no process)
 * with what `seen` finds in its log lines.
 */
async function waitingForRestart<T>(emulator: RunningEmulator, name: string, script: string, seen: (log: string[]) => T | undefined): Promise<{ group: ContainerGroupRecord; found: T }> {
  const body = containerGroupWire(emulator.info, { restartPolicy: "OnFailure", command: ["/bin/sh", "-c", script] });
  const put = await arm(emulator.info, "PUT", groupPath(emulator.info, name), { body });
  assert.ok(put.status === 200 || put.status === 201, put.text);
  const group = [...emulator.state.containerGroups.values()].find((g) => g.name === name);
  assert.ok(group !== undefined);
  const found = await eventually("a failed run waiting for its restart", () => {
    const container = containerState(group, "main");
    return Promise.resolve(container.state === "Terminated" ? seen(container.log.map((l) => l.text)) : undefined);
  }, 10_000);
  return { group, found };
}

describe("emulator stop", function () {
  it("a killed emulator's containers end, children and all, and its work folder goes (it never stopped them)", async function () {
    this.timeout(60_000);
    const emulatorProcess = fork(join(__dirname, "..", "helpers", "killableEmulator.ts"), [], { execArgv: ["--import", "tsx"], stdio: "inherit" });
    let pids: number[] = [];
    try {
      const running = await new Promise<KillableEmulatorRunning>((resolve, reject) => {
        emulatorProcess.once("message", (message: KillableEmulatorRunning) => { resolve(message); });
        emulatorProcess.once("exit", (code) => { reject(new Error(`the emulator's process ended (${code}) before its container ran`)); });
      });
      pids = running.pids;
      const workFolder = /^.*\/aci-emulator-[^/]+/.exec(running.home)?.[0];
      assert.ok(workFolder !== undefined && existsSync(workFolder), `no emulator work folder above ${running.home}`);
      assert.ok(pids.every(isAlive), "the container and its child do not run");
      emulatorProcess.kill("SIGKILL");
      await eventually("the container and its child to end after the emulator's process was killed", () => Promise.resolve(pids.some(isAlive) ? undefined : true), 10_000);
      await eventually("the killed emulator's work folder to be removed", () => Promise.resolve(existsSync(workFolder) ? undefined : true), 10_000);
    } catch (error) {
      for (const pid of pids.filter(isAlive)) process.kill(pid, "SIGKILL");
      throw error;
    } finally {
      emulatorProcess.kill("SIGKILL");
    }
  });

  it("removes its temp folder even while a container waits to be restarted", async function () {
    this.timeout(30_000);
    const emulator = await startEmulator();
    let home: string;
    try {
      const { found } = await waitingForRestart(emulator, "cg-stop-restart", 'echo "HOME=$HOME"; exit 1', (log) => log.find((text) => text.startsWith("HOME="))?.slice("HOME=".length));
      home = found;
    } finally {
      await emulator.stop();
    }
    // home is <aci-emulator-*>/containers/<group folder>/main/home
    const workRoot = dirname(dirname(dirname(dirname(home))));
    assert.match(workRoot, /aci-emulator-/);
    await sleep(afterRestartBackoffMs);
    assert.equal(existsSync(workRoot), false, `${workRoot} is still there after stop()`);
  });

  it("a standby instance still provisioning at stop() never starts: no container of it runs after the stop", async function () {
    this.timeout(120_000);
    const emulator = await startEmulator();
    const { info, state } = emulator;
    let refill: ContainerGroupRecord | undefined;
    try {
      await makeStandbyPool(emulator, 1);
      const ready = new Set(state.standbyInstances);
      // The refill starts with the claim: it must still be provisioning when the claim is answered.
      state.delays.claimMs = 0;
      state.delays.provisionMs = 1_000;
      await claimFromPool(info, "cg-claimed", { go: "yes" });
      refill = [...state.standbyInstances].find((instance) => !ready.has(instance));
      assert.ok(refill !== undefined, "the pool did not start a refill");
    } finally {
      await emulator.stop();
    }
    await sleep(2 * state.delays.provisionMs);
    const started = containerState(refill, STANDBY_CONTAINER).events.filter((event) => event.name === "Started");
    assert.deepEqual(started, [], "a refill instance's container started after the emulator stopped");
  });

  it("a reset while a container waits to be restarted: it is not started again", async function () {
    this.timeout(30_000);
    const emulator = await startEmulator();
    try {
      const { group } = await waitingForRestart(emulator, "cg-reset-restart", "echo ran; exit 1", (log) => (log.includes("ran") ? true : undefined));
      const reset = await control(emulator.info, "POST", "/reset");
      assert.equal(reset.status, 204);
      const runs = containerState(group, "main").log.filter((l) => l.text === "ran").length;
      await sleep(2 * afterRestartBackoffMs);
      assert.equal(containerState(group, "main").log.filter((l) => l.text === "ran").length, runs, "a container of a group the reset removed ran again");
    } finally {
      await emulator.stop();
    }
  });
});
