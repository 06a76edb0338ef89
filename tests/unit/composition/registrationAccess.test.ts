// How each registrationAuth becomes the URL the agents register at and the credential they get,
// from the pipeline's connections, over the in-memory platform (no network: no token is asked for).
import { strict as assert } from "node:assert";
import { armAccess, registrationAccess, StepSecrets } from "../../../src/composition/pipelineServices";
import { InputError } from "../../../src/core/errors";
import type { AgentCredential, Registration } from "../../../src/run/inputs";
import { FakePlatform, type FakeEndpoint } from "../../helpers/fakePlatform";

const ARM = "arm-connection";
const TFS = "tfs-connection";
const ORGANIZATION = "https://dev.azure.com/contoso";

const secretConnection: FakeEndpoint = {
  url: "https://management.usgovcloudapi.net/",
  scheme: "ServicePrincipal",
  auth: { tenantid: "tenant-1", serviceprincipalid: "client-1", authenticationType: "spnKey", serviceprincipalkey: "client-secret" },
  data: { subscriptionId: "sub-1", environment: "AzureUSGovernment" },
};
const federatedConnection: FakeEndpoint = {
  url: "https://management.azure.com/",
  scheme: "WorkloadIdentityFederation",
  auth: { tenantid: "tenant-1", serviceprincipalid: "client-1" },
  data: { subscriptionId: "sub-1" },
};

function access(registration: Registration, endpoints: Record<string, FakeEndpoint>, variables: Record<string, string> = {}) {
  const platform = new FakePlatform({ endpoints, variables });
  const secrets = new StepSecrets(platform);
  const result = registrationAccess(platform, registration, ORGANIZATION, armAccess(platform, ARM, secrets), secrets);
  return { platform, secrets, result };
}

describe("registrationAccess", function () {
  const cases: { title: string; registration: Registration; endpoints: Record<string, FakeEndpoint>; variables?: Record<string, string>; url: string; credential: AgentCredential }[] = [
    {
      title: "pat: the PAT, at organizationUrl",
      registration: { auth: "pat", token: "the-pat" },
      endpoints: { [ARM]: secretConnection },
      url: ORGANIZATION,
      credential: { kind: "token", token: "the-pat" },
    },
    {
      title: "accessToken: the job's token",
      registration: { auth: "accessToken" },
      endpoints: { [ARM]: federatedConnection },
      variables: { "System.AccessToken": "job-token" },
      url: ORGANIZATION,
      credential: { kind: "token", token: "job-token" },
    },
    {
      title: "serviceConnection with scheme Token: its URL and apitoken",
      registration: { auth: "serviceConnection", connection: TFS },
      endpoints: { [ARM]: secretConnection, [TFS]: { url: "https://dev.azure.com/fabrikam/", scheme: "Token", auth: { apitoken: "tfs-pat" } } },
      url: "https://dev.azure.com/fabrikam",
      credential: { kind: "token", token: "tfs-pat" },
    },
    {
      title: "serviceConnection with scheme UsernamePassword: the password is the PAT",
      registration: { auth: "serviceConnection", connection: TFS },
      endpoints: { [ARM]: secretConnection, [TFS]: { url: "https://fabrikam.visualstudio.com", scheme: "UsernamePassword", auth: { username: "me", password: "tfs-pat" } } },
      url: "https://fabrikam.visualstudio.com",
      credential: { kind: "token", token: "tfs-pat" },
    },
  ];
  for (const { title, registration, endpoints, variables, url, credential } of cases) {
    it(title, async function () {
      const { result, platform } = access(registration, endpoints, variables);
      assert.equal(result.organizationUrl, url);
      assert.deepEqual(await result.agentCredential(), credential);
      assert.ok(platform.secrets.includes(credential.token), "the token is masked");
    });
  }

  const refusals: { title: string; registration: Registration; endpoints: Record<string, FakeEndpoint>; problem: RegExp }[] = [
    {
      title: "accessToken without System.AccessToken",
      registration: { auth: "accessToken" },
      endpoints: { [ARM]: secretConnection },
      problem: /^registrationAuth: accessToken needs the job's System\.AccessToken/,
    },
    {
      title: "a registration connection over http",
      registration: { auth: "serviceConnection", connection: TFS },
      endpoints: { [ARM]: secretConnection, [TFS]: { url: "http://tfs.contoso.local/DefaultCollection", scheme: "Token", auth: { apitoken: "x" } } },
      problem: /^registrationConnection: must be an https URL/,
    },
    {
      title: "a registration connection without a token",
      registration: { auth: "serviceConnection", connection: TFS },
      endpoints: { [ARM]: secretConnection, [TFS]: { url: "https://dev.azure.com/fabrikam", scheme: "Token", auth: {} } },
      problem: /^registrationConnection: the service connection has no token/,
    },
    {
      title: "a registration connection that does not exist",
      registration: { auth: "serviceConnection", connection: TFS },
      endpoints: { [ARM]: secretConnection },
      problem: /^registrationConnection: the service connection's scheme '' is not supported/,
    },
  ];
  for (const { title, registration, endpoints, problem } of refusals) {
    it(`refuses ${title}, naming the input`, function () {
      assert.throws(() => access(registration, endpoints), (error: unknown) => error instanceof InputError && problem.test(error.message));
    });
  }

  it("masks each secret once however often it is read", function () {
    const platform = new FakePlatform();
    const secrets = new StepSecrets(platform);
    secrets.add("token-1");
    secrets.add("token-1");
    assert.deepEqual(platform.secrets, ["token-1"]);
    assert.equal(secrets.mask("a token-1 b"), "a *** b");
  });
});
