import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MockTestRunner } from "azure-pipelines-task-lib/mock-test";
import { seedMockTestRunnerNode } from "../helpers/mockNode";

const repo = path.join(__dirname, "..", "..");
const PAT = "l0-stop-secret-pat-value";

/** Runs `body` with extra environment variables, which MockTestRunner's child process inherits. */
async function withEnv(vars: Record<string, string>, body: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    await body();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
  }
}

/** Output lines other than the one that registers the PAT as a secret must not show it. */
function assertPatOnlyMasked(runner: MockTestRunner): void {
  const output = `${runner.stdout}\n${runner.stderr}`;
  assert.ok(runner.stdout.includes(`##vso[task.setsecret]${PAT}`), "the PAT is registered as a secret");
  const visible = output.split("\n").filter((line) => !line.startsWith("##vso[task.setsecret]"));
  assert.doesNotMatch(visible.join("\n"), new RegExp(PAT));
}

describe("L0 AciAgentStop@1 (MockTestRunner, offline)", function () {
  let tempDir: string;

  before(function () {
    seedMockTestRunnerNode();
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "aci-l0-stop-"));
  });

  after(function () {
    fs.rmSync(tempDir, { recursive: true, force: true });
  });

  async function run(runnerFile: string): Promise<MockTestRunner> {
    const runner = new MockTestRunner(path.join(__dirname, runnerFile), path.join(repo, "tasks", "AciAgentStopV1", "task.json"));
    await withEnv(
      {
        NODE_OPTIONS: [process.env.NODE_OPTIONS ?? "", `--require ${JSON.stringify(require.resolve("tsx/cjs"))}`].join(" ").trim(),
        AGENT_TEMPDIRECTORY: tempDir,
        BUILD_BUILDID: "4243",
        SYSTEM_JOBATTEMPT: "1",
        SYSTEM_COLLECTIONURI: "https://dev.azure.com/contoso/",
        SYSTEM_TEAMPROJECTID: "6b0c4a55-0000-4000-8000-000000000001",
      },
      () => runner.runAsync(),
    );
    return runner;
  }

  it("fails before touching Azure, naming every bad input", async function () {
    const runner = await run("stopBadInputL0.ts");
    assert.ok(runner.failed, runner.stdout + runner.stderr);
    const message = runner.errorIssues.join("\n");
    assert.match(message, /scope: must be one of run, names, expired, got 'everything'/);
    assert.match(message, /collectLogs: must be true or false, got 'maybe'/);
    assert.doesNotMatch(runner.stdout, /##vso\[task\.setvariable variable=removedCount/);
    assert.doesNotMatch(runner.stdout, /##vso\[task\.uploadsummary\]/);
    assertPatOnlyMasked(runner);
  });

  it("fails naming containerGroupNames when scope is names and none are given", async function () {
    const runner = await run("stopNamesMissingL0.ts");
    assert.ok(runner.failed, runner.stdout + runner.stderr);
    assert.equal(runner.errorIssues.length, 1, runner.errorIssues.join("\n"));
    assert.match(runner.errorIssues[0] ?? "", /^containerGroupNames: required when scope is names/);
    assert.doesNotMatch(runner.stdout, /##vso\[task\.setvariable variable=removedCount/);
    assertPatOnlyMasked(runner);
  });
});
