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

  async function run(runnerFile: string): Promise<MockTestRunner> {
    const runner = new MockTestRunner(path.join(__dirname, runnerFile), path.join(repo, "tasks", "AciAgentStartV1", "task.json"));
    await withEnv(
      {
        // The runner is TypeScript and main.ts imports agent/start.sh as text: the child Node
        // loads both the way mocha and the bundler do.
        NODE_OPTIONS: [
          process.env.NODE_OPTIONS ?? "",
          `--require ${JSON.stringify(require.resolve("tsx/cjs"))}`,
          `--require ${JSON.stringify(path.join(repo, "tests", "helpers", "textModules.ts"))}`,
        ]
          .join(" ")
          .trim(),
        AGENT_TEMPDIRECTORY: tempDir,
        BUILD_BUILDID: "4242",
        SYSTEM_JOBATTEMPT: "1",
        SYSTEM_COLLECTIONURI: "https://dev.azure.com/contoso/",
        SYSTEM_TEAMPROJECTID: "6b0c4a55-0000-4000-8000-000000000001",
      },
      () => runner.runAsync(),
    );
    return runner;
  }

  it("fails before creating anything, naming every bad input", async function () {
    const runner = await run("startBadInputL0.ts");
    assert.ok(runner.failed, runner.stdout);
    const message = runner.errorIssues.join("\n");
    assert.match(message, /agentCount/);
    assert.match(message, /cpu/);
    assert.match(message, /registrationToken/);
  });

  it("writes the ARM template in a dry run, with the PAT only as a parameter", async function () {
    const runner = await run("startDryRunL0.ts");
    assert.ok(runner.succeeded, runner.stdout + runner.stderr);
    const pathLine = /##vso\[task\.setvariable variable=armTemplatePath;isOutput=true;[^\]]*\](.+)/.exec(runner.stdout);
    const templatePath = pathLine?.[1]?.trim();
    assert.ok(templatePath !== undefined, runner.stdout);
    const template = fs.readFileSync(templatePath, "utf8");
    assert.match(template, /azp-4242-1-1/);
    assert.match(template, /azp-4242-1-2/);
    assert.match(template, /securestring/);
    assert.doesNotMatch(template, /l0-secret-pat-value/);
    // The one place the PAT may appear is the command that tells the agent to mask it.
    const visible = runner.stdout.split("\n").filter((line) => !line.startsWith("##vso[task.setsecret]"));
    assert.ok(runner.stdout.includes("##vso[task.setsecret]l0-secret-pat-value"), "the PAT is registered as a secret");
    assert.doesNotMatch(visible.join("\n"), /l0-secret-pat-value/);
    assert.match(runner.stdout, /##vso\[task\.setvariable variable=demand;isOutput=true;[^\]]*\]ACI_RUN_ID -equals 4242/);
  });
});
