// AciAgentStart's dry run over the in-memory platform: it registers nothing, so its template takes
// the documented token path (each agent registers itself with the registrationToken parameter)
// and says first why it differs from what a real run creates.
import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStartTask } from "../../../src/start/task";
import { FakePlatform } from "../../helpers/fakePlatform";
import { PAT, REQUIRED_INPUTS } from "./fixtures";

interface TemplateFile {
  metadata?: { description?: string };
  parameters: Record<string, { type: string }>;
  resources: { properties: { volumes?: unknown; restartPolicy?: string; containers: { properties: { volumeMounts?: unknown; environmentVariables: { name: string; value?: string; secureValue?: string }[] } }[] } }[];
}

describe("runStartTask dry run", () => {
  let temp: string;

  beforeEach(() => {
    temp = mkdtempSync(join(tmpdir(), "aci-dry-run-"));
  });

  afterEach(() => {
    rmSync(temp, { recursive: true, force: true });
  });

  for (const registrationAuth of ["pat", "entraToken"]) {
    it(`${registrationAuth}: writes a deployable token-path template, the token a securestring parameter, with a first note saying why`, async () => {
      const platform = new FakePlatform({
        inputs: { ...REQUIRED_INPUTS, registrationAuth, ...(registrationAuth === "pat" ? {} : { registrationToken: "" }), dryRun: "true", ephemeral: "false" },
        variables: { "Build.BuildId": "1234", "System.CollectionUri": "https://dev.azure.com/contoso/", "System.TeamProjectId": "p" },
        tempDirectory: temp,
      });
      await runStartTask(platform, "#!/bin/sh\n", new AbortController().signal);
      assert.equal(platform.result.result, "succeeded", platform.result.message);
      const path = platform.setVariables.find((v) => v.name === "armTemplatePath")?.value;
      assert.ok(path !== undefined);
      const text = readFileSync(path, "utf8");
      assert.ok(!text.includes(PAT), "the PAT is in the template");
      assert.ok(text.startsWith('{\n  "metadata": {\n    "description": "Written by a dry run of AciAgentStart, which registers nothing'), text.slice(0, 200));
      const template = JSON.parse(text) as TemplateFile;
      assert.deepEqual(template.parameters.registrationToken, { type: "securestring", metadata: { description: "Secure value of AZP_TOKEN" } });
      const [group] = template.resources;
      assert.ok(group !== undefined);
      const byName = Object.fromEntries(group.properties.containers[0]?.properties.environmentVariables.map((v) => [v.name, v]) ?? []);
      assert.equal(byName.AZP_TOKEN?.secureValue, "[parameters('registrationToken')]");
      assert.equal(byName.AZP_IDENTITY_DIR, undefined, "a dry run has no identity to hand over");
      assert.equal(group.properties.volumes, undefined);
      // The token path hands over a credential that can register: never restarted.
      assert.equal(group.properties.restartPolicy, "Never");
      assert.deepEqual(platform.leakedSecrets(), []);
    });
  }
});
