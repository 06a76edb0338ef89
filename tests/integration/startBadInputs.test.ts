// Integration: every bad input makes the bundled AciAgentStart@1 fail with a message naming that
// input, before it writes anything to Azure or Azure DevOps (the emulator's request log shows no
// PUT/POST/DELETE to ARM and none to the pool's agents).
import { strict as assert } from "node:assert";
import type { ConnectionScheme } from "../../emulator/pipeline";
import { assertInvariants, assertNoWrites, groupNames, plainOutput, runStart, useEmulator } from "./helpers";

interface BadInputCase {
  title: string;
  /** The input the message must name. */
  input: string;
  inputs: Record<string, string>;
  omit?: string[];
  scheme?: ConnectionScheme;
}

const subnetId =
  "/subscriptions/00000000-0000-4000-8000-00000000a1c1/resourceGroups/ci-agents/providers/Microsoft.Network/virtualNetworks/vnet/subnets/agents";

const cases: BadInputCase[] = [
  { title: "agentCount 0", input: "agentCount", inputs: { agentCount: "0" } },
  { title: "agentCount 51", input: "agentCount", inputs: { agentCount: "51" } },
  { title: "agentCount abc", input: "agentCount", inputs: { agentCount: "abc" } },
  { title: "cpu 0", input: "cpu", inputs: { cpu: "0" } },
  { title: "cpu 5", input: "cpu", inputs: { cpu: "5" } },
  { title: "memoryGB 0.05", input: "memoryGB", inputs: { memoryGB: "0.05" } },
  { title: "priority Bogus", input: "priority", inputs: { priority: "Bogus" } },
  {
    title: "osType Windows with subnetIds",
    input: "subnetIds",
    // prebuilt with an image, so that the virtual network is the only problem.
    inputs: { osType: "Windows", imageMode: "prebuilt", image: "contoso.azurecr.io/agents/windows:1", subnetIds: subnetId },
  },
  { title: "image UPPER/Case", input: "image", inputs: { image: "UPPER/Case" } },
  { title: "environmentVariables 'bad line'", input: "environmentVariables", inputs: { environmentVariables: "bad line" } },
  { title: "environmentVariables setting AZP_TOKEN", input: "environmentVariables", inputs: { environmentVariables: "AZP_TOKEN=x" } },
  { title: "tags aci-agents-x=1", input: "tags", inputs: { tags: "aci-agents-x=1" } },
  { title: "namePrefix too long", input: "namePrefix", inputs: { namePrefix: "a".repeat(60) } },
  { title: "namePrefix with an underscore", input: "namePrefix", inputs: { namePrefix: "my_agents" } },
  { title: "location 'not a region!'", input: "location", inputs: { location: "not a region!" } },
  { title: "fallbackLocations 'north europe!'", input: "fallbackLocations", inputs: { fallbackLocations: "northeurope, uk south!" } },
  { title: "timeoutMinutes 0", input: "timeoutMinutes", inputs: { timeoutMinutes: "0" } },
  { title: "maxLifetimeMinutes shorter than timeoutMinutes", input: "maxLifetimeMinutes", inputs: { maxLifetimeMinutes: "5", timeoutMinutes: "10" } },
  { title: "registrationAuth Bogus", input: "registrationAuth", inputs: { registrationAuth: "Bogus" } },
  { title: "registrationToken missing with pat", input: "registrationToken", inputs: {}, omit: ["registrationToken"] },
  { title: "resourceGroup with a slash", input: "resourceGroup", inputs: { resourceGroup: "bad/name" } },
  { title: "organizationUrl over http", input: "organizationUrl", inputs: { organizationUrl: "http://dev.azure.com/contoso" } },
  {
    title: "accessToken with an organizationUrl of another origin than System.CollectionUri",
    input: "organizationUrl",
    inputs: { registrationAuth: "accessToken", organizationUrl: "https://dev.azure.com/contoso" },
    omit: ["registrationToken"],
  },
  { title: "serviceConnection without registrationConnection", input: "registrationConnection", inputs: { registrationAuth: "serviceConnection" }, omit: ["registrationToken"] },
  { title: "servicePrincipal with a federated connection", input: "registrationAuth", inputs: { registrationAuth: "servicePrincipal" }, omit: ["registrationToken"], scheme: "workloadIdentity" },
  { title: "identity that is no resource id", input: "identity", inputs: { identity: "my-identity" } },
  { title: "registryServer without credentials", input: "registryUsername", inputs: { registryServer: "contoso.azurecr.io" } },
  { title: "ephemeral maybe", input: "ephemeral", inputs: { ephemeral: "maybe" } },
];

describe("integration: AciAgentStart@1 bad inputs", function () {
  this.timeout(60_000);
  const emulator = useEmulator();

  for (const badInput of cases) {
    it(`fails naming ${badInput.input} and writes nothing: ${badInput.title}`, async function () {
      const emu = emulator();
      const run = await runStart(emu, {
        inputs: badInput.inputs,
        ...(badInput.omit === undefined ? {} : { omit: badInput.omit }),
        ...(badInput.scheme === undefined ? {} : { scheme: badInput.scheme }),
      });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed", plainOutput(run));
      assert.notEqual(run.exitCode, null);
      assert.match(run.message, new RegExp(`(^|\\n)${badInput.input}: `), `the message does not name ${badInput.input}: ${run.message}`);
      assertNoWrites(emu);
      assert.deepEqual(groupNames(emu), []);
      assert.equal(run.outputs.agentNames, undefined, "no outputs on bad input");
    });
  }
});
