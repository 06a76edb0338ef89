import { strict as assert } from "node:assert";
import type { MockTestRunner } from "azure-pipelines-task-lib/mock-test";
import { forEachHandler } from "../helpers/l0";

const PAT = "l0-stop-secret-pat-value";

/** Output lines other than the one that registers the PAT as a secret must not show it. */
function assertPatOnlyMasked(runner: MockTestRunner): void {
  const output = `${runner.stdout}\n${runner.stderr}`;
  assert.ok(runner.stdout.includes(`##vso[task.setsecret]${PAT}`), "the PAT is registered as a secret");
  const visible = output.split("\n").filter((line) => !line.startsWith("##vso[task.setsecret]"));
  assert.doesNotMatch(visible.join("\n"), new RegExp(PAT));
}

describe("L0 AciAgentStop@1 (MockTestRunner, offline)", function () {
  forEachHandler("AciAgentStopV1", { tempPrefix: "aci-l0-stop-", buildId: "4243" }, (run) => {
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
});
