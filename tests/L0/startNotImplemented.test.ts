import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MockTestRunner } from "azure-pipelines-task-lib/mock-test";
import { seedMockTestRunnerNode } from "../helpers/mockNode";

const repo = path.join(__dirname, "..", "..");

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

describe("L0 AciAgentStart@1 (MockTestRunner, offline)", function () {
  let tempDir: string;

  before(function () {
    seedMockTestRunnerNode();
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "aci-l0-"));
  });

  after(function () {
    fs.rmSync(tempDir, { recursive: true, force: true });
  });

  it("fails with the not-implemented message", async function () {
    const runner = new MockTestRunner(
      path.join(__dirname, "startNotImplementedL0.ts"),
      path.join(repo, "tasks", "AciAgentStartV1", "task.json"),
    );
    await withEnv(
      {
        // The runner script is TypeScript: the child Node loads it through tsx, as mocha does here.
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${JSON.stringify(require.resolve("tsx/cjs"))}`.trim(),
        // task-lib writes its vault key file there (else into the current directory).
        AGENT_TEMPDIRECTORY: tempDir,
      },
      () => runner.runAsync(),
    );

    assert.equal(runner.stderr, "", runner.stderr);
    assert.ok(runner.failed, runner.stdout);
    assert.deepEqual(runner.errorIssues, ["AciAgentStart@1 is not implemented yet"]);
    assert.ok(runner.stdout.includes("##vso[task.complete result=Failed;]AciAgentStart@1 is not implemented yet"), runner.stdout);
  });
});
