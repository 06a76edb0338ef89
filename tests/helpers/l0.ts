/**
 * Shared set-up for the L0 tests (tests/L0/*.test.ts): runs an L0 runner script through
 * azure-pipelines-task-lib's MockTestRunner, offline, with the pipeline variables a task expects.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MockTestRunner } from "azure-pipelines-task-lib/mock-test";
import { localNode, seedMockTestRunnerNode, taskHandlers, type TaskHandler } from "./mockNode";

const repo = path.join(__dirname, "..", "..");

/** Runs `body` with extra environment variables, which MockTestRunner's child process inherits. */
export async function withEnv(vars: Record<string, string>, body: () => Promise<void>): Promise<void> {
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

export interface L0Run {
  /** The task folder under tasks/, e.g. "AciAgentStartV1"; its task.json describes the inputs. */
  taskFolder: string;
  /** The runner script, relative to tests/L0/. */
  runnerFile: string;
  /** AGENT_TEMPDIRECTORY for the task. */
  tempDir: string;
  /** BUILD_BUILDID for the task. */
  buildId: string;
  /** Further environment variables for the child process. */
  extraEnv?: Record<string, string>;
  /** The Node major MockTestRunner runs the script on (the task.json handler it stands for). */
  nodeMajor: TaskHandler["major"];
}

/** Runs one L0 runner script under MockTestRunner and returns the finished runner. */
export async function runL0({ taskFolder, runnerFile, tempDir, buildId, extraEnv = {}, nodeMajor }: L0Run): Promise<MockTestRunner> {
  const runner = new MockTestRunner(path.join(repo, "tests", "L0", runnerFile), path.join(repo, "tasks", taskFolder, "task.json"));
  await withEnv(
    {
      // The runner is TypeScript and a task's main.ts may import agent/*.sh as text: the child
      // Node loads both the way mocha and the bundler do.
      NODE_OPTIONS: [
        process.env.NODE_OPTIONS ?? "",
        `--require ${JSON.stringify(require.resolve("tsx/cjs"))}`,
        `--require ${JSON.stringify(path.join(repo, "tests", "helpers", "textModules.ts"))}`,
      ]
        .join(" ")
        .trim(),
      AGENT_TEMPDIRECTORY: tempDir,
      BUILD_BUILDID: buildId,
      SYSTEM_JOBATTEMPT: "1",
      SYSTEM_COLLECTIONURI: "https://dev.azure.com/contoso/",
      SYSTEM_TEAMPROJECTID: "6b0c4a55-0000-4000-8000-000000000001",
      ...extraEnv,
    },
    () => runner.runAsync(nodeMajor),
  );
  return runner;
}

/**
 * For the L0 tests of one task: runs `body` once per handler of task.json (Node20_1, Node24), each
 * in a describe block that seeds MockTestRunner's Node of that major, gives the tests a temporary
 * AGENT_TEMPDIRECTORY (removed after them), and hands `body` a function that runs one runner
 * script with them. Without a Node of that major on the machine the block is pending, saying why.
 */
export function forEachHandler(
  taskFolder: string,
  { tempPrefix, buildId }: { tempPrefix: string; buildId: string },
  body: (run: (runnerFile: string, extraEnv?: Record<string, string>) => Promise<MockTestRunner>, handler: TaskHandler) => void,
): void {
  for (const handler of taskHandlers) {
    const title = `on the ${handler.name} handler (Node ${String(handler.major)})`;
    const node = localNode(handler.major);
    if ("missing" in node) {
      describe(title, function () {
        it(`skipped: ${node.missing}`);
      });
      continue;
    }
    describe(title, function () {
      let tempDir: string | undefined;

      before(function () {
        seedMockTestRunnerNode(handler.major, node.path);
        tempDir = fs.mkdtempSync(path.join(os.tmpdir(), tempPrefix));
      });

      after(function () {
        if (tempDir !== undefined) fs.rmSync(tempDir, { recursive: true, force: true });
      });

      body((runnerFile, extraEnv) => {
        if (tempDir === undefined) throw new Error("forEachHandler: run L0 runners only inside the tests of its describe block");
        return runL0({ taskFolder, runnerFile, tempDir, buildId, nodeMajor: handler.major, ...(extraEnv === undefined ? {} : { extraEnv }) });
      }, handler);
    });
  }
}
