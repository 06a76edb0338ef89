// Stopping the emulator leaves nothing behind: no container process and no aci-emulator-* folder,
// even when a container was about to be restarted (restart policy OnFailure/Always); a reset starts none of them again.
import { strict as assert } from "node:assert";
import { fork } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startEmulator, type RunningEmulator } from "../../emulator/emulator";
import { containerState } from "../../emulator/runtime/containerRuntime";
import type { ContainerGroupRecord } from "../../emulator/state";
import { arm, containerGroupWire, control, eventually, groupPath } from "../helpers/emulator";

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

/** Whether `pid` is a process that has not ended (a zombie has). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("emulator stop", function () {
  it("a container ends with the emulator's process even when that process is killed (no stop, no exit handler)", async function () {
    this.timeout(60_000);
    const emulator = fork(join(__dirname, "..", "helpers", "killableEmulator.ts"), [], { execArgv: ["--import", "tsx"], stdio: "inherit" });
    const pid = await new Promise<number>((resolve, reject) => {
      emulator.once("message", (message: { pid: number }) => { resolve(message.pid); });
      emulator.once("exit", (code) => { reject(new Error(`the emulator's process ended (${code}) before its container ran`)); });
    });
    assert.ok(alive(pid), "the container is not running");
    emulator.kill("SIGKILL");
    try {
      await eventually("the container's process to end after the emulator's was killed", () => Promise.resolve(alive(pid) ? undefined : true), 10_000);
    } finally {
      if (alive(pid)) process.kill(pid, "SIGKILL");
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
