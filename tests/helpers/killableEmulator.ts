// Forked by tests/emulator/stop.test.ts: an emulator in a process of its own, running one container
// with a child, for the test to kill without letting it stop. Sends what it runs.
import { startEmulator } from "../../emulator/emulator";
import { arm, containerGroupWire, eventually, groupPath } from "./emulator";

/** What the forked emulator sends once its container runs. */
export interface KillableEmulatorRunning {
  /** The container's main process and the child it started. */
  pids: number[];
  /** The container's HOME, inside the emulator's work folder. */
  home: string;
}

async function main(): Promise<void> {
  const emulator = await startEmulator();
  const name = "cg-killed-emulator";
  const body = containerGroupWire(emulator.info, { command: ["/bin/sh", "-c", 'sleep 600 & echo "running $$ $! $HOME"; wait'] });
  const put = await arm(emulator.info, "PUT", groupPath(emulator.info, name), { body });
  if (put.status !== 200 && put.status !== 201) throw new Error(put.text);
  const group = [...emulator.state.containerGroups.values()].find((g) => g.name === name);
  const running = await eventually("the container to say what it runs", () => {
    const line = group?.containers.get("main")?.log.find((l) => l.text.startsWith("running "));
    const [, main, child, home] = line?.text.split(" ") ?? [];
    return Promise.resolve(main === undefined || child === undefined || home === undefined ? undefined : { pids: [Number(main), Number(child)], home });
  });
  const message: KillableEmulatorRunning = running;
  process.send?.(message);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
