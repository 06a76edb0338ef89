// The task.json files against the input/output contract in DESIGN.md.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

interface TaskInput {
  name: string;
  type: string;
  label?: string;
  defaultValue?: string;
  required?: boolean;
  groupName?: string;
  helpMarkDown?: string;
  visibleRule?: string;
  options?: Record<string, string>;
  properties?: Record<string, string>;
}

interface TaskJson {
  id: string;
  name: string;
  friendlyName: string;
  description: string;
  category: string;
  version: { Major: number; Minor: number; Patch: number };
  minimumAgentVersion: string;
  instanceNameFormat: string;
  groups?: { name: string; displayName: string }[];
  inputs: TaskInput[];
  dataSourceBindings?: { target: string; endpointId: string; dataSourceName: string }[];
  outputVariables?: { name: string; description?: string }[];
  execution: Record<string, { target: string }>;
}

/** One row per input: what DESIGN.md fixes about it. */
interface Expected {
  type: string;
  defaultValue: string;
  required?: boolean;
  options?: string[];
  /** Editable pickList filled from this data source. */
  dataSource?: string;
  visibleRule?: string;
}

const REGISTRATION_AUTH = ["pat", "accessToken", "serviceConnection", "entraToken"];

const connectionInputs: Record<string, Expected> = {
  azureSubscription: { type: "connectedService:AzureRM", defaultValue: "", required: true },
  resourceGroup: { type: "pickList", defaultValue: "", required: true, dataSource: "AzureResourceGroups" },
  pool: { type: "string", defaultValue: "", required: true },
  organizationUrl: { type: "string", defaultValue: "$(System.CollectionUri)" },
  registrationAuth: { type: "pickList", defaultValue: "pat", options: REGISTRATION_AUTH },
  registrationToken: { type: "string", defaultValue: "", visibleRule: "registrationAuth = pat" },
  registrationConnection: { type: "connectedService:externaltfs", defaultValue: "", visibleRule: "registrationAuth = serviceConnection" },
};

const TASKS: {
  folder: string;
  name: string;
  inputs: Record<string, Expected>;
  outputs: string[];
}[] = [
  {
    folder: "AciAgentStartV1",
    name: "AciAgentStart",
    inputs: {
      ...connectionInputs,
      location: { type: "pickList", defaultValue: "", dataSource: "AzureLocations" },
      fallbackLocations: { type: "string", defaultValue: "" },
      agentCount: { type: "int", defaultValue: "1" },
      namePrefix: { type: "string", defaultValue: "azp" },
      image: { type: "string", defaultValue: "mcr.microsoft.com/dotnet/runtime-deps:8.0" },
      imageMode: { type: "pickList", defaultValue: "bootstrap", options: ["bootstrap", "prebuilt"] },
      registryServer: { type: "string", defaultValue: "" },
      registryUsername: { type: "string", defaultValue: "" },
      registryPassword: { type: "string", defaultValue: "" },
      registryIdentity: { type: "string", defaultValue: "" },
      osType: { type: "pickList", defaultValue: "Linux", options: ["Linux", "Windows"] },
      cpu: { type: "string", defaultValue: "2" },
      memoryGB: { type: "string", defaultValue: "4" },
      priority: { type: "pickList", defaultValue: "Regular", options: ["Regular", "Spot"] },
      subnetIds: { type: "multiLine", defaultValue: "" },
      identity: { type: "string", defaultValue: "" },
      environmentVariables: { type: "multiLine", defaultValue: "" },
      startupScript: { type: "multiLine", defaultValue: "" },
      ephemeral: { type: "boolean", defaultValue: "true" },
      maxLifetimeMinutes: { type: "int", defaultValue: "120" },
      timeoutMinutes: { type: "int", defaultValue: "10" },
      keepOnFailure: { type: "boolean", defaultValue: "false", visibleRule: "dryRun = false" },
      standbyPool: { type: "string", defaultValue: "" },
      tags: { type: "multiLine", defaultValue: "" },
      dryRun: { type: "boolean", defaultValue: "false" },
    },
    outputs: ["agentNames", "containerGroupNames", "runId", "demand", "armTemplatePath"],
  },
  {
    folder: "AciAgentStopV1",
    name: "AciAgentStop",
    inputs: {
      ...connectionInputs,
      scope: { type: "pickList", defaultValue: "run", options: ["run", "names", "expired"] },
      containerGroupNames: { type: "string", defaultValue: "", visibleRule: "scope = names" },
      // Not in the stop table of DESIGN.md, but scope "expired" is defined by it.
      namePrefix: { type: "string", defaultValue: "azp" },
      collectLogs: { type: "boolean", defaultValue: "true" },
    },
    outputs: ["removedCount"],
  },
  {
    folder: "AciAgentStandbyPoolV1",
    name: "AciAgentStandbyPool",
    inputs: {
      // No pool: a standby agent joins the pool AciAgentStart names when it claims it.
      ...Object.fromEntries(Object.entries(connectionInputs).filter(([name]) => name !== "pool")),
      location: { type: "pickList", defaultValue: "", dataSource: "AzureLocations" },
      standbyPool: { type: "string", defaultValue: "", required: true },
      readyCapacity: { type: "int", defaultValue: "1" },
      action: { type: "pickList", defaultValue: "apply", options: ["apply", "delete"] },
      // DESIGN: every wait ends at timeoutMinutes; apply waits for the pool's first running container.
      timeoutMinutes: { type: "int", defaultValue: "10" },
      image: { type: "string", defaultValue: "mcr.microsoft.com/dotnet/runtime-deps:8.0" },
      imageMode: { type: "pickList", defaultValue: "bootstrap", options: ["bootstrap", "prebuilt"] },
      registryServer: { type: "string", defaultValue: "" },
      registryUsername: { type: "string", defaultValue: "" },
      registryPassword: { type: "string", defaultValue: "" },
      cpu: { type: "string", defaultValue: "2" },
      memoryGB: { type: "string", defaultValue: "4" },
      subnetIds: { type: "multiLine", defaultValue: "" },
      environmentVariables: { type: "multiLine", defaultValue: "" },
      startupScript: { type: "multiLine", defaultValue: "" },
      dryRun: { type: "boolean", defaultValue: "false" },
    },
    outputs: ["containerGroupProfileId", "standbyPoolId", "profileRevision", "armTemplatePath"],
  },
];

const CATEGORIES = ["Build", "Utility", "Test", "Package", "Deploy", "Azure Repos", "Azure Boards", "Azure Pipelines", "Azure Test Plans", "Azure Artifacts"];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const tasksDir = path.join(__dirname, "..", "tasks");

function readTaskJson(folder: string): TaskJson {
  return JSON.parse(fs.readFileSync(path.join(tasksDir, folder, "task.json"), "utf8")) as TaskJson;
}

function inputOf(task: TaskJson, name: string): TaskInput {
  const input = task.inputs.find((candidate) => candidate.name === name);
  assert.ok(input, `input ${name} is missing`);
  return input;
}

for (const spec of TASKS) {
  describe(`${spec.folder}/task.json`, function () {
    const task = readTaskJson(spec.folder);

    it("has the identity, version and metadata the agent and tfx require", function () {
      assert.match(task.id, GUID);
      assert.equal(task.name, spec.name);
      assert.match(task.name, /^[A-Za-z0-9-]+$/);
      assert.ok(task.friendlyName.length > 0 && task.friendlyName.length <= 40, task.friendlyName);
      assert.ok(task.description.length > 0);
      assert.ok(CATEGORIES.includes(task.category), task.category);
      assert.deepEqual(task.version, { Major: 1, Minor: 0, Patch: 0 });
      assert.ok(task.instanceNameFormat.length > 0);
      for (const [, ref] of task.instanceNameFormat.matchAll(/\$\((\w+)\)/g)) {
        assert.ok(task.inputs.some((input) => input.name === ref), `instanceNameFormat uses unknown input ${String(ref)}`);
      }
    });

    it("runs the bundle on both Node 20 and Node 24", function () {
      assert.deepEqual(Object.keys(task.execution).sort(), ["Node20_1", "Node24"]);
      for (const handler of Object.values(task.execution)) {
        assert.equal(handler.target, "dist/main.js");
      }
      assert.equal(task.minimumAgentVersion, "4.248.0");
    });

    it("has exactly the inputs of the contract", function () {
      assert.deepEqual(task.inputs.map((input) => input.name).sort(), Object.keys(spec.inputs).sort());
    });

    for (const [name, expected] of Object.entries(spec.inputs)) {
      it(`input ${name}: ${expected.type}, default '${expected.defaultValue}'`, function () {
        const input = inputOf(task, name);
        assert.equal(input.type, expected.type);
        assert.equal(input.defaultValue ?? "", expected.defaultValue);
        assert.equal(input.required ?? false, expected.required ?? false);
        assert.deepEqual(Object.keys(input.options ?? {}), expected.options ?? []);
        assert.equal(input.visibleRule, expected.visibleRule);

        const binding = task.dataSourceBindings?.find((candidate) => candidate.target === name);
        assert.equal(binding?.dataSourceName, expected.dataSource);
        if (expected.dataSource !== undefined) {
          assert.equal(binding?.endpointId, "$(azureSubscription)");
          assert.equal(input.properties?.EditableOptions, "True");
        }
        if (input.type === "int") assert.match(input.defaultValue ?? "", /^\d+$/);
        if (input.type === "boolean") assert.match(input.defaultValue ?? "", /^(true|false)$/);
      });
    }

    it("labels, explains and groups every input", function () {
      const groups = new Set((task.groups ?? []).map((group) => group.name));
      for (const input of task.inputs) {
        assert.ok((input.label ?? "").trim().length > 0, `${input.name} has no label`);
        assert.ok((input.helpMarkDown ?? "").trim().length > 20, `${input.name} has no helpMarkDown`);
        assert.ok(input.groupName !== undefined && groups.has(input.groupName), `${input.name} is in no known group`);
      }
      for (const group of task.groups ?? []) {
        assert.ok(task.inputs.some((input) => input.groupName === group.name), `group ${group.name} is empty`);
      }
    });

    it("has visibleRules that name real inputs and values", function () {
      for (const input of task.inputs.filter((candidate) => candidate.visibleRule !== undefined)) {
        const match = /^(\w+) (=|!=) (\S+)$/.exec(input.visibleRule ?? "");
        assert.ok(match, `${input.name}: cannot read visibleRule '${input.visibleRule ?? ""}'`);
        const [, other = "", , value = ""] = match;
        const target = inputOf(task, other);
        const allowed = target.type === "boolean" ? ["true", "false"] : Object.keys(target.options ?? {});
        assert.ok(allowed.includes(value), `${input.name}: ${other} never equals ${value}`);
      }
    });

    it("binds data sources only to inputs that exist", function () {
      for (const binding of task.dataSourceBindings ?? []) {
        assert.equal(inputOf(task, binding.target).type, "pickList");
      }
    });

    it("declares its output variables", function () {
      assert.deepEqual((task.outputVariables ?? []).map((output) => output.name), spec.outputs);
      for (const output of task.outputVariables ?? []) {
        assert.ok((output.description ?? "").length > 0, `${output.name} has no description`);
      }
    });

    it("ships a PNG icon", function () {
      const icon = fs.readFileSync(path.join(tasksDir, spec.folder, "icon.png"));
      assert.deepEqual([...icon.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    });
  });
}

describe("task ids", function () {
  it("are unique", function () {
    const ids = TASKS.map((spec) => readTaskJson(spec.folder).id.toLowerCase());
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe("task.json help", function () {
  const read = (folder: string) => JSON.parse(fs.readFileSync(path.join(__dirname, "..", "tasks", folder, "task.json"), "utf8")) as TaskJson & { helpUrl?: string; helpMarkDown?: string };
  const start = read("AciAgentStartV1");
  const helpOf = (name: string) => start.inputs.find((input) => input.name === name)?.helpMarkDown ?? "";

  for (const [folder, anchor] of [["AciAgentStartV1", "#aciagentstart1"], ["AciAgentStopV1", "#aciagentstop1"], ["AciAgentStandbyPoolV1", "#aciagentstandbypool1"]] as const) {
    it(`${folder} links its input reference (helpUrl)`, function () {
      assert.match(read(folder).helpUrl ?? "", new RegExp(`^https://\\S+${anchor}$`));
    });
  }

  it("image names every package manager the bootstrap script uses", function () {
    for (const manager of ["apt-get", "tdnf", "dnf", "yum", "apk"]) assert.ok(helpOf("image").includes(manager), manager);
  });

  it("AciAgentStandbyPool names the roles the Standby Pool Resource Provider needs", function () {
    const help = read("AciAgentStandbyPoolV1").helpMarkDown ?? "";
    for (const role of ["Standby Pool Resource Provider", "Azure Container Instances Contributor", "Standby Container Group Pool Contributor", "Network Contributor", "Managed Identity Operator"]) {
      assert.ok(help.includes(role), role);
    }
  });

  it("osType says that bootstrap mode is Linux-only", function () {
    assert.match(helpOf("osType"), /bootstrap\* mode is Linux-only/);
  });
});
