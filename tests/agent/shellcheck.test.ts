// The shell scripts that run inside containers pass shellcheck, as CI requires. start.sh is
// POSIX sh (stock images such as alpine have no bash); the emulated agent's wrappers are bash.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const repositoryRoot = resolve(__dirname, "..", "..");

function shellcheck(...args: string[]): { status: number | null; output: string; missing: boolean } {
  const result = spawnSync("shellcheck", args, { cwd: repositoryRoot, encoding: "utf8" });
  const missing = result.error !== undefined && "code" in result.error && result.error.code === "ENOENT";
  return { status: result.status, output: `${result.stdout}${result.stderr}`, missing };
}

describe("agent scripts: shellcheck", function () {
  before(function () {
    if (shellcheck("--version").missing) {
      // Pending, not failed: `npm test` runs on a machine with only Node; CI installs shellcheck (.ci/run).
      this.test?.parent?.tests.forEach((test) => {
        test.title += " (skipped: shellcheck is not on PATH; apt-get install shellcheck — .ci/run installs it, so CI checks this)";
      });
      this.skip();
    }
  });

  it("agent/start.sh is clean as POSIX sh", function () {
    const result = shellcheck("--shell=sh", "agent/start.sh");
    assert.equal(result.status, 0, result.output);
  });

  it("the container test's host scripts are clean as POSIX sh", function () {
    const result = shellcheck("--shell=sh", "tests/container/prepare-host.sh", "tests/container/base-image.sh");
    assert.equal(result.status, 0, result.output);
  });

  it("the emulated agent package's scripts are clean", function () {
    const result = shellcheck("emulator/agent-package/config.sh", "emulator/agent-package/run.sh", "emulator/agent-package/bin/Agent.Listener");
    assert.equal(result.status, 0, result.output);
  });
});
