import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { strict as assert } from "node:assert";
import type { ContainerGroup, EnvironmentVariable } from "@azure/arm-containerinstance";
import type { AgentCredential } from "../../../src/run/inputs";
import { bootstrapCommand, containerGroupFor, type PlannedAgent } from "../../../src/start/containerGroupSpec";
import { IDENTITY_ID, PAT, PULL_IDENTITY_ID, SUBNET_ID, configWith } from "./fixtures";

const AGENT: PlannedAgent = { name: "azp-1234-1-1", tags: { "aci-agents-agent": "azp-1234-1-1" } };
const BOOTSTRAP_SCRIPT = "#!/bin/sh\necho bootstrap\n";
const CREDENTIAL: AgentCredential = { kind: "token", token: PAT };

interface InputsCase {
  name: string;
  inputs: Record<string, string>;
  expected: unknown;
}

function groupWith(inputs: Record<string, string> = {}): ContainerGroup {
  return containerGroupFor(configWith(inputs), AGENT, "westeurope", BOOTSTRAP_SCRIPT, CREDENTIAL);
}

function environmentOf(group: ContainerGroup): EnvironmentVariable[] {
  return group.containers[0]?.environmentVariables ?? [];
}

function variable(group: ContainerGroup, name: string): EnvironmentVariable | undefined {
  return environmentOf(group).find((candidate) => candidate.name === name);
}

describe("containerGroupFor", () => {
  it("describes one agent container named like its group", () => {
    const group = groupWith({ cpu: "1.5", memoryGB: "3.5", priority: "Spot" });
    assert.equal(group.name, AGENT.name);
    assert.equal(group.location, "westeurope");
    assert.deepEqual(group.tags, AGENT.tags);
    assert.equal(group.osType, "Linux");
    assert.equal(group.priority, "Spot");
    assert.equal(group.containers.length, 1);
    const [container] = group.containers;
    assert.ok(container);
    assert.equal(container.name, AGENT.name);
    assert.equal(container.image, "mcr.microsoft.com/dotnet/runtime-deps:8.0");
    assert.deepEqual(container.resources, { requests: { cpu: 1.5, memoryInGB: 3.5 } });
    assert.equal(group.identity, undefined);
    assert.equal(group.imageRegistryCredentials, undefined);
    assert.equal(group.subnetIds, undefined);
  });

  it("gives the agent what the bootstrap script reads, then the user's variables", () => {
    const group = groupWith({ environmentVariables: "TOOLS=node\nREGION=eu", startupScript: "apt-get install -y jq" });
    assert.deepEqual(environmentOf(group), [
      { name: "AZP_URL", value: "https://dev.azure.com/contoso" },
      { name: "AZP_POOL", value: "aci" },
      { name: "AZP_AGENT_NAME", value: AGENT.name },
      { name: "AZP_TOKEN", secureValue: PAT },
      { name: "AZP_AUTH", value: "PAT" },
      { name: "AZP_WORK", value: "_work" },
      { name: "AZP_ONCE", value: "true" },
      { name: "AZP_MAX_LIFETIME_MINUTES", value: "120" },
      { name: "AZP_EXPIRES_AT", value: "never" },
      { name: "AZP_STARTUP_SCRIPT", secureValue: "apt-get install -y jq" },
      { name: "ACI_RUN_ID", value: "1234" },
      { name: "ACI_FLEET", value: "azp-1234" },
      { name: "TOOLS", value: "node" },
      { name: "REGION", value: "eu" },
    ]);
  });

  it("holds the registration token only as a secure value", () => {
    const group = groupWith();
    assert.deepEqual(variable(group, "AZP_TOKEN"), { name: "AZP_TOKEN", secureValue: PAT });
    assert.ok(environmentOf(group).every((candidate) => candidate.value !== PAT));
    assert.equal(JSON.stringify(group).split(PAT).length - 1, 1);
  });

  it("sets no startup script when there is none", () => {
    assert.equal(variable(groupWith(), "AZP_STARTUP_SCRIPT"), undefined);
  });

  const lifetimeCases = [
    { ephemeral: "true", restartPolicy: "Never", once: "true" },
    { ephemeral: "false", restartPolicy: "Never", once: "false" },
  ];
  for (const { ephemeral, restartPolicy, once } of lifetimeCases) {
    it(`restart policy of an agent with ephemeral ${ephemeral}: ${restartPolicy} (a restart would hand the secret to a container its jobs changed)`, () => {
      const group = groupWith({ ephemeral, maxLifetimeMinutes: "0" });
      assert.equal(group.restartPolicy, restartPolicy);
      assert.equal(variable(group, "AZP_ONCE")?.value, once);
      assert.equal(variable(group, "AZP_MAX_LIFETIME_MINUTES")?.value, "0");
    });
  }

  const commandCases = [
    { imageMode: "bootstrap", image: "", command: bootstrapCommand(BOOTSTRAP_SCRIPT) },
    { imageMode: "prebuilt", image: "myacr.azurecr.io/agent:1", command: undefined },
  ];
  for (const { imageMode, image, command } of commandCases) {
    it(`runs ${imageMode === "bootstrap" ? "the bootstrap script inline" : "the image's entrypoint"} in ${imageMode} mode`, () => {
      assert.deepEqual(groupWith({ imageMode, image }).containers[0]?.command, command);
    });
  }

  it("runs the bootstrap script from a file it writes first, with /bin/sh, without its comment lines", () => {
    const tmp = mkdtempSync(join(tmpdir(), "aci-bootstrap-"));
    try {
      const script = '#!/bin/sh\n# says where it runs\necho "running $0 with secret=${AZP_TOKEN:-none}" # and what it holds\n  # indented\necho "#1 done"';
      const [shell, ...args] = bootstrapCommand(script);
      const output = execFileSync(shell ?? "", args, { env: { PATH: process.env.PATH, TMPDIR: tmp }, encoding: "utf8" });
      assert.equal(output, `running ${join(tmp, "aci-agent-start.sh")} with secret=none\n#1 done\n`);
      assert.equal(readFileSync(join(tmp, "aci-agent-start.sh"), "utf8"), 'echo "running $0 with secret=${AZP_TOKEN:-none}" # and what it holds\necho "#1 done"\n');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("sends agent/start.sh as the same program bash parses from the file, a third smaller", () => {
    const file = join(__dirname, "..", "..", "..", "agent", "start.sh");
    const sent = bootstrapCommand(readFileSync(file, "utf8")).at(-1) ?? "";
    const tmp = mkdtempSync(join(tmpdir(), "aci-bootstrap-"));
    try {
      writeFileSync(join(tmp, "sent.sh"), sent);
      // bash prints the program it parsed; a comment line it dropped leaves at most a blank line.
      const parsed = (path: string) => execFileSync("bash", ["--pretty-print", path], { encoding: "utf8" }).split("\n").filter((line) => line.trim() !== "");
      assert.deepEqual(parsed(join(tmp, "sent.sh")), parsed(file));
      assert.ok(sent.length < 0.75 * statSync(file).size, `the command carries ${sent.length} of start.sh's ${statSync(file).size} bytes`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  const identityCases: InputsCase[] = [
    { name: "SystemAssigned", inputs: { identity: "SystemAssigned" }, expected: { type: "SystemAssigned" } },
    {
      name: "a user-assigned identity",
      inputs: { identity: IDENTITY_ID },
      expected: { type: "UserAssigned", userAssignedIdentities: { [IDENTITY_ID]: {} } },
    },
    {
      name: "both kinds",
      inputs: { identity: `SystemAssigned,${IDENTITY_ID}` },
      expected: { type: "SystemAssigned, UserAssigned", userAssignedIdentities: { [IDENTITY_ID]: {} } },
    },
    {
      name: "the registry's pull identity, assigned to the group too",
      inputs: { identity: IDENTITY_ID, registryServer: "myacr.azurecr.io", registryIdentity: PULL_IDENTITY_ID },
      expected: { type: "UserAssigned", userAssignedIdentities: { [IDENTITY_ID]: {}, [PULL_IDENTITY_ID]: {} } },
    },
    {
      name: "a pull identity that is also the agent's, once",
      inputs: { identity: PULL_IDENTITY_ID, registryServer: "myacr.azurecr.io", registryIdentity: PULL_IDENTITY_ID },
      expected: { type: "UserAssigned", userAssignedIdentities: { [PULL_IDENTITY_ID]: {} } },
    },
  ];
  for (const { name, inputs, expected } of identityCases) {
    it(`attaches ${name}`, () => {
      assert.deepEqual(groupWith(inputs).identity, expected);
    });
  }

  const registryCases: InputsCase[] = [
    {
      name: "a username and password",
      inputs: { registryServer: "myacr.azurecr.io", registryUsername: "puller", registryPassword: "reg-secret" },
      expected: [{ server: "myacr.azurecr.io", username: "puller", password: "reg-secret" }],
    },
    {
      name: "an identity",
      inputs: { registryServer: "myacr.azurecr.io", registryIdentity: PULL_IDENTITY_ID },
      expected: [{ server: "myacr.azurecr.io", identity: PULL_IDENTITY_ID }],
    },
  ];
  for (const { name, inputs, expected } of registryCases) {
    it(`pulls from a private registry with ${name}`, () => {
      assert.deepEqual(groupWith(inputs).imageRegistryCredentials, expected);
    });
  }

  it("joins the given subnets", () => {
    assert.deepEqual(groupWith({ subnetIds: SUBNET_ID }).subnetIds, [{ id: SUBNET_ID }]);
  });

  it("registers with the token it is given, whatever the auth", () => {
    const config = configWith({ registrationAuth: "accessToken", registrationToken: "" });
    const group = containerGroupFor(config, AGENT, "westeurope", BOOTSTRAP_SCRIPT, { kind: "token", token: "job-access-token" });
    assert.deepEqual(variable(group, "AZP_TOKEN"), { name: "AZP_TOKEN", secureValue: "job-access-token" });
    assert.deepEqual(variable(group, "AZP_AUTH"), { name: "AZP_AUTH", value: "PAT" });
  });

});

describe("containerGroupFor an agent the step registered (the identity path)", () => {
  const FILES = { agent: "\uFEFF{\"agentId\": 1}", credentials: "\uFEFF{\"scheme\": \"OAuth\"}", credentials_rsaparams: "\uFEFF{\"d\": \"c2VjcmV0\"}" };
  const PACKAGES = {
    glibc: { platform: "linux-x64", version: "4.264.2", downloadUrl: "https://cdn.example/vsts-agent-linux-x64-4.264.2.tar.gz", hashValue: "AB-CD", filename: undefined },
    musl: { platform: "linux-musl-x64", version: "4.264.2", downloadUrl: "https://cdn.example/vsts-agent-linux-musl-x64-4.264.2.tar.gz", hashValue: "EF", filename: undefined },
  };
  const AGENT_WITH_EXPIRY: PlannedAgent = { name: "azp-1234-1-1", tags: { "aci-agents-agent": "azp-1234-1-1", "aci-agents-expires": "2026-03-01T14:00:00Z" } };
  const identityGroup = (inputs: Record<string, string> = {}) =>
    containerGroupFor(configWith(inputs), AGENT_WITH_EXPIRY, "westeurope", BOOTSTRAP_SCRIPT, { kind: "identity", files: FILES, packages: PACKAGES });

  it("hands over the agent's three files in a secret volume, mounted read-only where the bootstrap reads them", () => {
    const group = identityGroup();
    assert.deepEqual(group.volumes, [
      {
        name: "agent-identity",
        secret: Object.fromEntries(Object.entries(FILES).map(([name, text]) => [name, Buffer.from(text, "utf8").toString("base64")])),
      },
    ]);
    assert.deepEqual(group.containers[0]?.volumeMounts, [{ name: "agent-identity", mountPath: "/mnt/aci-agent-identity", readOnly: true }]);
    assert.equal(variable(group, "AZP_IDENTITY_DIR")?.value, "/mnt/aci-agent-identity");
  });

  it("gives no credential and no file contents in the environment: the packages to download, the absolute expiry, the pinning values", () => {
    const group = identityGroup({ startupScript: "apt-get install -y jq" });
    const environment = environmentOf(group);
    assert.deepEqual(environment.filter((v) => v.secureValue !== undefined).map((v) => v.name), ["AZP_STARTUP_SCRIPT"]);
    assert.equal(variable(group, "AZP_TOKEN"), undefined);
    assert.equal(variable(group, "AZP_AUTH"), undefined);
    assert.ok(!JSON.stringify(environment).includes("c2VjcmV0"));
    assert.deepEqual(
      ["AZP_AGENT_PACKAGE_URL", "AZP_AGENT_PACKAGE_SHA256", "AZP_AGENT_MUSL_PACKAGE_URL", "AZP_AGENT_MUSL_PACKAGE_SHA256", "AZP_EXPIRES_AT", "ACI_RUN_ID", "ACI_FLEET"].map((name) => variable(group, name)?.value),
      [PACKAGES.glibc.downloadUrl, "AB-CD", PACKAGES.musl.downloadUrl, "EF", "2026-03-01T14:00:00Z", "1234", "azp-1234"],
    );
  });

  const restarts: [string, string, string][] = [
    ["an ephemeral agent is never restarted (it must not take a second job)", "true", "Never"],
    ["a long-lived agent comes back after a crash with the same identity", "false", "OnFailure"],
  ];
  for (const [title, ephemeral, policy] of restarts) {
    it(title, () => {
      assert.equal(identityGroup({ ephemeral, maxLifetimeMinutes: "0" }).restartPolicy, policy);
    });
  }
});
