// Stopping the emulator leaves nothing behind: no container process and no aci-emulator-* folder,
// even when a container was about to be restarted (restart policy OnFailure/Always); a reset starts none of them again.
import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startEmulator } from "../../emulator/emulator";
import { containerState } from "../../emulator/runtime/containerRuntime";
import { arm, containerGroupWire, control, eventually, groupPath } from "../helpers/emulator";

/** The runtime's pause before a restart (emulator/runtime/containerRuntime.ts), with a margin. */
const afterRestartBackoffMs = 1_500;

describe("emulator stop", function () {
  it("removes its temp folder even while a container waits to be restarted", async function () {
    this.timeout(30_000);
    const emulator = await startEmulator();
    let home: string;
    try {
      const body = containerGroupWire(emulator.info, { restartPolicy: "OnFailure", command: ["/bin/sh", "-c", 'echo "HOME=$HOME"; exit 1'] });
      const put = await arm(emulator.info, "PUT", groupPath(emulator.info, "cg-stop-restart"), { body });
      assert.ok(put.status === 200 || put.status === 201, put.text);
      const group = [...emulator.state.containerGroups.values()].find((g) => g.name === "cg-stop-restart");
      assert.ok(group !== undefined);
      // Between an exit and the restart the container is Terminated and no process runs.
      home = await eventually("a failed run waiting for its restart", () => {
        const container = containerState(group, "main");
        const line = container.log.map((l) => l.text).find((text) => text.startsWith("HOME="));
        return Promise.resolve(container.state === "Terminated" && line !== undefined ? line.slice("HOME=".length) : undefined);
      }, 10_000);
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
      const body = containerGroupWire(emulator.info, { restartPolicy: "OnFailure", command: ["/bin/sh", "-c", "echo ran; exit 1"] });
      const put = await arm(emulator.info, "PUT", groupPath(emulator.info, "cg-reset-restart"), { body });
      assert.ok(put.status === 200 || put.status === 201, put.text);
      const group = [...emulator.state.containerGroups.values()].find((g) => g.name === "cg-reset-restart");
      assert.ok(group !== undefined);
      await eventually("a failed run waiting for its restart", () => {
        const container = containerState(group, "main");
        return Promise.resolve(container.state === "Terminated" && container.log.some((l) => l.text === "ran") ? true : undefined);
      }, 10_000);
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
