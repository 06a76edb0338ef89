// Forked by tests/emulator/stop.test.ts: an emulator in a process of its own, running one
// container, for the test to kill without letting it stop. Sends the container's pid.
import { startEmulator } from "../../emulator/emulator";
import { arm, containerGroupWire, eventually, groupPath } from "./emulator";

async function main(): Promise<void> {
  const emulator = await startEmulator();
  const body = containerGroupWire(emulator.info, { command: ["/bin/sh", "-c", 'echo "pid=$$"; exec sleep 600'] });
  const put = await arm(emulator.info, "PUT", groupPath(emulator.info, "cg-killed-emulator"), { body });
  if (put.status !== 200 && put.status !== 201) throw new Error(put.text);
  const group = [...emulator.state.containerGroups.values()].find((g) => g.name === "cg-killed-emulator");
  const pid = await eventually("the container's pid in its log", () => {
    const line = group?.containers.get("main")?.log.find((l) => l.text.startsWith("pid="));
    return Promise.resolve(line === undefined ? undefined : Number(line.text.slice("pid=".length)));
  });
  process.send?.({ pid });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
