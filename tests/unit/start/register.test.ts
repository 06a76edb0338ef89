import { strict as assert } from "node:assert";
import { oauthEndpointOf, pinningCapabilities, registrationOf, serverUrlOf } from "../../../src/start/register";
import { configWith, TEST_KEY } from "./fixtures";

const PACKAGES = {
  glibc: { platform: "linux-x64", version: "4.264.2", downloadUrl: "https://download.agent.dev.azure.com/agent/4.264.2/vsts-agent-linux-x64-4.264.2.tar.gz", hashValue: "ab", filename: undefined },
  musl: undefined,
};

describe("registering an agent from outside", () => {
  it("sends what config.sh sends: name, the package's version, one job at a time, provisioned, its public key, and the capabilities the run's demands use", () => {
    const config = configWith({ environmentVariables: "TOOLS=node", namePrefix: "linux" });
    assert.deepEqual(registrationOf(config, "linux-1234-1-2", TEST_KEY, PACKAGES.glibc.version), {
      name: "linux-1234-1-2",
      version: "4.264.2",
      osDescription: "Linux",
      maxParallelism: 1,
      provisioningState: "Provisioned",
      authorization: { publicKey: TEST_KEY.publicKey },
      systemCapabilities: { TOOLS: "node", ACI_RUN_ID: "1234", ACI_FLEET: "linux-1234", "Agent.Name": "linux-1234-1-2", "Agent.Version": "4.264.2", "Agent.OS": "Linux" },
    });
  });

  it("pins with ACI_RUN_ID and ACI_FLEET, lower case", () => {
    assert.deepEqual(pinningCapabilities(configWith({ namePrefix: "Linux" })), { ACI_RUN_ID: "1234", ACI_FLEET: "linux-1234" });
  });

  const servers: [string, Record<string, unknown> | undefined, string, string][] = [
    ["no ServerUrl: the configured URL as given", undefined, "https://dev.azure.com/contoso", "https://dev.azure.com/contoso"],
    ["a bare ServerUrl on the configured host: as returned", { ServerUrl: "https://dev.azure.com/contoso/" }, "https://dev.azure.com/contoso", "https://dev.azure.com/contoso/"],
    ["a PropertiesCollection value", { ServerUrl: { $type: "System.String", $value: "https://dev.azure.com/contoso/" } }, "https://dev.azure.com/contoso", "https://dev.azure.com/contoso/"],
    ["a ServerUrl on another host: its path on the configured scheme, host and port", { ServerUrl: "https://internal:8443/tfs/Coll/" }, "https://tfs.contoso.com/tfs/coll", "https://tfs.contoso.com/tfs/Coll/"],
    ["an empty ServerUrl: the configured URL", { ServerUrl: "" }, "https://fabrikam.visualstudio.com", "https://fabrikam.visualstudio.com"],
  ];
  for (const [title, properties, configured, expected] of servers) {
    it(`saves serverUrl: ${title}`, () => {
      assert.equal(serverUrlOf(properties === undefined ? {} : { properties }, configured), expected);
    });
  }

  const endpoints: [string, string, string, string][] = [
    ["Azure DevOps Services: the authorization URL", "https://vstoken.dev.azure.com/org/_apis/oauth2/token", "https://dev.azure.com/contoso", "https://vstoken.dev.azure.com/org/_apis/oauth2/token"],
    ["a visualstudio.com organization: the authorization URL", "https://vstoken.dev.azure.com/org/_apis/oauth2/token", "https://fabrikam.visualstudio.com", "https://vstoken.dev.azure.com/org/_apis/oauth2/token"],
    ["a server of one's own: the configured scheme, host and port", "https://internal:8443/tfs/_apis/oauth2/token", "https://tfs.contoso.com/tfs/coll", "https://tfs.contoso.com/tfs/_apis/oauth2/token"],
  ];
  for (const [title, authorizationUrl, configured, expected] of endpoints) {
    it(`asks for its token at ${title}`, () => {
      assert.equal(oauthEndpointOf(authorizationUrl, configured), expected);
    });
  }
});
