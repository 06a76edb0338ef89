// The foundation's promise: a program that uses only the public SDKs, configured with the
// emulator's JSON line and NODE_EXTRA_CA_CERTS and nothing else, creates a container group, sees it
// succeed, reads its log and deletes it.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { startEmulator, type RunningEmulator } from "../../emulator/emulator";

const run = promisify(execFile);

describe("a program using only the public Azure SDKs against the emulator", function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;

  before(async () => {
    emulator = await startEmulator();
  });
  after(async () => {
    await emulator.stop();
  });

  it("creates a group, sees it succeed, reads its log, lists it and deletes it", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--require", require.resolve("tsx/cjs"), join(__dirname, "publicSdkProgram.ts"), JSON.stringify(emulator.info)],
      { env: { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: emulator.info.caFile } },
    );
    const seen = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
    assert.equal(seen.provisioningState, "Succeeded");
    assert.equal(seen.state, "Running");
    assert.equal(seen.containerState, "Running");
    assert.equal(seen.log, "hello from the emulator\n");
    assert.deepEqual(seen.listed, ["public-sdk-smoke"]);
    assert.equal(seen.secureValueEchoed, false);
    assert.equal(seen.gone, true);
    assert.equal(emulator.state.containerGroups.size, 0);
  });

  it("fails without the emulator's CA: the SDKs really check the certificate", async () => {
    await assert.rejects(
      run(process.execPath, ["--require", require.resolve("tsx/cjs"), join(__dirname, "publicSdkProgram.ts"), JSON.stringify(emulator.info)], {
        env: { PATH: process.env.PATH ?? "" },
      }),
      // MSAL reports the failed TLS handshake with its OpenID configuration as this.
      /endpoints_resolution_error|self[- ]signed|unable to verify/i,
    );
  });
});
