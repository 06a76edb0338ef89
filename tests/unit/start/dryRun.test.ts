// AciAgentStart's dry run with registrationAuth servicePrincipal, over the in-memory platform: the
// template carries the principal's ids as plain values and its client secret only as a parameter.
import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStartTask } from "../../../src/start/task";
import { FakePlatform } from "../../helpers/fakePlatform";
import { REQUIRED_INPUTS } from "./fixtures";

const CLIENT_SECRET = "client-secret-0123456789";

describe("runStartTask dry run with registrationAuth servicePrincipal", () => {
  let temp: string;

  beforeEach(() => {
    temp = mkdtempSync(join(tmpdir(), "aci-dry-run-"));
  });

  afterEach(() => {
    rmSync(temp, { recursive: true, force: true });
  });

  it("writes AZP_AUTH=SP with the connection's ids and its secret as a securestring parameter", async () => {
    const platform = new FakePlatform({
      inputs: { ...REQUIRED_INPUTS, registrationToken: "", registrationAuth: "servicePrincipal", dryRun: "true" },
      variables: { "Build.BuildId": "1234", "System.CollectionUri": "https://dev.azure.com/contoso/", "System.TeamProjectId": "p" },
      endpoints: {
        [REQUIRED_INPUTS.azureSubscription ?? ""]: {
          url: "https://management.azure.com/",
          scheme: "ServicePrincipal",
          auth: { tenantid: "tenant-1", serviceprincipalid: "client-1", serviceprincipalkey: CLIENT_SECRET },
          data: { subscriptionId: "sub-1" },
        },
      },
      tempDirectory: temp,
    });
    await runStartTask(platform, "#!/bin/sh\n", new AbortController().signal);
    assert.equal(platform.result.result, "succeeded", platform.result.message);
    const path = platform.setVariables.find((v) => v.name === "armTemplatePath")?.value;
    assert.ok(path !== undefined);
    const text = readFileSync(path, "utf8");
    assert.ok(!text.includes(CLIENT_SECRET), "the client secret is in the template");
    const environment = (JSON.parse(text) as { resources: { properties: { containers: { properties: { environmentVariables: { name: string; value?: string; secureValue?: string }[] } }[] } }[] })
      .resources[0]?.properties.containers[0]?.properties.environmentVariables ?? [];
    const byName = Object.fromEntries(environment.map((v) => [v.name, v]));
    assert.equal(byName.AZP_AUTH?.value, "SP");
    assert.equal(byName.AZP_CLIENT_ID?.value, "client-1");
    assert.equal(byName.AZP_TENANT_ID?.value, "tenant-1");
    assert.equal(byName.AZP_CLIENT_SECRET?.secureValue, "[parameters('azpClientSecret')]");
    assert.deepEqual(platform.leakedSecrets(), []);
  });
});
