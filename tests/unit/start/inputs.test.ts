import { strict as assert } from "node:assert";
import { InputError } from "../../../src/core/errors";
import type { PipelineVariables } from "../../../src/core/inputSource";
import { DEFAULT_IMAGE, type StartConfig } from "../../../src/start/inputs";
import { BUILD_VARIABLES, IDENTITY_ID, PAT, PROJECT_ID, PULL_IDENTITY_ID, SUBNET_ID, configWith } from "./fixtures";
import { inputProblems } from "../fixtures";

function problemsWith(inputs: Readonly<Record<string, string>>, vars?: PipelineVariables): readonly string[] {
  return inputProblems(configWith, inputs, vars);
}

const SHA256 = "a".repeat(64);

describe("parseStartInputs", () => {
  it("applies the documented defaults", () => {
    const expected: StartConfig = {
      serviceConnection: "9f0c3c1e-arm-connection",
      resourceGroup: "ci-agents",
      location: undefined,
      fallbackLocations: [],
      pool: "aci",
      organizationUrl: "https://dev.azure.com/contoso",
      registration: { auth: "pat", token: PAT },
      agentCount: 1,
      namePrefix: "azp",
      image: DEFAULT_IMAGE,
      imageMode: "bootstrap",
      registry: undefined,
      osType: "Linux",
      cpu: 2,
      memoryGB: 4,
      priority: "Regular",
      subnetIds: [],
      identity: { systemAssigned: false, userAssignedIds: [] },
      environmentVariables: [],
      startupScript: undefined,
      ephemeral: true,
      maxLifetimeMinutes: 120,
      timeoutMinutes: 10,
      keepOnFailure: false,
      tags: {},
      dryRun: false,
      run: { runId: "1234", attempt: 1, projectId: PROJECT_ID },
      standbyPool: undefined,
    };
    assert.deepEqual(configWith(), expected);
  });

  interface AcceptedCase {
    inputs: Record<string, string>;
    vars?: PipelineVariables;
    read: (config: StartConfig) => unknown;
    expected: unknown;
  }

  const accepted: Record<string, AcceptedCase> = {
    "agentCount at its maximum": { inputs: { agentCount: "50" }, read: (c) => c.agentCount, expected: 50 },
    "agentCount at its minimum": { inputs: { agentCount: "1" }, read: (c) => c.agentCount, expected: 1 },
    "fractional cpu": { inputs: { cpu: "0.5" }, read: (c) => c.cpu, expected: 0.5 },
    "cpu at ACI's limit": { inputs: { cpu: "4" }, read: (c) => c.cpu, expected: 4 },
    "memory in tenths": { inputs: { memoryGB: "1.5" }, read: (c) => c.memoryGB, expected: 1.5 },
    "memory with a trailing zero": { inputs: { memoryGB: "2.50" }, read: (c) => c.memoryGB, expected: 2.5 },
    "memory at ACI's limit": { inputs: { memoryGB: "16" }, read: (c) => c.memoryGB, expected: 16 },
    "priority in any case": { inputs: { priority: "spot" }, read: (c) => c.priority, expected: "Spot" },
    "imageMode in any case": { inputs: { imageMode: "PREBUILT", image: "myacr.azurecr.io/agent:1" }, read: (c) => c.imageMode, expected: "prebuilt" },
    "Windows with a prebuilt image": {
      inputs: { osType: "windows", imageMode: "prebuilt", image: "myacr.azurecr.io/agent-win:1" },
      read: (c) => c.osType,
      expected: "Windows",
    },
    "registrationAuth accessToken needs no token": {
      inputs: { registrationAuth: "AccessToken", registrationToken: "" },
      read: (c) => c.registration,
      expected: { auth: "accessToken" },
    },
    "a region display name": { inputs: { location: "West Europe" }, read: (c) => c.location, expected: "westeurope" },
    "a region name with a digit": { inputs: { location: "eastus2" }, read: (c) => c.location, expected: "eastus2" },
    "fallbackLocations normalised, blanks and repeats dropped": {
      inputs: { fallbackLocations: "North Europe, westus,,northeurope" },
      read: (c) => c.fallbackLocations,
      expected: ["northeurope", "westus"],
    },
    "namePrefix lower-cased": { inputs: { namePrefix: "CI-Agents" }, read: (c) => c.namePrefix, expected: "ci-agents" },
    "a Docker Hub short name": { inputs: { image: "ubuntu" }, read: (c) => c.image, expected: "ubuntu" },
    "an image with registry, path and tag": {
      inputs: { image: "myregistry.azurecr.io/agents/linux:1.0" },
      read: (c) => c.image,
      expected: "myregistry.azurecr.io/agents/linux:1.0",
    },
    "an image with port and separators": {
      inputs: { image: "localhost:5000/team/build_tools__x-y.z:v1.2-rc" },
      read: (c) => c.image,
      expected: "localhost:5000/team/build_tools__x-y.z:v1.2-rc",
    },
    "an image by digest": { inputs: { image: `ubuntu@sha256:${SHA256}` }, read: (c) => c.image, expected: `ubuntu@sha256:${SHA256}` },
    "registry with username and password": {
      inputs: { registryServer: "https://MyAcr.azurecr.io/", registryUsername: "puller", registryPassword: "reg-secret" },
      read: (c) => c.registry,
      expected: { kind: "password", server: "myacr.azurecr.io", username: "puller", password: "reg-secret" },
    },
    "registry with a pull identity": {
      inputs: { registryServer: "myacr.azurecr.io", registryIdentity: PULL_IDENTITY_ID },
      read: (c) => c.registry,
      expected: { kind: "identity", server: "myacr.azurecr.io", identity: PULL_IDENTITY_ID },
    },
    "subnetIds one per line, repeats dropped": {
      inputs: { subnetIds: `${SUBNET_ID}\n${SUBNET_ID.toUpperCase()}\n` },
      read: (c) => c.subnetIds,
      expected: [SUBNET_ID],
    },
    "identity SystemAssigned and a user-assigned id": {
      inputs: { identity: `systemassigned, ${IDENTITY_ID}` },
      read: (c) => c.identity,
      expected: { systemAssigned: true, userAssignedIds: [IDENTITY_ID] },
    },
    "environmentVariables with CRLF, blank lines and '=' in a value": {
      inputs: { environmentVariables: "A=1\r\n\r\n  B = two words \nC=x=y\nEMPTY=" },
      read: (c) => c.environmentVariables,
      expected: [
        { name: "A", value: "1" },
        { name: "B", value: "two words" },
        { name: "C", value: "x=y" },
        { name: "EMPTY", value: "" },
      ],
    },
    "tags": {
      inputs: { tags: "team=ci\ncost-center = 42\nempty=" },
      read: (c) => c.tags,
      expected: { team: "ci", "cost-center": "42", empty: "" },
    },
    "44 tags, 50 with the task's own": {
      inputs: { tags: Array.from({ length: 44 }, (_, i) => `t${i}=v`).join("\n") },
      read: (c) => Object.keys(c.tags).length,
      expected: 44,
    },
    "a tag name of 512 characters and value of 256": {
      inputs: { tags: `${"n".repeat(512)}=${"v".repeat(256)}` },
      read: (c) => Object.keys(c.tags).length,
      expected: 1,
    },
    "timeoutMinutes at its maximum": { inputs: { timeoutMinutes: "120" }, read: (c) => c.timeoutMinutes, expected: 120 },
    "maxLifetimeMinutes 0 for no limit": { inputs: { maxLifetimeMinutes: "0" }, read: (c) => c.maxLifetimeMinutes, expected: 0 },
    "maxLifetimeMinutes equal to timeoutMinutes": {
      inputs: { maxLifetimeMinutes: "10", timeoutMinutes: "10" },
      read: (c) => c.maxLifetimeMinutes,
      expected: 10,
    },
    "a short lifetime for a long-lived agent": {
      inputs: { ephemeral: "false", maxLifetimeMinutes: "5", timeoutMinutes: "10" },
      read: (c) => c.maxLifetimeMinutes,
      expected: 5,
    },
    "booleans in any case": {
      inputs: { ephemeral: "False", keepOnFailure: "TRUE", dryRun: "true" },
      read: (c) => [c.ephemeral, c.keepOnFailure, c.dryRun],
      expected: [false, true, true],
    },
    "organizationUrl without its trailing slashes": {
      inputs: { organizationUrl: "https://dev.azure.com/fabrikam//" },
      read: (c) => c.organizationUrl,
      expected: "https://dev.azure.com/fabrikam",
    },
    "a server organizationUrl with a port": {
      inputs: { organizationUrl: "https://tfs.example.com:8443/tfs/DefaultCollection/" },
      read: (c) => c.organizationUrl,
      expected: "https://tfs.example.com:8443/tfs/DefaultCollection",
    },
    "startupScript as given": { inputs: { startupScript: "apt-get install -y jq\n" }, read: (c) => c.startupScript, expected: "apt-get install -y jq" },
    "pool of 256 characters": { inputs: { pool: "p".repeat(256) }, read: (c) => c.pool.length, expected: 256 },
    "a resource group with dots and parentheses": { inputs: { resourceGroup: "ci.agents(eu)_1" }, read: (c) => c.resourceGroup, expected: "ci.agents(eu)_1" },
    "Release.ReleaseId in a classic release": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, buildId: undefined, releaseId: "77" },
      read: (c) => c.run.runId,
      expected: "77",
    },
    "Release.ReleaseId before Build.BuildId, which a classic release also sets (its artifact's build)": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, buildId: "130", releaseId: "57" },
      read: (c) => c.run.runId,
      expected: "57",
    },
    "System.JobAttempt of a re-run": { inputs: {}, vars: { ...BUILD_VARIABLES, jobAttempt: "3" }, read: (c) => c.run.attempt, expected: 3 },
    "attempt 1 without System.JobAttempt": { inputs: {}, vars: { ...BUILD_VARIABLES, jobAttempt: undefined }, read: (c) => c.run.attempt, expected: 1 },
    "the project name without System.TeamProjectId": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, teamProjectId: undefined },
      read: (c) => c.run.projectId,
      expected: "platform",
    },
  };

  for (const [name, { inputs, vars, read, expected }] of Object.entries(accepted)) {
    it(`accepts ${name}`, () => {
      assert.deepEqual(read(configWith(inputs, vars)), expected);
    });
  }

  interface RefusedCase {
    inputs: Record<string, string>;
    vars?: PipelineVariables;
    /** The one problem expected: it starts with the input's name and contains the rest. */
    input: string;
    says: string;
  }

  const refused: Record<string, RefusedCase> = {
    "a missing azureSubscription": { inputs: { azureSubscription: "" }, input: "azureSubscription", says: "required" },
    "a missing resourceGroup": { inputs: { resourceGroup: "  " }, input: "resourceGroup", says: "required" },
    "a resource group with a slash": { inputs: { resourceGroup: "ci/agents" }, input: "resourceGroup", says: "not a resource group name" },
    "a resource group ending in a dot": { inputs: { resourceGroup: "ci." }, input: "resourceGroup", says: "not a resource group name" },
    "a resource group of 91 characters": { inputs: { resourceGroup: "r".repeat(91) }, input: "resourceGroup", says: "up to 90" },
    "a missing pool": { inputs: { pool: "" }, input: "pool", says: "required" },
    "a pool name too long for its tag": { inputs: { pool: "p".repeat(257) }, input: "pool", says: "256" },
    "a location with punctuation": { inputs: { location: "west-europe" }, input: "location", says: "'west-europe' is not an Azure region name" },
    "a location starting with a digit": { inputs: { location: "2west" }, input: "location", says: "not an Azure region name" },
    "a bad fallback location": { inputs: { fallbackLocations: "westeurope, us_east" }, input: "fallbackLocations", says: "'us_east'" },
    "an http organizationUrl": { inputs: { organizationUrl: "http://dev.azure.com/contoso" }, input: "organizationUrl", says: "must be an https URL" },
    "an organizationUrl that is no URL": { inputs: { organizationUrl: "contoso" }, input: "organizationUrl", says: "got 'contoso'" },
    "an organizationUrl with a query": { inputs: { organizationUrl: "https://dev.azure.com/contoso?x=1" }, input: "organizationUrl", says: "query" },
    "no organizationUrl and no System.CollectionUri": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, collectionUri: undefined },
      input: "organizationUrl",
      says: "System.CollectionUri is not set",
    },
    "an organizationUrl too long for the run tag": {
      inputs: { organizationUrl: `https://tfs.example.com/${"c".repeat(200)}` },
      input: "organizationUrl",
      says: "too long to identify the run in the aci-agents-run tag (258 characters, Azure allows 256)",
    },
    "an unknown registrationAuth": {
      inputs: { registrationAuth: "ssh" },
      input: "registrationAuth",
      says: "must be one of pat, accessToken, serviceConnection, entraToken, got 'ssh'",
    },
    "registrationAuth serviceConnection without registrationConnection": {
      inputs: { registrationAuth: "serviceConnection" },
      input: "registrationConnection",
      says: "required when registrationAuth is serviceConnection",
    },
    "the job's token sent to another organization": {
      inputs: { registrationAuth: "accessToken", organizationUrl: "https://evil.example.com/contoso" },
      input: "organizationUrl",
      says: "with registrationAuth accessToken the job's token is only sent to its own organization (https://dev.azure.com), not to https://evil.example.com",
    },
    "pat without registrationToken": { inputs: { registrationToken: "" }, input: "registrationToken", says: "required when registrationAuth is pat" },
    "a registrationToken variable that does not exist": { inputs: { registrationToken: "$(AZP_TOKEN)" }, input: "registrationToken", says: "not defined" },
    "agentCount 0": { inputs: { agentCount: "0" }, input: "agentCount", says: "must be a whole number from 1 to 50, got '0'" },
    "agentCount 51": { inputs: { agentCount: "51" }, input: "agentCount", says: "got '51'" },
    "agentCount in words": { inputs: { agentCount: "two" }, input: "agentCount", says: "got 'two'" },
    "a fractional agentCount": { inputs: { agentCount: "1.5" }, input: "agentCount", says: "whole number" },
    "a namePrefix starting with '-'": { inputs: { namePrefix: "-azp" }, input: "namePrefix", says: "got '-azp'" },
    "a namePrefix ending with '-'": { inputs: { namePrefix: "azp-" }, input: "namePrefix", says: "starting and ending with a letter or digit" },
    "a namePrefix with '_'": { inputs: { namePrefix: "ci_agents" }, input: "namePrefix", says: "got 'ci_agents'" },
    "an image with upper case in its path": { inputs: { image: "Ubuntu:22.04" }, input: "image", says: "'Ubuntu:22.04' is not an image reference" },
    "an image with an empty tag": { inputs: { image: "ubuntu:" }, input: "image", says: "not an image reference" },
    "an image with a short digest": { inputs: { image: "ubuntu@sha256:abc" }, input: "image", says: "not an image reference" },
    "an image with a space": { inputs: { image: "my image" }, input: "image", says: "not an image reference" },
    "an image name over 255 characters": { inputs: { image: `${"a".repeat(256)}:1` }, input: "image", says: "not an image reference" },
    "prebuilt without an image": { inputs: { imageMode: "prebuilt" }, input: "image", says: "required when imageMode is prebuilt" },
    "prebuilt with the default stock image task.json fills in": {
      inputs: { imageMode: "prebuilt", image: "mcr.microsoft.com/dotnet/runtime-deps:8.0" },
      input: "image",
      says: "required when imageMode is prebuilt",
    },
    "an unknown imageMode": { inputs: { imageMode: "docker" }, input: "imageMode", says: "must be one of bootstrap, prebuilt, got 'docker'" },
    "registry credentials without a server": {
      inputs: { registryUsername: "puller", registryPassword: "reg-secret" },
      input: "registryServer",
      says: "required with registryUsername and registryPassword",
    },
    "a registry identity without a server": { inputs: { registryIdentity: PULL_IDENTITY_ID }, input: "registryServer", says: "required with registryIdentity" },
    "a registryUsername without its password": {
      inputs: { registryServer: "myacr.azurecr.io", registryUsername: "puller" },
      input: "registryPassword",
      says: "required with registryServer",
    },
    "a registryPassword without its username": {
      inputs: { registryServer: "myacr.azurecr.io", registryPassword: "reg-secret" },
      input: "registryUsername",
      says: "required with registryServer",
    },
    "a registry password and a pull identity together": {
      inputs: { registryServer: "myacr.azurecr.io", registryUsername: "u", registryPassword: "p", registryIdentity: PULL_IDENTITY_ID },
      input: "registryIdentity",
      says: "not both",
    },
    "a registryServer that is no host name": {
      inputs: { registryServer: "my acr", registryUsername: "u", registryPassword: "p" },
      input: "registryServer",
      says: "not a registry host name",
    },
    "a registryIdentity that is no identity id": {
      inputs: { registryServer: "myacr.azurecr.io", registryIdentity: "acr-pull" },
      input: "registryIdentity",
      says: "not a user-assigned identity resource id",
    },
    "a registryPassword variable that does not exist": {
      inputs: { registryServer: "myacr.azurecr.io", registryUsername: "u", registryPassword: "$(ACR_PASSWORD)" },
      input: "registryPassword",
      says: "not defined",
    },
    "an unknown osType": { inputs: { osType: "macOS" }, input: "osType", says: "must be one of Linux, Windows, got 'macOS'" },
    "cpu 0": { inputs: { cpu: "0" }, input: "cpu", says: "greater than 0 and at most 4, in steps of 0.1, got '0'" },
    "cpu with two decimal places": { inputs: { cpu: "0.05" }, input: "cpu", says: "in steps of 0.1, got '0.05'" },
    "cpu over ACI's limit": { inputs: { cpu: "4.5" }, input: "cpu", says: "got '4.5'" },
    "a negative cpu": { inputs: { cpu: "-1" }, input: "cpu", says: "got '-1'" },
    "cpu in words": { inputs: { cpu: "two" }, input: "cpu", says: "got 'two'" },
    "memory 0": { inputs: { memoryGB: "0" }, input: "memoryGB", says: "greater than 0 and at most 16" },
    "memory over ACI's limit": { inputs: { memoryGB: "16.5" }, input: "memoryGB", says: "got '16.5'" },
    "memory finer than 0.1 GB": { inputs: { memoryGB: "1.25" }, input: "memoryGB", says: "in steps of 0.1, got '1.25'" },
    "an unknown priority": { inputs: { priority: "low" }, input: "priority", says: "must be one of Regular, Spot, got 'low'" },
    "a subnet id that is a name": { inputs: { subnetIds: "agents" }, input: "subnetIds", says: "'agents' is not a subnet resource id" },
    "a virtual network id without its subnet": {
      inputs: { subnetIds: SUBNET_ID.replace("/subnets/agents", "") },
      input: "subnetIds",
      says: "not a subnet resource id",
    },
    "identity UserAssigned without an id": { inputs: { identity: "UserAssigned" }, input: "identity", says: "'UserAssigned' is neither SystemAssigned nor" },
    "an identity id of another resource type": { inputs: { identity: SUBNET_ID }, input: "identity", says: "neither SystemAssigned nor" },
    "an environment line without '='": { inputs: { environmentVariables: "A=1\nNOEQUALS" }, input: "environmentVariables", says: "line 2 has no '='" },
    "an environment variable name starting with a digit": { inputs: { environmentVariables: "1X=1" }, input: "environmentVariables", says: "'1X' is not a variable name" },
    "an environment variable name with '-'": { inputs: { environmentVariables: "MY-VAR=1" }, input: "environmentVariables", says: "'MY-VAR'" },
    "an AZP_ environment variable": { inputs: { environmentVariables: "AZP_URL=https://x" }, input: "environmentVariables", says: "AZP_URL is set by the task" },
    "an AZP_ environment variable in lower case": { inputs: { environmentVariables: "azp_token=x" }, input: "environmentVariables", says: "set by the task" },
    "ACI_RUN_ID as an environment variable": { inputs: { environmentVariables: "ACI_RUN_ID=1" }, input: "environmentVariables", says: "ACI_RUN_ID is set by the task" },
    "ACI_FLEET as an environment variable": { inputs: { environmentVariables: "aci_fleet=linux-1" }, input: "environmentVariables", says: "aci_fleet is set by the task" },
    "an environment variable set twice": { inputs: { environmentVariables: "A=1\n\nA=2" }, input: "environmentVariables", says: "line 3: A is already set on line 1" },
    "an environment variable set twice in different case": {
      inputs: { environmentVariables: "Path=1\nPATH=2" },
      input: "environmentVariables",
      says: "PATH is already set on line 1",
    },
    "ephemeral as yes": { inputs: { ephemeral: "yes" }, input: "ephemeral", says: "must be true or false, got 'yes'" },
    "keepOnFailure as 1": { inputs: { keepOnFailure: "1" }, input: "keepOnFailure", says: "must be true or false" },
    "dryRun as maybe": { inputs: { dryRun: "maybe" }, input: "dryRun", says: "must be true or false" },
    "a negative maxLifetimeMinutes": { inputs: { maxLifetimeMinutes: "-1" }, input: "maxLifetimeMinutes", says: "must be a whole number from 0" },
    "a maxLifetimeMinutes over a year": { inputs: { maxLifetimeMinutes: "525601" }, input: "maxLifetimeMinutes", says: "to 525600" },
    "an ephemeral lifetime shorter than the timeout": {
      inputs: { maxLifetimeMinutes: "5", timeoutMinutes: "10" },
      input: "maxLifetimeMinutes",
      says: "must be 0 (no limit) or at least timeoutMinutes (10) for ephemeral agents, got 5",
    },
    "timeoutMinutes 0": { inputs: { timeoutMinutes: "0" }, input: "timeoutMinutes", says: "must be a whole number from 1 to 120, got '0'" },
    "timeoutMinutes 121": { inputs: { timeoutMinutes: "121" }, input: "timeoutMinutes", says: "got '121'" },
    "a tag line without '='": { inputs: { tags: "team" }, input: "tags", says: "line 1 has no '='" },
    "a tag without a name": { inputs: { tags: "=ci" }, input: "tags", says: "the tag name is empty" },
    "a tag name with '<'": { inputs: { tags: "a<b=1" }, input: "tags", says: "contains one of < > % & \\ ? /" },
    "a tag name with '/'": { inputs: { tags: "a/b=1" }, input: "tags", says: "'a/b'" },
    "a tag of the task's own": { inputs: { tags: "aci-agents-run=x" }, input: "tags", says: "reserved for the task" },
    "a reserved tag in upper case": { inputs: { tags: "ACI-AGENTS-OTHER=x" }, input: "tags", says: "reserved" },
    "a tag name of 513 characters": { inputs: { tags: `${"n".repeat(513)}=v` }, input: "tags", says: "longer than 512" },
    "a tag value of 257 characters": { inputs: { tags: `team=${"v".repeat(257)}` }, input: "tags", says: "value of team is longer than 256" },
    "a tag set twice in different case": { inputs: { tags: "Team=a\nteam=b" }, input: "tags", says: "line 2: team is already set on line 1" },
    "45 tags, 51 with the task's own": {
      inputs: { tags: Array.from({ length: 45 }, (_, i) => `t${i}=v`).join("\n") },
      input: "tags",
      says: "at most 44 tags",
    },
    "Windows in a virtual network": {
      inputs: { osType: "Windows", imageMode: "prebuilt", image: "myacr.azurecr.io/agent-win:1", subnetIds: SUBNET_ID },
      input: "subnetIds",
      says: "cannot place Windows container groups in a virtual network",
    },
    "Windows with the bootstrap script": {
      inputs: { osType: "Windows" },
      input: "imageMode",
      says: "until a Windows bootstrap script exists",
    },
    "no run id": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, buildId: undefined },
      input: "runId",
      says: "neither Build.BuildId nor Release.ReleaseId is set",
    },
    "a Build.BuildId that is no number": { inputs: {}, vars: { ...BUILD_VARIABLES, buildId: "$(Build.BuildId)" }, input: "Build.BuildId", says: "whole number" },
    "System.JobAttempt 0": { inputs: {}, vars: { ...BUILD_VARIABLES, jobAttempt: "0" }, input: "System.JobAttempt", says: "of at least 1, got '0'" },
    "no project": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, teamProjectId: undefined, teamProject: undefined },
      input: "System.TeamProjectId",
      says: "not set",
    },
  };

  for (const [name, { inputs, vars, input, says }] of Object.entries(refused)) {
    it(`refuses ${name}, naming ${input}`, () => {
      const problems = problemsWith(inputs, vars);
      assert.equal(problems.length, 1, problems.join("\n"));
      const [problem = ""] = problems;
      assert.ok(problem.startsWith(`${input}: `), problem);
      assert.ok(problem.includes(says), `${problem}\ndoes not contain: ${says}`);
    });
  }

  it("reports every problem at once, one per line of the message", () => {
    try {
      configWith({ agentCount: "0", cpu: "9", osType: "mac", tags: "x", registrationToken: "" });
      assert.fail("expected an InputError");
    } catch (error) {
      assert.ok(error instanceof InputError);
      assert.deepEqual(
        error.problems.map((problem) => problem.split(":")[0]),
        ["registrationToken", "agentCount", "osType", "cpu", "tags"],
      );
      assert.equal(error.message, error.problems.join("\n"));
    }
  });

  it("reports every bad line of a list input", () => {
    assert.deepEqual(problemsWith({ environmentVariables: "1A=x\nOK=1\nAZP_POOL=y" }), [
      "environmentVariables: line 1: '1A' is not a variable name (letters, digits and '_', not starting with a digit)",
      "environmentVariables: line 3: AZP_POOL is set by the task (AZP_*, ACI_RUN_ID and ACI_FLEET are reserved)",
    ]);
  });

  it("never repeats a secret in a problem", () => {
    const secrets = { registryPassword: "reg-secret-value", organizationUrl: "https://user:url-secret@dev.azure.com/contoso" };
    const problems = problemsWith({ ...secrets, registryUsername: "puller", agentCount: "0", environmentVariables: "env-secret-line" }).join("\n");
    for (const secret of ["reg-secret-value", "url-secret", "env-secret-line", PAT]) {
      assert.ok(!problems.includes(secret), `${secret} leaked into: ${problems}`);
    }
  });

  describe("namePrefix against ACI's 63 characters", () => {
    // The longest name is `{prefix}-1234-1-50`, the prefix plus 10 characters; with 9 agents, 9.
    const lengthCases = [
      { prefixLength: 53, agentCount: "50", accepted: true },
      { prefixLength: 54, agentCount: "50", accepted: false },
      { prefixLength: 54, agentCount: "9", accepted: true },
      { prefixLength: 55, agentCount: "9", accepted: false },
    ];
    for (const { prefixLength, agentCount, accepted } of lengthCases) {
      it(`${accepted ? "accepts" : "refuses"} a ${prefixLength}-character prefix for ${agentCount} agents`, () => {
        const inputs = { namePrefix: "a".repeat(prefixLength), agentCount };
        if (accepted) {
          assert.equal(configWith(inputs).namePrefix.length, prefixLength);
        } else {
          const [problem = ""] = problemsWith(inputs);
          assert.match(problem, /^namePrefix: .* 64 characters long, over ACI's 63; use at most \d+ characters$/);
        }
      });
    }

    it("counts the job attempt in the length", () => {
      const inputs = { namePrefix: "a".repeat(53), agentCount: "50" };
      assert.equal(problemsWith(inputs, { ...BUILD_VARIABLES, jobAttempt: "12" }).length, 1);
    });
  });
});

describe("parseStartInputs with standbyPool", () => {
  it("accepts the pool alone, and the task.json defaults the agent fills in", () => {
    const config = configWith({ standbyPool: "warm", image: DEFAULT_IMAGE, imageMode: "bootstrap", cpu: "2", memoryGB: "4", osType: "Linux", priority: "Regular" });
    assert.equal(config.standbyPool, "warm");
  });

  it("refuses each container input given, and fallbackLocations, naming each", () => {
    const problems = problemsWith({
      standbyPool: "warm",
      image: "contoso.azurecr.io/agent:1",
      imageMode: "prebuilt",
      cpu: "1",
      memoryGB: "2",
      environmentVariables: "A=1",
      startupScript: "echo hi",
      registryServer: "contoso.azurecr.io",
      registryIdentity: IDENTITY_ID,
      subnetIds: SUBNET_ID,
      identity: IDENTITY_ID,
      priority: "Spot",
      fallbackLocations: "westus",
    });
    for (const name of ["image", "imageMode", "cpu", "memoryGB", "environmentVariables", "startupScript", "registryServer", "registryIdentity", "subnetIds", "identity", "priority"]) {
      assert.ok(problems.some((p) => p.startsWith(`${name}: not allowed with standbyPool`)), `${name} in ${problems.join("\n")}`);
    }
    assert.ok(problems.some((p) => p.startsWith("fallbackLocations: not allowed with standbyPool") && p.includes("pool's region")));
  });

  it("refuses osType Windows with standbyPool", () => {
    assert.ok(problemsWith({ standbyPool: "warm", osType: "Windows", imageMode: "prebuilt", image: "contoso.azurecr.io/win:1" }).some((p) => p.startsWith("osType: not allowed with standbyPool")));
  });

  it("refuses dryRun with standbyPool", () => {
    assert.ok(problemsWith({ standbyPool: "warm", dryRun: "true" }).some((p) => p.startsWith("dryRun: not available with standbyPool")));
  });

  it("leaves the container inputs alone without standbyPool", () => {
    assert.equal(configWith({ cpu: "1", fallbackLocations: "westus" }).standbyPool, undefined);
  });
});
