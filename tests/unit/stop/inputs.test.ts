import { strict as assert } from "node:assert";
import type { PipelineVariables } from "../../../src/core/inputSource";
import type { StopConfig } from "../../../src/stop/inputs";
import { BUILD_VARIABLES, PAT, PROJECT_ID, REQUIRED_INPUTS, readerOf, stopConfigWith } from "./fixtures";
import { inputProblems } from "../fixtures";
import { parseStopInputs } from "../../../src/stop/inputs";

function problemsWith(inputs: Readonly<Record<string, string>>, vars?: PipelineVariables): readonly string[] {
  return inputProblems(stopConfigWith, inputs, vars);
}

describe("parseStopInputs", () => {
  it("applies the documented defaults", () => {
    const expected: StopConfig = {
      serviceConnection: "9f0c3c1e-arm-connection",
      resourceGroup: "ci-agents",
      pool: "aci",
      organizationUrl: "https://dev.azure.com/contoso",
      registration: { auth: "pat", token: PAT },
      scope: "run",
      containerGroupNames: [],
      namePrefix: "azp",
      collectLogs: true,
      run: { runId: "1234", attempt: 1, projectId: PROJECT_ID },
    };
    assert.deepEqual(stopConfigWith(), expected);
  });

  interface AcceptedCase {
    inputs: Record<string, string>;
    vars?: PipelineVariables;
    read: (config: StopConfig) => unknown;
    expected: unknown;
  }

  const accepted: Record<string, AcceptedCase> = {
    "scope names with names": {
      inputs: { scope: "names", containerGroupNames: "azp-1234-1-1,azp-1234-1-2" },
      read: (c) => [c.scope, c.containerGroupNames],
      expected: ["names", ["azp-1234-1-1", "azp-1234-1-2"]],
    },
    "scope in any case": { inputs: { scope: "EXPIRED" }, read: (c) => c.scope, expected: "expired" },
    "names separated by new lines and blanks, lower-cased and de-duplicated": {
      inputs: { scope: "names", containerGroupNames: " AZP-1234-1-1 \n\nazp-1234-1-2,azp-1234-1-1 ," },
      read: (c) => c.containerGroupNames,
      expected: ["azp-1234-1-1", "azp-1234-1-2"],
    },
    "a name of exactly 63 characters": {
      inputs: { scope: "names", containerGroupNames: "a".repeat(63) },
      read: (c) => c.containerGroupNames,
      expected: ["a".repeat(63)],
    },
    "a one-character name": { inputs: { scope: "names", containerGroupNames: "x" }, read: (c) => c.containerGroupNames, expected: ["x"] },
    "collectLogs false in any case": { inputs: { collectLogs: "False" }, read: (c) => c.collectLogs, expected: false },
    "collectLogs true": { inputs: { collectLogs: "TRUE" }, read: (c) => c.collectLogs, expected: true },
    "namePrefix lower-cased": { inputs: { namePrefix: "Linux-Agents" }, read: (c) => c.namePrefix, expected: "linux-agents" },
    "namePrefix '*' (every fleet) with scope run": { inputs: { namePrefix: " * " }, read: (c) => c.namePrefix, expected: "*" },
    "organizationUrl given, trailing slashes dropped": {
      inputs: { organizationUrl: "https://dev.azure.com/fabrikam//" },
      read: (c) => c.organizationUrl,
      expected: "https://dev.azure.com/fabrikam",
    },
    "organizationUrl from System.CollectionUri when not given": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, collectionUri: "https://fabrikam.visualstudio.com/" },
      read: (c) => c.organizationUrl,
      expected: "https://fabrikam.visualstudio.com",
    },
    "registrationAuth accessToken needs no token": {
      inputs: { registrationAuth: "accesstoken", registrationToken: "" },
      read: (c) => c.registration,
      expected: { auth: "accessToken" },
    },
    "a classic release: Release.ReleaseId is the run id": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, buildId: undefined, releaseId: "88" },
      read: (c) => c.run.runId,
      expected: "88",
    },
    "a re-run job: System.JobAttempt": { inputs: {}, vars: { ...BUILD_VARIABLES, jobAttempt: "3" }, read: (c) => c.run.attempt, expected: 3 },
    "the project name, lower-cased, when the project id is missing": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, teamProjectId: undefined, teamProject: "Platform" },
      read: (c) => c.run.projectId,
      expected: "platform",
    },
    "resource group names with dots, brackets and letters of any script": {
      inputs: { resourceGroup: "ci.agents_(eu)-ü" },
      read: (c) => c.resourceGroup,
      expected: "ci.agents_(eu)-ü",
    },
    "containerGroupNames ignored for scope run when empty": { inputs: { containerGroupNames: "" }, read: (c) => c.containerGroupNames, expected: [] },
  };

  for (const [title, { inputs, vars, read, expected }] of Object.entries(accepted)) {
    it(`accepts ${title}`, () => {
      assert.deepEqual(read(stopConfigWith(inputs, vars)), expected);
    });
  }

  interface RejectedCase {
    inputs: Record<string, string>;
    vars?: PipelineVariables;
    /** The input (or variable) the message must start with, and what it must say. */
    problem: RegExp;
  }

  const rejected: Record<string, RejectedCase> = {
    "a missing service connection": { inputs: { azureSubscription: "" }, problem: /^azureSubscription: required/ },
    "a missing resource group": { inputs: { resourceGroup: "  " }, problem: /^resourceGroup: required/ },
    "a resource group name with a slash": { inputs: { resourceGroup: "ci/agents" }, problem: /^resourceGroup: 'ci\/agents' is not a resource group name/ },
    "a resource group name ending in a dot": { inputs: { resourceGroup: "agents." }, problem: /^resourceGroup: 'agents\.' is not a resource group name/ },
    "a resource group name over 90 characters": { inputs: { resourceGroup: "r".repeat(91) }, problem: /^resourceGroup: .* is not a resource group name/ },
    "a missing pool": { inputs: { pool: "" }, problem: /^pool: required/ },
    "a pool name longer than a tag value": { inputs: { pool: "p".repeat(257) }, problem: /^pool: longer than 256 characters/ },
    "an http organization URL": { inputs: { organizationUrl: "http://dev.azure.com/contoso" }, problem: /^organizationUrl: must be an https URL/ },
    "an organization URL that is no URL": { inputs: { organizationUrl: "contoso" }, problem: /^organizationUrl: must be an https URL/ },
    "an organization URL with a query": { inputs: { organizationUrl: "https://dev.azure.com/contoso?x=1" }, problem: /^organizationUrl: must not have a query or fragment/ },
    "no organization URL and no System.CollectionUri": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, collectionUri: undefined },
      problem: /^organizationUrl: required, and System\.CollectionUri is not set either/,
    },
    "an unknown registrationAuth": { inputs: { registrationAuth: "password" }, problem: /^registrationAuth: must be one of pat, accessToken, serviceConnection, entraToken, got 'password'/ },
    "the job's token sent to another organization": {
      inputs: { registrationAuth: "accessToken", organizationUrl: "https://dev.azure.com.evil.example/contoso" },
      problem: /^organizationUrl: with registrationAuth accessToken the job's token is only sent to its own organization \(https:\/\/dev\.azure\.com\)/,
    },
    "registrationAuth pat without a token": { inputs: { registrationToken: "" }, problem: /^registrationToken: required when registrationAuth is pat/ },
    "a registration token that is an undefined pipeline variable": {
      inputs: { registrationToken: "$(AZP_TOKEN)" },
      problem: /^registrationToken: got the text \$\(AZP_TOKEN\): that pipeline variable is not defined/,
    },
    "an unknown scope": { inputs: { scope: "all" }, problem: /^scope: must be one of run, names, expired, got 'all'/ },
    "scope names without names": { inputs: { scope: "names" }, problem: /^containerGroupNames: required when scope is names/ },
    "scope names with only separators": { inputs: { scope: "names", containerGroupNames: " , ,\n" }, problem: /^containerGroupNames: required when scope is names/ },
    "a container group name with an underscore": { inputs: { scope: "names", containerGroupNames: "azp_1" }, problem: /^containerGroupNames: 'azp_1' is not a container group name/ },
    "a container group name ending in a dash": { inputs: { scope: "names", containerGroupNames: "azp-" }, problem: /^containerGroupNames: 'azp-' is not a container group name/ },
    "a container group name over 63 characters": {
      inputs: { scope: "names", containerGroupNames: "a".repeat(64) },
      problem: /^containerGroupNames: 'a{64}' is not a container group name/,
    },
    "a name prefix starting with a dash": { inputs: { namePrefix: "-azp" }, problem: /^namePrefix: must be letters, digits and '-'.*got '-azp'/ },
    "a name prefix with a dot": { inputs: { namePrefix: "a.b" }, problem: /^namePrefix: must be letters, digits and '-'/ },
    "namePrefix '*' with scope expired": { inputs: { scope: "expired", namePrefix: "*" }, problem: /^namePrefix: '\*' \(every fleet of the run\) is only for scope run/ },
    "namePrefix '*' with scope names": {
      inputs: { scope: "names", containerGroupNames: "azp-1234-1-1", namePrefix: "*" },
      problem: /^namePrefix: '\*' \(every fleet of the run\) is only for scope run/,
    },
    "collectLogs that is not a boolean": { inputs: { collectLogs: "yes" }, problem: /^collectLogs: must be true or false, got 'yes'/ },
    "no run id": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, buildId: undefined, releaseId: undefined },
      problem: /^runId: neither Build\.BuildId nor Release\.ReleaseId is set/,
    },
    "a Build.BuildId that is not a number": { inputs: {}, vars: { ...BUILD_VARIABLES, buildId: "12a" }, problem: /^Build\.BuildId: must be a whole number, got '12a'/ },
    "a System.JobAttempt of 0": { inputs: {}, vars: { ...BUILD_VARIABLES, jobAttempt: "0" }, problem: /^System\.JobAttempt: must be a whole number of at least 1/ },
    "no project": {
      inputs: {},
      vars: { ...BUILD_VARIABLES, teamProjectId: undefined, teamProject: undefined },
      problem: /^System\.TeamProjectId: not set/,
    },
  };

  for (const [title, { inputs, vars, problem }] of Object.entries(rejected)) {
    it(`rejects ${title}, naming the input`, () => {
      const problems = problemsWith(inputs, vars);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected a problem matching ${String(problem)}, got:\n${problems.join("\n")}`,
      );
    });
  }

  it("names each bad container group name, not only the first", () => {
    const problems = problemsWith({ scope: "names", containerGroupNames: "good-1,Bad_One,bad two,good-2" });
    assert.deepEqual(problems, [
      "containerGroupNames: 'Bad_One' is not a container group name",
      "containerGroupNames: 'bad two' is not a container group name",
    ]);
  });

  it("reports every problem at once", () => {
    const problems = problemsWith({ pool: "", scope: "names", collectLogs: "maybe", namePrefix: "_", registrationToken: "" });
    for (const input of ["pool", "containerGroupNames", "collectLogs", "namePrefix", "registrationToken"]) {
      assert.ok(
        problems.some((p) => p.startsWith(`${input}: `)),
        `no problem names ${input}:\n${problems.join("\n")}`,
      );
    }
    assert.equal(problems.length, 5, problems.join("\n"));
  });

  it("does not ask for containerGroupNames when the scope itself is wrong", () => {
    assert.deepEqual(problemsWith({ scope: "nmes" }), ["scope: must be one of run, names, expired, got 'nmes'"]);
  });

  it("never repeats the registration token or a password in URL in a message", () => {
    const problems = problemsWith({ organizationUrl: "https://me:hunter2-password@dev.azure.com/contoso", pool: "" });
    assert.ok(problems.some((p) => p.startsWith("organizationUrl: must not contain a user name or password")), problems.join("\n"));
    const text = problems.join("\n");
    assert.ok(!text.includes("hunter2-password"), text);
    assert.ok(!text.includes(PAT), text);
  });

  it("reads each input through the reader it is given", () => {
    const asked: string[] = [];
    const inputs: Record<string, string> = { ...REQUIRED_INPUTS, scope: "expired" };
    parseStopInputs({ get: (name) => (asked.push(name), inputs[name]) }, BUILD_VARIABLES);
    for (const name of ["azureSubscription", "resourceGroup", "pool", "organizationUrl", "registrationAuth", "registrationToken", "scope", "containerGroupNames", "namePrefix", "collectLogs"]) {
      assert.ok(asked.includes(name), `${name} was not read`);
    }
    assert.equal(parseStopInputs(readerOf(inputs), BUILD_VARIABLES).scope, "expired");
  });
});
