import { strict as assert } from "node:assert";
import type { ContainerGroup } from "@azure/arm-containerinstance";
import { armTemplateFor } from "../../../src/start/armTemplate";
import { bootstrapCommand, containerGroupFor } from "../../../src/start/containerGroupSpec";
import { PAT, configWith } from "./fixtures";

const REGISTRY_PASSWORD = "registry-password-value";
const STARTUP_SCRIPT = "curl -H 'Authorization: Bearer startup-secret' https://tools.example.com | sh";
const BOOTSTRAP_SCRIPT = "#!/bin/sh\necho bootstrap\n";

function groupsFor(count: number, inputs: Record<string, string> = {}, token = PAT): ContainerGroup[] {
  const config = configWith({
    registryServer: "myacr.azurecr.io",
    registryUsername: "puller",
    registryPassword: REGISTRY_PASSWORD,
    startupScript: STARTUP_SCRIPT,
    ...inputs,
  });
  return Array.from({ length: count }, (_, index) =>
    containerGroupFor(config, { name: `azp-1234-1-${index + 1}`, tags: { team: "ci", ...config.tags } }, "westeurope", BOOTSTRAP_SCRIPT, {
      kind: "token",
      token,
    }),
  );
}

describe("armTemplateFor", () => {
  it("is a resource-group deployment template of container groups in their wire shape", () => {
    const { template } = armTemplateFor(groupsFor(2));
    assert.equal(template.$schema, "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#");
    assert.equal(template.contentVersion, "1.0.0.0");
    assert.deepEqual(
      template.resources.map(({ type, apiVersion, name, location }) => ({ type, apiVersion, name, location })),
      [
        { type: "Microsoft.ContainerInstance/containerGroups", apiVersion: "2023-05-01", name: "azp-1234-1-1", location: "westeurope" },
        { type: "Microsoft.ContainerInstance/containerGroups", apiVersion: "2023-05-01", name: "azp-1234-1-2", location: "westeurope" },
      ],
    );
    const [resource] = template.resources;
    assert.ok(resource);
    assert.deepEqual(resource.tags, { team: "ci" });
    assert.equal(resource.properties.osType, "Linux");
    assert.equal(resource.properties.restartPolicy, "Never");
    const [container] = resource.properties.containers;
    assert.ok(container);
    assert.equal(container.name, "azp-1234-1-1");
    assert.equal(container.properties.image, "mcr.microsoft.com/dotnet/runtime-deps:8.0");
    assert.deepEqual(container.properties.command, bootstrapCommand(BOOTSTRAP_SCRIPT));
    assert.deepEqual(container.properties.resources, { requests: { cpu: 2, memoryInGB: 4 } });
  });

  it("uses the API version it is given", () => {
    assert.equal(armTemplateFor(groupsFor(1), undefined, "2025-09-01").template.resources[0]?.apiVersion, "2025-09-01");
  });

  it("holds no secret, only securestring parameters in their place", () => {
    const { template, parameterNames } = armTemplateFor(groupsFor(3));
    const json = JSON.stringify(template);
    for (const secret of [PAT, REGISTRY_PASSWORD, "startup-secret"]) {
      assert.ok(!json.includes(secret), `${secret} is in the template`);
    }
    assert.deepEqual(parameterNames, ["registrationToken", "startupScript", "registryPassword"]);
    assert.deepEqual(template.parameters, {
      registrationToken: { type: "securestring", metadata: { description: "Secure value of AZP_TOKEN" } },
      startupScript: { type: "securestring", metadata: { description: "Secure value of AZP_STARTUP_SCRIPT" } },
      registryPassword: { type: "securestring", metadata: { description: "Password for myacr.azurecr.io" } },
    });
  });

  it("refers to the parameters where the secrets were", () => {
    const { template } = armTemplateFor(groupsFor(1));
    const properties = template.resources[0]?.properties;
    const environment = properties?.containers[0]?.properties.environmentVariables ?? [];
    assert.deepEqual(environment.find(({ name }) => name === "AZP_TOKEN"), { name: "AZP_TOKEN", secureValue: "[parameters('registrationToken')]" });
    assert.deepEqual(environment.find(({ name }) => name === "AZP_STARTUP_SCRIPT"), {
      name: "AZP_STARTUP_SCRIPT",
      secureValue: "[parameters('startupScript')]",
    });
    assert.deepEqual(environment.find(({ name }) => name === "ACI_RUN_ID"), { name: "ACI_RUN_ID", value: "1234" });
    assert.deepEqual(properties?.imageRegistryCredentials, [
      { server: "myacr.azurecr.io", username: "puller", password: "[parameters('registryPassword')]" },
    ]);
  });

  it("gives different secrets under one name their own parameters", () => {
    const groups = [...groupsFor(1, {}, "first-token"), ...groupsFor(1, {}, "second-token")];
    const { template, parameterNames } = armTemplateFor(groups);
    assert.deepEqual(parameterNames, ["registrationToken", "startupScript", "registryPassword", "registrationToken2"]);
    const tokens = template.resources.map(
      (resource) => resource.properties.containers[0]?.properties.environmentVariables?.find(({ name }) => name === "AZP_TOKEN")?.secureValue,
    );
    assert.deepEqual(tokens, ["[parameters('registrationToken')]", "[parameters('registrationToken2')]"]);
  });

  it("needs no parameters without secrets beyond the token", () => {
    const { parameterNames } = armTemplateFor(groupsFor(1, { registryServer: "", registryUsername: "", registryPassword: "", startupScript: "" }));
    assert.deepEqual(parameterNames, ["registrationToken"]);
  });

  const bracketCases = [
    { text: "[concat('a','b')]", written: "[[concat('a','b')]" },
    { text: "[not closed", written: "[not closed" },
    { text: "plain [text]", written: "plain [text]" },
  ];
  for (const { text, written } of bracketCases) {
    it(`keeps ${text} literal in user values and tag names`, () => {
      const { template } = armTemplateFor(groupsFor(1, { environmentVariables: `NOTE=${text}`, tags: `${text}=${text}` }));
      const resource = template.resources[0];
      const note = resource?.properties.containers[0]?.properties.environmentVariables?.find(({ name }) => name === "NOTE");
      assert.equal(note?.value, written);
      assert.deepEqual(resource?.tags, { team: "ci", [written]: written });
    });
  }

  it("deploys a group without a location to its resource group's, as an expression ARM evaluates", () => {
    const [group] = groupsFor(1);
    assert.ok(group);
    const { template } = armTemplateFor([{ ...group, location: undefined }]);
    assert.equal(template.resources[0]?.location, "[resourceGroup().location]");
    assert.equal(armTemplateFor([group]).template.resources[0]?.location, "westeurope");
  });

  it("needs named container groups", () => {
    const [group] = groupsFor(1);
    assert.ok(group);
    assert.throws(() => armTemplateFor([{ ...group, name: undefined }]), /with a name/);
  });
});
