// runStopTask over the in-memory platform, for what it decides before it talks to Azure: bad
// input ends the step at once, naming the input, with one result and no secret shown.
import { strict as assert } from "node:assert";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStopTask } from "../../../src/stop/task";
import { FakePlatform } from "../../helpers/fakePlatform";
import { PAT, REQUIRED_INPUTS } from "./fixtures";

const VARIABLES = {
  "Build.BuildId": "1234",
  "System.JobAttempt": "1",
  "System.CollectionUri": "https://dev.azure.com/contoso/",
  "System.TeamProjectId": "6c5b2f9e-1f2a-4e0b-9a55-0d7e8c3b1a42",
};

const ARM_CONNECTION = "9f0c3c1e-arm-connection";
/** A federated connection: reading it needs no secret and sends nothing. */
const FEDERATED_CONNECTION = {
  url: "https://management.azure.com/",
  scheme: "WorkloadIdentityFederation",
  auth: { tenantid: "tenant-1", serviceprincipalid: "client-1" },
  data: { subscriptionId: "sub-1" },
};

describe("runStopTask (in-memory platform)", () => {
  let temp: string;

  beforeEach(() => {
    temp = mkdtempSync(join(tmpdir(), "aci-stop-task-"));
  });

  afterEach(() => {
    rmSync(temp, { recursive: true, force: true });
  });

  async function run(inputs: Record<string, string>, variables: Record<string, string> = VARIABLES): Promise<FakePlatform> {
    const platform = new FakePlatform({ inputs: { ...REQUIRED_INPUTS, ...inputs }, variables, endpoints: { [ARM_CONNECTION]: FEDERATED_CONNECTION }, tempDirectory: temp });
    await runStopTask(platform);
    return platform;
  }

  const cases: [string, Record<string, string>, RegExp][] = [
    ["an unknown scope", { scope: "everything" }, /^scope: must be one of run, names, expired/m],
    ["scope names without containerGroupNames", { scope: "names" }, /^containerGroupNames: required when scope is names/m],
    ["a foreign-looking container group name", { scope: "names", containerGroupNames: "My_Database" }, /^containerGroupNames: 'My_Database' is not a container group name/m],
    ["collectLogs that is not a boolean", { collectLogs: "sometimes" }, /^collectLogs: must be true or false/m],
    ["a missing registration token", { registrationToken: "" }, /^registrationToken: required when registrationAuth is pat/m],
  ];

  for (const [title, inputs, problem] of cases) {
    it(`fails once on ${title}, naming the input, and writes no output or summary`, async () => {
      const platform = await run(inputs);
      assert.equal(platform.result.result, "failed");
      assert.match(platform.result.message, problem);
      assert.deepEqual(platform.setVariables, []);
      assert.deepEqual(platform.summaries, []);
      assert.deepEqual(platform.uploadedFiles, []);
      assert.deepEqual(readdirSync(temp), []);
      assert.deepEqual(platform.leakedSecrets(), []);
    });
  }

  it("masks the PAT as soon as it reads it, and shows it nowhere", async () => {
    const platform = await run({ scope: "bogus" });
    assert.ok(platform.secrets.includes(PAT), "the PAT was not registered as a secret");
    assert.deepEqual(platform.leakedSecrets(), []);
  });

  it("fails naming registrationAuth when accessToken is chosen but the job has no System.AccessToken", async () => {
    const platform = await run({ registrationAuth: "accessToken", registrationToken: "" });
    assert.equal(platform.result.result, "failed");
    assert.match(platform.result.message, /^registrationAuth: accessToken needs the job's System\.AccessToken/);
    assert.deepEqual(platform.setVariables, []);
  });

  it("refuses registrationAuth servicePrincipal, which is no longer offered, naming registrationAuth and what to use instead", async () => {
    const platform = await run({ registrationAuth: "servicePrincipal", registrationToken: "" }, { ...VARIABLES, "System.AccessToken": "job-token" });
    assert.equal(platform.result.result, "failed");
    assert.match(platform.result.message, /^registrationAuth: servicePrincipal is no longer offered: .*use entraToken/);
  });

  it("refuses a registrationConnection that is not a token connection, naming registrationConnection", async () => {
    const platform = new FakePlatform({
      inputs: { ...REQUIRED_INPUTS, registrationAuth: "serviceConnection", registrationToken: "", registrationConnection: "tfs" },
      variables: { ...VARIABLES, "System.AccessToken": "job-token" },
      endpoints: { [ARM_CONNECTION]: FEDERATED_CONNECTION, tfs: { url: "https://dev.azure.com/contoso/", scheme: "OAuth", auth: { AccessToken: "x" } } },
      tempDirectory: temp,
    });
    await runStopTask(platform);
    assert.equal(platform.result.result, "failed");
    assert.match(platform.result.message, /^registrationConnection: the service connection's scheme 'OAuth' is not supported/);
  });

  it("fails naming the run id when the pipeline gives none", async () => {
    const platform = await run({}, { ...VARIABLES, "Build.BuildId": "" });
    assert.equal(platform.result.result, "failed");
    assert.match(platform.result.message, /runId: neither Build\.BuildId nor Release\.ReleaseId is set/);
  });
});
