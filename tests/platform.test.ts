// The task-lib adapter, driven in a child process with the environment the agent provides
// (task-lib reads it once, when it is loaded), and the fake that unit tests use in its place.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FakePlatform } from "./helpers/fakePlatform";

describe("createTaskPlatform (task-lib adapter)", function () {
  let tempDir: string;
  let stdout: string;
  let read: Record<string, unknown>;

  before(function () {
    this.timeout(30_000);
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "aci-platform-"));
    const run = spawnSync(process.execPath, ["--require", require.resolve("tsx/cjs"), path.join(__dirname, "helpers", "platformProbe.ts")], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH ?? "",
        AGENT_TEMPDIRECTORY: tempDir,
        INPUT_POOL: "  aci  ",
        INPUT_REGISTRATIONTOKEN: "s3cr3t-pat",
        INPUT_FLAG: "TRUE",
        INPUT_BADFLAG: "yes",
        INPUT_LIST: "westeurope, northeurope,, uksouth",
        INPUT_LINES: "A=1\r\n\n  B=2  \n",
        BUILD_BUILDID: "1234",
        ENDPOINT_URL_conn1: "https://management.azure.com/",
        ENDPOINT_AUTH_conn1: JSON.stringify({ scheme: "ServicePrincipal", parameters: {} }),
        ENDPOINT_AUTH_SCHEME_conn1: "ServicePrincipal",
        ENDPOINT_AUTH_PARAMETER_conn1_SERVICEPRINCIPALID: "client-id",
        ENDPOINT_AUTH_PARAMETER_conn1_SERVICEPRINCIPALKEY: "client-secret-value",
        ENDPOINT_DATA_conn1_SUBSCRIPTIONID: "sub-id",
      },
    });
    assert.equal(run.status, 0, run.stderr);
    stdout = run.stdout;
    const probe = stdout.split(/\r?\n/).find((line) => line.startsWith("PROBE "));
    assert.ok(probe, stdout);
    read = JSON.parse(probe.slice("PROBE ".length)) as Record<string, unknown>;
  });

  after(function () {
    fs.rmSync(tempDir, { recursive: true, force: true });
  });

  it("reads inputs trimmed, blank as undefined, required ones by name", function () {
    assert.equal(read.pool, "aci");
    assert.equal(read.missing, undefined);
    assert.equal(read.missingRequired, "Input required: missing");
  });

  it("reads booleans strictly", function () {
    assert.equal(read.flag, true);
    assert.equal(read.unset, false);
    assert.equal(read.badBool, "Input badFlag must be true or false, not 'yes'");
  });

  it("splits delimited and multi-line inputs", function () {
    assert.deepEqual(read.list, ["westeurope", "northeurope", "uksouth"]);
    assert.deepEqual(read.lines, ["A=1", "B=2"]);
  });

  it("reads variables, the service connection and the temp directory", function () {
    assert.equal(read.buildId, "1234");
    assert.equal(read.url, "https://management.azure.com/");
    assert.equal(read.scheme, "ServicePrincipal");
    assert.equal(read.clientId, "client-id");
    assert.equal(read.hasClientSecret, true);
    assert.equal(read.subscription, "sub-id");
    assert.equal(read.noEndpoint, null);
    assert.equal(read.tempDirectory, tempDir);
  });

  it("masks a secret input and never echoes it or the client secret", function () {
    const lines = stdout.split(/\r?\n/);
    assert.deepEqual(lines.filter((line) => line.includes("s3cr3t-pat")), ["##vso[task.setsecret]s3cr3t-pat"]);
    assert.deepEqual(lines.filter((line) => line.includes("client-secret-value")), []);
    assert.equal(read.tokenRead, true);
  });

  it("masks each line of a multi-line secret", function () {
    assert.ok(stdout.includes("##vso[task.setsecret]line-one"));
    assert.ok(stdout.includes("##vso[task.setsecret]line-two"));
  });

  it("writes the logging commands the agent expects", function () {
    for (const expected of [
      "##vso[task.setvariable variable=runId;isOutput=true;issecret=false;]42",
      "##vso[task.setvariable variable=hidden;isOutput=false;issecret=true;]hidden-value",
      "##vso[task.setprogress value=50;]half way",
      "##vso[task.uploadsummary]/tmp/summary.md",
      "##vso[task.uploadfile]/tmp/agent.log",
      "##vso[task.issue type=warning;source=TaskInternal;]a warning",
      "##vso[task.issue type=error;source=TaskInternal;]probe done",
      "##vso[task.complete result=Failed;]probe done",
    ]) {
      assert.ok(stdout.includes(expected), `missing: ${expected}\n${stdout}`);
    }
    assert.ok(stdout.split(/\r?\n/).includes("plain line"));
  });

  it("neutralises logging commands in external text", function () {
    assert.ok(stdout.includes("from a container ##_vso[task.setvariable variable=evil]1"), stdout);
    assert.ok(!stdout.includes("##vso[task.setvariable variable=evil]"));
  });
});

describe("FakePlatform (tests/helpers)", function () {
  it("applies the adapter's input rules and records what the task did", function () {
    const platform = new FakePlatform({
      inputs: { pool: " aci ", registrationToken: "pat-value", ephemeral: "True", tags: "a=1\n\nb=2" },
      variables: { "Build.BuildId": "7" },
      endpoints: { conn: { url: "https://arm/", auth: { serviceprincipalid: "id" }, data: { subscriptionId: "s" } } },
    });
    assert.equal(platform.getInput("pool", true), "aci");
    assert.throws(() => platform.getInput("resourceGroup", true), /Input required: resourceGroup/);
    assert.equal(platform.getBoolInput("ephemeral"), true);
    assert.deepEqual(platform.getMultilineInput("tags"), ["a=1", "b=2"]);
    assert.equal(platform.getVariable("build.buildid"), "7");
    assert.equal(platform.getEndpointAuthorizationParameter("conn", "ServicePrincipalId"), "id");
    assert.equal(platform.getEndpointDataParameter("conn", "SUBSCRIPTIONID"), "s");
    assert.equal(platform.getSecretInput("registrationToken"), "pat-value");

    platform.info("token is pat-value");
    platform.setVariable("runId", "7", { isOutput: true });
    platform.setResult("succeeded", "done");
    assert.deepEqual(platform.leakedSecrets(), ["pat-value"]);
    assert.equal(platform.output("runId"), "7");
    assert.deepEqual(platform.result, { result: "succeeded", message: "done" });
  });
});
