import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { forEachHandler } from "../helpers/l0";

const repo = path.join(__dirname, "..", "..");

describe("L0 AciAgentStart@1 dry run: the prebuilt image's build context", function () {
  forEachHandler("AciAgentStartV1", { tempPrefix: "aci-l0-image-", buildId: "4343" }, (run) => {
    it("is written beside the ARM template: the Dockerfile template and the start.sh it copies in", async function () {
      const runner = await run("startDryRunL0.ts");
      assert.ok(runner.succeeded, runner.stdout + runner.stderr);
      const templatePath = /##vso\[task\.setvariable variable=armTemplatePath;isOutput=true;[^\]]*\](.+)/.exec(runner.stdout)?.[1]?.trim();
      assert.ok(templatePath !== undefined, runner.stdout);
      const context = templatePath.replace(/\.template\.json$/, ".image");
      assert.equal(fs.readFileSync(path.join(context, "Dockerfile"), "utf8"), fs.readFileSync(path.join(repo, "agent", "Dockerfile"), "utf8"));
      assert.equal(fs.readFileSync(path.join(context, "start.sh"), "utf8"), fs.readFileSync(path.join(repo, "agent", "start.sh"), "utf8"));
      // task-lib's mock loc answers "loc_mock_<key> <args>": the result message is the task.json message DryRunSucceeded.
      assert.ok(runner.stdout.includes(`##vso[task.complete result=Succeeded;]loc_mock_DryRunSucceeded ${templatePath}`), runner.stdout);
      assert.match(runner.stdout, new RegExp(`wrote the Dockerfile template .* to ${context.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    });
  });
});
