import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { forEachHandler } from "../helpers/l0";

describe("L0 AciAgentStart@1 (MockTestRunner, offline)", function () {
  forEachHandler("AciAgentStartV1", { tempPrefix: "aci-l0-", buildId: "4242" }, (run, handler) => {
    it("runs the task on the handler's Node", async function () {
      const runner = await run("nodeVersionL0.ts");
      assert.match(runner.stdout, new RegExp(`node-version=v${String(handler.major)}\\.`), runner.stdout);
    });

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
      assert.match(runner.stdout, /##vso\[task\.setvariable variable=demand;isOutput=true;[^\]]*\]ACI_FLEET -equals azp-4242/);
    });
  });
});
