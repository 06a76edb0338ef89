// The ARM service connection as task-lib hands it over: scheme, authorization parameters and
// data, for each scheme and for a sovereign cloud.
import { strict as assert } from "node:assert";
import { armScope, readArmConnection, type ArmConnection, type ConnectionReader } from "../../../src/azure/connection";
import { InputError } from "../../../src/core/errors";

const CONNECTION_ID = "9f0c3c1e-arm-connection";

interface Endpoint {
  url?: string;
  scheme?: string;
  auth: Record<string, string>;
  data: Record<string, string>;
}

function readerOf(endpoint: Endpoint): ConnectionReader {
  const lookup = (values: Record<string, string>, key: string) =>
    Object.entries(values).find(([name]) => name.toLowerCase() === key.toLowerCase())?.[1];
  return {
    url: () => endpoint.url,
    scheme: () => endpoint.scheme,
    authParameter: (_id, key) => lookup(endpoint.auth, key),
    dataParameter: (_id, key) => lookup(endpoint.data, key),
  };
}

function read(endpoint: Endpoint): { connection: ArmConnection; masked: string[] } {
  const masked: string[] = [];
  const connection = readArmConnection(readerOf(endpoint), CONNECTION_ID, (secret) => masked.push(secret));
  return { connection, masked };
}

const principal = { tenantid: "tenant-1", serviceprincipalid: "client-1" };
const publicData = { subscriptionId: "sub-1", environment: "AzureCloud" };

describe("readArmConnection", function () {
  const cases: { title: string; endpoint: Endpoint; expect: Partial<ArmConnection>; masked?: string[] }[] = [
    {
      title: "a secret connection (no scheme means ServicePrincipal)",
      endpoint: { url: "https://management.azure.com", auth: { ...principal, serviceprincipalkey: "s3cret" }, data: publicData },
      expect: { armUrl: "https://management.azure.com/", authorityHost: "https://login.microsoftonline.com", auth: { kind: "secret", tenantId: "tenant-1", clientId: "client-1", clientSecret: "s3cret" } },
      masked: ["s3cret"],
    },
    {
      title: "a certificate connection",
      endpoint: { url: "https://management.azure.com/", scheme: "ServicePrincipal", auth: { ...principal, authenticationType: "spnCertificate", servicePrincipalCertificate: "PEM" }, data: publicData },
      expect: { auth: { kind: "certificate", tenantId: "tenant-1", clientId: "client-1", certificatePem: "PEM" } },
      masked: ["PEM"],
    },
    {
      title: "a workload identity federation connection",
      endpoint: { url: "https://management.azure.com/", scheme: "WorkloadIdentityFederation", auth: principal, data: publicData },
      expect: { auth: { kind: "workloadIdentity", tenantId: "tenant-1", clientId: "client-1" } },
    },
    {
      title: "a managed identity connection of the machine's system-assigned identity",
      endpoint: { url: "https://management.azure.com/", scheme: "ManagedServiceIdentity", auth: { tenantid: "tenant-1" }, data: publicData },
      expect: { auth: { kind: "managedIdentity", userAssignedClientId: undefined } },
    },
    {
      title: "a managed identity connection of a user-assigned identity (msiclientId)",
      endpoint: { url: "https://management.azure.com/", scheme: "ManagedServiceIdentity", auth: { tenantid: "tenant-1" }, data: { ...publicData, msiclientId: "mi-client" } },
      expect: { auth: { kind: "managedIdentity", userAssignedClientId: "mi-client" } },
    },
    {
      title: "Azure US Government: the connection's URL and authority",
      endpoint: {
        url: "https://management.usgovcloudapi.net/",
        scheme: "WorkloadIdentityFederation",
        auth: principal,
        data: { subscriptionId: "sub-1", environment: "AzureUSGovernment", activeDirectoryAuthority: "https://login.microsoftonline.us/" },
      },
      expect: { armUrl: "https://management.usgovcloudapi.net/", authorityHost: "https://login.microsoftonline.us" },
    },
    {
      title: "Azure US Government without activeDirectoryAuthority: the environment's authority",
      endpoint: { url: "https://management.usgovcloudapi.net", auth: { ...principal, serviceprincipalkey: "s3cret" }, data: { subscriptionId: "sub-1", environment: "AzureUSGovernment" } },
      expect: { armUrl: "https://management.usgovcloudapi.net/", authorityHost: "https://login.microsoftonline.us" },
      masked: ["s3cret"],
    },
    {
      title: "Azure China with only the older environmentAuthorityUrl",
      endpoint: {
        url: "https://management.chinacloudapi.cn/",
        auth: { ...principal, serviceprincipalkey: "s3cret" },
        data: { subscriptionId: "sub-1", environment: "AzureChinaCloud", environmentAuthorityUrl: "https://login.chinacloudapi.cn/" },
      },
      expect: { armUrl: "https://management.chinacloudapi.cn/", authorityHost: "https://login.chinacloudapi.cn" },
      masked: ["s3cret"],
    },
  ];
  for (const { title, endpoint, expect, masked } of cases) {
    it(title, function () {
      const result = read(endpoint);
      for (const [key, value] of Object.entries(expect)) assert.deepEqual(result.connection[key as keyof ArmConnection], value, key);
      assert.deepEqual(result.masked, masked ?? []);
    });
  }

  it("scopes ARM tokens to the connection's URL in a sovereign cloud, without a doubled slash", function () {
    const { connection } = read({ url: "https://management.usgovcloudapi.net", scheme: "ManagedServiceIdentity", auth: {}, data: { subscriptionId: "s", environment: "AzureUSGovernment" } });
    assert.equal(armScope(connection), "https://management.usgovcloudapi.net/.default");
  });

  const refusals: { title: string; endpoint: Endpoint; problem: RegExp }[] = [
    { title: "a publish profile connection", endpoint: { url: "https://x/", scheme: "PublishProfile", auth: {}, data: publicData }, problem: /^azureSubscription: .*scheme 'PublishProfile' is not supported/ },
    { title: "a secret connection without its key", endpoint: { url: "https://x/", auth: principal, data: publicData }, problem: /^azureSubscription: .*no service principal key/ },
    { title: "a federated connection without a client id", endpoint: { url: "https://x/", scheme: "WorkloadIdentityFederation", auth: { tenantid: "t" }, data: publicData }, problem: /^azureSubscription: .*no service principal \(client\) id/ },
    { title: "a connection scoped to a management group", endpoint: { url: "https://x/", scheme: "ManagedServiceIdentity", auth: {}, data: {} }, problem: /^azureSubscription: .*no subscription id/ },
  ];
  for (const { title, endpoint, problem } of refusals) {
    it(`refuses ${title}, naming azureSubscription`, function () {
      assert.throws(() => read(endpoint), (error: unknown) => error instanceof InputError && problem.test(error.message));
    });
  }
});
