// `npm run emulator`: start the emulator, print one JSON line describing it, serve until stopped.
import { startEmulator } from "./emulator";

async function main(): Promise<void> {
  const emulator = await startEmulator();
  process.stdout.write(`${JSON.stringify(emulator.info)}\n`);
  const shutdown = () => {
    void emulator.stop().then(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
