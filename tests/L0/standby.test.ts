import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { forEachHandler } from "../helpers/l0";

describe("L0 AciAgentStandbyPool@1 (MockTestRunner, offline)", function () {
  forEachHandler("AciAgentStandbyPoolV1", { tempPrefix: "aci-l0-standby-", buildId: "4242" }, (run) => {
    it("fails before creating anything, naming every bad input", async function () {
      const runner = await run("standbyBadInputL0.ts");
      assert.ok(runner.failed, runner.stdout);
      const message = runner.errorIssues.join("\n");
      assert.match(message, /standbyPool: 'x' is not a standby pool name/);
      assert.match(message, /readyCapacity/);
      assert.match(message, /action/);
      assert.match(message, /registrationToken/);
    });

    it("writes the profile and the pool as an ARM template in a dry run, secrets only as parameters", async function () {
      const runner = await run("standbyDryRunL0.ts");
      assert.ok(runner.succeeded, runner.stdout + runner.stderr);
      const pathLine = /##vso\[task\.setvariable variable=armTemplatePath;isOutput=true;[^\]]*\](.+)/.exec(runner.stdout);
      const templatePath = pathLine?.[1]?.trim();
      assert.ok(templatePath !== undefined, runner.stdout);
      const template = JSON.parse(fs.readFileSync(templatePath, "utf8")) as { parameters: Record<string, { type: string }>; resources: { type: string; name: string }[] };
      assert.deepEqual(template.resources.map((r) => [r.type, r.name]), [
        ["Microsoft.ContainerInstance/containerGroupProfiles", "warm-agents"],
        ["Microsoft.StandbyPool/standbyContainerGroupPools", "warm-agents"],
      ]);
      assert.equal(template.parameters.startupScript?.type, "securestring");
      assert.equal(template.parameters.registryPassword?.type, "securestring");
      const text = fs.readFileSync(templatePath, "utf8");
      assert.match(text, /"maxReadyCapacity": 3/);
      for (const secret of ["l0-secret-pat-value", "l0-secret-registry-password", "l0-secret-startup-script"]) assert.ok(!text.includes(secret), secret);
      const visible = runner.stdout.split("\n").filter((line) => !line.startsWith("##vso[task.setsecret]"));
      assert.doesNotMatch(visible.join("\n"), /l0-secret-/);
    });
  });
});
