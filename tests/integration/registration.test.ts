// Integration: the bundled tasks with each kind of ARM connection and each registration mode
// that needs no PAT, against the emulated Entra, instance metadata service, ARM and Azure DevOps.
import { strict as assert } from "node:assert";
import { agentMachineIdentities } from "../../emulator/imds/routes";
import {
  agentNamesInPool,
  assertInvariants,
  assertNoWrites,
  groupNames,
  namesOf,
  plainOutput,
  runStart,
  runTaskStep,
  useEmulator,
  type RunningEmulator,
  type StepOptions,
} from "./helpers";

/** Start then stop with the same connection; both must succeed and leave nothing of the run. */
async function startAndStop(emu: RunningEmulator, options: StepOptions): Promise<void> {
  const start = await runStart(emu, options);
  assertInvariants(emu, start);
  assert.equal(start.result, "Succeeded", `${start.message}\n${plainOutput(start)}`);
  assert.deepEqual(groupNames(emu), namesOf(start.step.buildId, 1));
  assert.deepEqual(agentNamesInPool(emu), namesOf(start.step.buildId, 1));
  const stop = await runTaskStep(emu, "AciAgentStopV1", { ...options, buildId: start.step.buildId });
  assertInvariants(emu, stop);
  assert.equal(stop.result, "Succeeded", `${stop.message}\n${plainOutput(stop)}`);
  assert.equal(stop.outputs.removedCount, "1");
  assert.deepEqual(groupNames(emu), []);
  assert.deepEqual(agentNamesInPool(emu), []);
}

/** The environment the task gave the agent container of a group, from the stored PUT body. */
function containerEnvironment(emu: RunningEmulator, name: string): { name: string; value?: string; secureValue?: string }[] {
  const record = [...emu.state.containerGroups.values()].find((g) => g.name === name);
  assert.ok(record !== undefined, `no container group ${name}`);
  const body = record.body as { properties?: { containers?: { properties?: { environmentVariables?: { name: string; value?: string; secureValue?: string }[] } }[] } };
  return body.properties?.containers?.[0]?.properties?.environmentVariables ?? [];
}

/** Every access token the emulated Entra and instance metadata service issued. */
function issuedAccessTokens(emu: RunningEmulator): string[] {
  return emu.state.requestLog
    .filter((e) => (e.service === "entra" || e.service === "imds") && e.status === 200 && /token/.test(e.url))
    .flatMap((e) => {
      const token = (JSON.parse(e.responseBody) as { access_token?: unknown }).access_token;
      return typeof token === "string" ? [token] : [];
    });
}

function imdsTokenRequests(emu: RunningEmulator) {
  return emu.state.requestLog.filter((e) => e.service === "imds" && /\/metadata\/identity\/oauth2\/token/.test(e.url));
}

describe("integration: connections and registration modes", function () {
  this.timeout(180_000);
  const emulator = useEmulator();

  describe("ManagedServiceIdentity ARM connections", function () {
    it("start and stop with the agent machine's system-assigned identity", async function () {
      const emu = emulator();
      await startAndStop(emu, { scheme: "managedIdentity" });
      const requests = imdsTokenRequests(emu);
      assert.ok(requests.length > 0, "the instance metadata service was asked for a token");
      for (const entry of requests) {
        assert.equal(entry.status, 200);
        assert.ok(!/[?&](client_id|object_id|mi_res_id)=/.test(entry.url), `no user-assigned identity was chosen: ${entry.url}`);
      }
      assert.deepEqual(emu.state.requestLog.filter((e) => e.service === "entra"), [], "nothing went to Entra's token endpoint");
    });

    it("start and stop with a user-assigned identity named by the connection's msiclientId", async function () {
      const emu = emulator();
      const identity = agentMachineIdentities.userAssigned[0];
      assert.ok(identity !== undefined);
      await startAndStop(emu, { scheme: "managedIdentity", msiClientId: identity.clientId });
      const requests = imdsTokenRequests(emu);
      assert.ok(requests.length > 0);
      for (const entry of requests) assert.ok(entry.url.includes(`client_id=${identity.clientId}`), entry.url);
    });

    it("fails naming azureSubscription when the machine has no such user-assigned identity", async function () {
      const emu = emulator();
      const run = await runStart(emu, { scheme: "managedIdentity", msiClientId: "00000000-0000-4000-8000-0000000000ff" });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /^azureSubscription: .*Identity not found/);
      assert.deepEqual(groupNames(emu), []);
    });
  });

  it("a sovereign cloud (AzureUSGovernment) connection uses the authority and ARM URL its data names", async function () {
    const emu = emulator();
    await startAndStop(emu, { environment: "AzureUSGovernment" });
    const tokens = emu.state.requestLog.filter((e) => e.service === "entra" && /\/oauth2\/v2\.0\/token/.test(e.url));
    assert.ok(tokens.length > 0);
    for (const entry of tokens) assert.equal(new URLSearchParams(entry.requestBody).get("scope"), `${emu.info.armUrl}.default`);
  });

  describe("registration without a PAT", function () {
    const noToken = { omit: ["registrationToken"] };

    it("entraToken with a workload identity connection: start and stop succeed, and no PAT or client secret exists anywhere in the run", async function () {
      const emu = emulator();
      // Neither a PAT nor the client secret could work: the organization knows no PAT and the app no secret.
      emu.state.pats.clear();
      emu.state.clients.get(emu.info.clientId)?.secrets.clear();
      const options: StepOptions = { ...noToken, scheme: "workloadIdentity", inputs: { registrationAuth: "entraToken" } };
      const start = await runStart(emu, options);
      assertInvariants(emu, start);
      assert.equal(start.result, "Succeeded", `${start.message}\n${plainOutput(start)}`);
      const [name] = namesOf(start.step.buildId, 1);
      assert.ok(name !== undefined);
      // The step registered the agent with the identity's Entra token; its container got no credential.
      const environment = containerEnvironment(emu, name);
      assert.deepEqual(environment.filter((v) => v.secureValue !== undefined || /TOKEN|SECRET|AZP_AUTH/.test(v.name)), []);
      const tokens = issuedAccessTokens(emu);
      assert.ok(tokens.length > 0);
      const record = [...emu.state.containerGroups.values()].find((g) => g.name === name);
      assert.ok(record !== undefined && !tokens.some((token) => JSON.stringify(record.body).includes(token)), "an Entra token reached the container group");

      const stop = await runTaskStep(emu, "AciAgentStopV1", { ...options, buildId: start.step.buildId });
      assertInvariants(emu, stop);
      assert.equal(stop.result, "Succeeded", `${stop.message}\n${plainOutput(stop)}`);
      assert.deepEqual(groupNames(emu), []);
      assert.deepEqual(agentNamesInPool(emu), []);

      for (const entry of emu.state.requestLog) {
        for (const secret of [emu.info.pat, emu.info.clientSecret]) {
          assert.ok(!`${entry.url}\n${entry.requestBody}\n${entry.responseBody}`.includes(secret), `${entry.service} ${entry.method} ${entry.url} carried a PAT or client secret`);
        }
      }
      for (const record of emu.state.containerGroups.values()) {
        assert.ok(!JSON.stringify(record.body).includes(emu.info.pat) && !JSON.stringify(record.body).includes(emu.info.clientSecret));
      }
      for (const line of [...start.lines, ...stop.lines].filter((l) => !l.startsWith("##vso[task.setsecret]"))) {
        assert.ok(!tokens.some((token) => line.includes(token)), `a step printed an access token: ${line.slice(0, 200)}`);
      }
    });

    it("entraToken: pre-flight checks that the connection's identity may manage the pool, and creates nothing when it may not", async function () {
      const emu = emulator();
      emu.state.behaviour.poolManageDenied.push(emu.info.clientId);
      const run = await runStart(emu, { ...noToken, scheme: "workloadIdentity", inputs: { registrationAuth: "entraToken" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /(^|\n)registrationAuth: the identity of registrationAuth entraToken lacks the Administrator role/);
      assertNoWrites(emu);
    });

    it("entraToken with a managed identity connection: the identity's token from the instance metadata service", async function () {
      const emu = emulator();
      const options: StepOptions = { ...noToken, scheme: "managedIdentity", inputs: { registrationAuth: "entraToken" } };
      await startAndStop(emu, options);
      assert.ok(imdsTokenRequests(emu).some((e) => e.url.includes("resource=499b84ac-1321-427f-aa17-267ca6975798")), "a token for Azure DevOps came from IMDS");
    });

    it("serviceConnection: URL and token of an Azure Repos/Team Foundation Server connection; start and stop succeed", async function () {
      const emu = emulator();
      const options: StepOptions = {
        ...noToken,
        tfsConnection: { id: "7a1f0000-0000-4000-8000-0000000000e7", token: emu.info.pat },
        inputs: { registrationAuth: "serviceConnection", registrationConnection: "7a1f0000-0000-4000-8000-0000000000e7", organizationUrl: "https://dev.azure.com/elsewhere" },
      };
      await startAndStop(emu, options);
      const registrations = emu.state.requestLog.filter((e) => e.service === "devops" && e.method === "POST" && /\/agents$/.test(e.url.split("?")[0] ?? ""));
      assert.ok(registrations.length > 0 && registrations.every((e) => e.url.startsWith(`/${emu.info.organization}/`)), "the step registered the agent at the connection's URL");
    });
  });
});
