// Integration: the bundled AciAgentStart@1 (tasks/AciAgentStartV1/dist/main.js) runs as a child
// process, with the environment an Azure Pipelines agent gives it, against the emulated Entra,
// ARM and Azure DevOps. Every test also checks that no secret leaked and that a failed step left
// nothing behind.
import { strict as assert } from "node:assert";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import forge from "node-forge";
import { certificateThumbprints } from "../../emulator/tokens";
import type { RequestLogEntry } from "../../emulator/state";
import {
  agentNamesInPool,
  assertInvariants,
  assertNoWrites,
  groupNames,
  groupsNotBeingDeleted,
  namesOf,
  plainOutput,
  runStart,
  startStep,
  until,
  useEmulator,
  type RunningEmulator,
} from "./helpers";

const defaultImage = "mcr.microsoft.com/dotnet/runtime-deps:8.0";

interface WireEnvironmentVariable {
  name: string;
  value?: string;
  secureValue?: string;
}

interface WireGroup {
  location?: string;
  tags?: Record<string, string>;
  properties?: { containers?: { name: string; properties?: { environmentVariables?: WireEnvironmentVariable[] } }[] };
}

function wire(emu: RunningEmulator, name: string): WireGroup {
  const record = [...emu.state.containerGroups.values()].find((g) => g.name === name);
  assert.ok(record !== undefined, `no container group ${name}`);
  const body: WireGroup = record.body;
  return body;
}

function environmentOf(group: WireGroup): WireEnvironmentVariable[] {
  const container = group.properties?.containers?.[0];
  assert.ok(container !== undefined, "the group has no container");
  return container.properties?.environmentVariables ?? [];
}

function armPuts(emu: RunningEmulator): RequestLogEntry[] {
  return emu.state.requestLog.filter((e) => e.service === "arm" && e.method === "PUT" && /\/containerGroups\//i.test(e.url));
}

function putLocation(entry: RequestLogEntry): string | undefined {
  return (JSON.parse(entry.requestBody) as { location?: string }).location;
}

/** A self-signed certificate with its PKCS#8 key, as an Azure DevOps certificate connection holds it. */
function certificateWithKey(): string {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
  const subject = [{ name: "commonName", value: "aci-agents-integration-test" }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return `${forge.pki.certificateToPem(cert)}${privateKey}`;
}

describe("integration: AciAgentStart@1 bundle against the emulator", function () {
  this.timeout(120_000);
  const emulator = useEmulator();

  describe("success", function () {
    it("starts 3 agents: outputs, tags, registered by the step with user capabilities, no credential in any container, online agents, summary, and a job with the run's demand runs on one", async function () {
      const emu = emulator();
      const run = await runStart(emu, { inputs: { agentCount: "3", timeoutMinutes: "5" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
      assert.equal(run.exitCode, 0);

      const { buildId } = run.step;
      const names = namesOf(buildId, 3);
      assert.equal(run.outputs.agentNames, names.join(","));
      assert.equal(run.outputs.containerGroupNames, names.join(","));
      assert.equal(run.outputs.runId, buildId);
      assert.equal(run.outputs.demand, `ACI_FLEET -equals azp-${buildId}`);

      assert.deepEqual(groupNames(emu), [...names].sort());
      for (const name of names) {
        const group = wire(emu, name);
        const tags = group.tags ?? {};
        const runTag = tags["aci-agents-run"] ?? "";
        assert.ok(runTag.includes("emulator"), `aci-agents-run names the organization: ${runTag}`);
        assert.ok(runTag.includes(emu.info.projectId), `aci-agents-run names the project: ${runTag}`);
        assert.ok(runTag.endsWith(`/${buildId}`), `aci-agents-run ends with the run id: ${runTag}`);
        assert.equal(tags["aci-agents-fleet"], `azp-${buildId}`);
        assert.equal(tags["aci-agents-pool"], emu.info.pool);
        assert.equal(tags["aci-agents-agent"], name);
        const created = Date.parse(tags["aci-agents-created"] ?? "");
        const expires = Date.parse(tags["aci-agents-expires"] ?? "");
        assert.match(tags["aci-agents-created"] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        assert.match(tags["aci-agents-expires"] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        assert.equal(expires - created, 120 * 60_000, "expires = created + maxLifetimeMinutes (default 120)");

        const env = environmentOf(group);
        const runIdVariable = env.filter((v) => v.name === "ACI_RUN_ID");
        assert.deepEqual(runIdVariable, [{ name: "ACI_RUN_ID", value: buildId }]);
        assert.deepEqual(env.filter((v) => v.name === "ACI_FLEET"), [{ name: "ACI_FLEET", value: `azp-${buildId}` }]);
        assert.deepEqual(env.filter((v) => v.secureValue !== undefined), [], "a secure value (a credential) reached the container");
        assert.ok(!JSON.stringify(group).includes(emu.info.pat), "the container group holds the PAT");
        assert.equal(env.find((v) => v.name === "AZP_IDENTITY_DIR")?.value, "/mnt/aci-agent-identity");
      }
      // Nothing registered from a container: every registration came from the step (the PAT's caller).
      const registrations = emu.state.requestLog.filter((e) => e.service === "devops" && e.method === "POST" && /\/agents$/.test(e.url.split("?")[0] ?? ""));
      assert.equal(registrations.length, 3);
      assert.ok(registrations.every((e) => e.userAgent.startsWith("aci-build-agents")), registrations.map((e) => e.userAgent).join(", "));

      const pool = emu.state.poolByName(emu.info.pool);
      assert.ok(pool !== undefined);
      const agentIds = new Map<number, string>();
      for (const name of names) {
        const agent = emu.state.agentByName(pool.id, name);
        assert.ok(agent !== undefined, `${name} is registered in the pool`);
        assert.ok(agent.sessionId !== undefined, `${name} is online (holds a session)`);
        assert.deepEqual(agent.userCapabilities, { ACI_RUN_ID: buildId, ACI_FLEET: `azp-${buildId}` }, `${name}'s pinning values are user capabilities`);
        agentIds.set(agent.id, name);
      }

      const summaryLine = run.lines.find((l) => l.startsWith("##vso[task.uploadsummary]"));
      assert.ok(summaryLine !== undefined, "a summary was uploaded");
      const summaryPath = summaryLine.slice("##vso[task.uploadsummary]".length).trim();
      assert.ok(existsSync(summaryPath), `the summary file ${summaryPath} exists`);
      const summary = readFileSync(summaryPath, "utf8");
      for (const name of names) assert.ok(summary.includes(name), `the summary mentions ${name}`);

      const requestId = emu.state.newId();
      emu.state.jobRequests.set(requestId, {
        requestId,
        poolId: pool.id,
        demands: [`ACI_RUN_ID -equals ${buildId}`],
        jobName: "build",
        script: "echo building",
        queueTime: new Date().toISOString(),
      });
      await until("the job to finish", () => emu.state.jobRequests.get(requestId)?.result !== undefined);
      const job = emu.state.jobRequests.get(requestId);
      assert.equal(job?.result, "succeeded");
      assert.ok(job.assignedAgentId !== undefined, "the job was assigned to an agent");
      assert.ok(agentIds.has(job.assignedAgentId), `the job ran on agent ${job.assignedAgentId}, not on one of this run's agents`);
      assertInvariants(emu, run);
    });

    it("authenticates with workload identity federation through the pipeline's OIDC route", async function () {
      const emu = emulator();
      const run = await runStart(emu, { scheme: "workloadIdentity" });
      assertInvariants(emu, run);
      assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
      const oidc = emu.state.requestLog.filter((e) => e.service === "devops" && e.method === "POST" && /\/oidctoken/i.test(e.url));
      assert.ok(oidc.length > 0, "the OIDC token route was called");
      assert.ok(oidc.every((e) => e.status === 200), `OIDC answers: ${oidc.map((e) => e.status).join(",")}`);
      const tokens = emu.state.requestLog.filter((e) => e.service === "entra" && /\/oauth2\/v2\.0\/token/.test(e.url));
      assert.ok(tokens.length > 0, "Entra issued a token");
      for (const entry of tokens) {
        const form = new URLSearchParams(entry.requestBody);
        assert.equal(form.get("client_secret"), null, "no client secret with workload identity");
        assert.equal(form.get("client_assertion_type"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        assert.equal(entry.status, 200);
      }
      assert.deepEqual(groupNames(emu), namesOf(run.step.buildId, 1));
    });

    it("authenticates with a service principal certificate", async function () {
      const emu = emulator();
      const pem = certificateWithKey();
      const client = emu.state.clients.get(emu.info.clientId);
      assert.ok(client !== undefined);
      for (const thumbprint of certificateThumbprints(pem)) client.certificates.set(thumbprint, pem);
      // Only the certificate can work: the connection has no secret, and the client's secret is revoked.
      client.secrets.clear();
      const run = await runStart(emu, { scheme: "certificate", certificatePem: pem });
      assertInvariants(emu, run);
      assert.equal(
        run.result,
        "Succeeded",
        `${run.message}\n(An intermittent AADSTS700027 here is an emulator bug: emulator/tokens.ts verifyCertificateAssertion ` +
          "verifies the assertion without clockTolerance, while MSAL sets nbf to Math.round(now) and so up to 0.5 s in the future.)",
      );
      const tokens = emu.state.requestLog.filter((e) => e.service === "entra" && /\/oauth2\/v2\.0\/token/.test(e.url));
      assert.ok(tokens.length > 0, "Entra issued a token");
      for (const entry of tokens) {
        const form = new URLSearchParams(entry.requestBody);
        assert.ok(form.get("client_assertion") !== null, "a signed client assertion was sent");
        assert.equal(entry.status, 200);
      }
      assert.deepEqual(groupNames(emu), namesOf(run.step.buildId, 1));
    });

    it("falls back to the next region when ACI has no capacity (synchronous 409)", async function () {
      const emu = emulator();
      emu.state.behaviour.capacityFailures.set("westeurope", "sync");
      const run = await runStart(emu, { inputs: { agentCount: "2", fallbackLocations: "northeurope" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
      const names = namesOf(run.step.buildId, 2);
      assert.deepEqual(groupNames(emu), names);
      for (const name of names) assert.equal(wire(emu, name).location, "northeurope");
      const puts = armPuts(emu);
      assert.ok(puts.some((p) => putLocation(p) === "westeurope" && p.status === 409), "westeurope was tried first and refused");
      assert.ok(run.lines.some((l) => /no capacity in westeurope/i.test(l)), "the step said why it moved on");
    });

    it("falls back to the next region when the create operation fails for capacity (asynchronous)", async function () {
      const emu = emulator();
      emu.state.behaviour.capacityFailures.set("westeurope", "async");
      const run = await runStart(emu, { inputs: { fallbackLocations: "northeurope" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
      const [name = ""] = namesOf(run.step.buildId, 1);
      assert.deepEqual(groupNames(emu), [name]);
      assert.equal(wire(emu, name).location, "northeurope");
      const locations = armPuts(emu).map(putLocation);
      assert.deepEqual(locations, ["westeurope", "northeurope"]);
    });

    it("deletes the group that failed for capacity before creating it again in the next region", async function () {
      const emu = emulator();
      emu.state.behaviour.capacityFailures.set("westeurope", "async");
      const run = await runStart(emu, { inputs: { fallbackLocations: "northeurope" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
      // ARM refuses to move an existing resource to another region, so the failed westeurope
      // group must be gone before the northeurope PUT of the same name.
      const writes = emu.state.requestLog
        .filter((e) => e.service === "arm" && (e.method === "PUT" || e.method === "DELETE") && /\/containerGroups\//i.test(e.url))
        .map((e) => (e.method === "PUT" ? `PUT ${putLocation(e) ?? "?"}` : "DELETE"));
      assert.deepEqual(writes, ["PUT westeurope", "DELETE", "PUT northeurope"]);
    });

    it("retries a create answered 429 with Retry-After", async function () {
      const emu = emulator();
      emu.state.faults.push({
        id: "throttle",
        service: "arm",
        method: "PUT",
        path: "/containerGroups/",
        status: 429,
        headers: { "Retry-After": "1" },
        body: { error: { code: "TooManyRequests", message: "The request is being throttled." } },
        remaining: 2,
      });
      const run = await runStart(emu);
      assertInvariants(emu, run);
      assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
      assert.deepEqual(
        armPuts(emu).map((p) => p.status),
        [429, 429, 201],
      );
      assert.equal(emu.state.faults[0]?.remaining, 0);
      assert.deepEqual(groupNames(emu), namesOf(run.step.buildId, 1));
    });

    it("dry run writes the ARM template and creates nothing", async function () {
      const emu = emulator();
      const run = await runStart(emu, { inputs: { dryRun: "true", agentCount: "2" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
      const path = run.outputs.armTemplatePath;
      assert.ok(path !== undefined && existsSync(path), `armTemplatePath ${String(path)} exists`);
      const text = readFileSync(path, "utf8");
      const template = JSON.parse(text) as { resources?: { type?: string; name?: string }[]; parameters?: Record<string, unknown> };
      const groups = (template.resources ?? []).filter((r) => r.type === "Microsoft.ContainerInstance/containerGroups");
      assert.deepEqual(
        groups.map((g) => g.name),
        namesOf(run.step.buildId, 2),
      );
      for (const secret of run.step.secrets) assert.ok(!text.includes(secret), "the template holds a secret");
      assert.deepEqual(
        emu.state.requestLog.filter((e) => e.service === "arm").map((e) => `${e.method} ${e.url}`),
        [],
        "a dry run sends nothing to ARM",
      );
      assertNoWrites(emu);
      assert.deepEqual(groupNames(emu), []);
    });
  });

  describe("cancel", function () {
    const cancels: { title: string; arrange: (emu: RunningEmulator) => void; waitFor: string; present: (emu: RunningEmulator) => string[] }[] = [
      {
        title: "on SIGINT while the groups are provisioning, exits and removes every group",
        arrange: (emu) => {
          // Long enough to cancel in; short, because the emulator's provisioning timer outlives the test.
          emu.state.delays.provisionMs = 20_000;
        },
        waitFor: "both groups to be accepted",
        present: groupNames,
      },
      {
        title: "on SIGINT after the agents registered but before they are online, removes groups and registrations",
        arrange: (emu) => {
          emu.state.behaviour.agentsNeverOnline.push("azp-");
        },
        waitFor: "both agents to register",
        present: agentNamesInPool,
      },
    ];

    for (const { title, arrange, waitFor, present } of cancels) {
      it(title, async function () {
        const emu = emulator();
        arrange(emu);
        const step = startStep(emu, { inputs: { agentCount: "2" } });
        const names = namesOf(step.buildId, 2);
        await until(waitFor, () => names.every((n) => present(emu).includes(n)));
        step.running.signal("SIGINT");
        const run = { ...(await step.running.done), step };
        assertInvariants(emu, run);
        assert.equal(run.result, "Failed", plainOutput(run));
        assert.match(run.message, /cancel/i, plainOutput(run));
        assert.deepEqual(groupsNotBeingDeleted(emu), []);
        assert.deepEqual(agentNamesInPool(emu), []);
      });
    }
  });

  describe("failure", function () {
    it("fails with a clear message when the image cannot be pulled, and leaves no group", async function () {
      const emu = emulator();
      // Pulling takes a moment, as in ACI: the create is accepted and its operation fails later.
      emu.state.delays.pullMs = 1500;
      emu.state.behaviour.inaccessibleImages.add(defaultImage);
      const run = await runStart(emu, { inputs: { agentCount: "2" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /InaccessibleImage|not accessible/i);
      assert.ok(run.message.includes(defaultImage), `the message names the image: ${run.message}`);
      assert.match(run.message, /was removed \(2 container group\(s\), 2 agent registration\(s\)\)/);
      assert.equal(armPuts(emu).length, 2, "the step did create both groups");
    });

    it("leaves no group when the create operation has already failed at the first poll", async function () {
      const emu = emulator();
      // No capacity, found out during provisioning (the PUT is accepted) and at once: the SDK's
      // own first poll inside beginCreateOrUpdate already sees the operation Failed.
      emu.state.behaviour.capacityFailures.set("westeurope", "async");
      const run = await runStart(emu, { inputs: { agentCount: "2" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /not available in the location 'westeurope'|ServiceUnavailable/);
      // The first failure ends the start: the other agent may not have been registered or created yet.
      const created = armPuts(emu).filter((p) => p.status === 201).length;
      const registered = emu.state.requestLog.filter((e) => e.service === "devops" && e.method === "POST" && /\/agents$/.test(e.url.split("?")[0] ?? "") && e.status === 200).length;
      assert.ok(created >= 1, "no create was accepted");
      assert.ok(run.message.includes(`was removed (${created} container group(s), ${registered} agent registration(s))`), `the message miscounts what was removed: ${run.message}`);
    });

    it("keepOnFailure names the kept groups when the create operation has already failed at the first poll", async function () {
      const emu = emulator();
      emu.state.behaviour.capacityFailures.set("westeurope", "async");
      const run = await runStart(emu, { inputs: { agentCount: "2", keepOnFailure: "true" } });
      assertInvariants(emu, run, { keepOnFailure: true });
      assert.equal(run.result, "Failed");
      // Every group that was made is kept (the first failure may end the start before the second is made).
      const kept = groupNames(emu);
      assert.ok(kept.length >= 1 && kept.every((name) => namesOf(run.step.buildId, 2).includes(name)), `the groups were kept: ${kept.join(", ")}`);
      for (const name of kept) assert.ok(run.message.includes(name), `the message names the kept group ${name}: ${run.message}`);
    });

    it("keepOnFailure keeps the failed groups and names them", async function () {
      const emu = emulator();
      emu.state.delays.pullMs = 1500;
      emu.state.behaviour.inaccessibleImages.add(defaultImage);
      const run = await runStart(emu, { inputs: { agentCount: "2", keepOnFailure: "true" } });
      assertInvariants(emu, run, { keepOnFailure: true });
      assert.equal(run.result, "Failed");
      assert.match(run.message, /keepOnFailure/);
      const names = namesOf(run.step.buildId, 2);
      assert.deepEqual(groupNames(emu), names);
      for (const name of names) assert.ok(run.message.includes(name), `the message names the kept group ${name}: ${run.message}`);
      assert.ok(
        emu.state.requestLog.every((e) => !(e.method === "DELETE")),
        "nothing was deleted (no group, no agent registration)",
      );
    });

    it("fails fast, shows the log and removes everything when the container exits before its agent is online", async function () {
      const emu = emulator();
      const run = await runStart(emu, { inputs: { startupScript: "echo installing tools; exit 3" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /exited with code \d+ before the agent came online/);
      assert.ok(run.lines.some((l) => l.includes("installing tools")), "the container's log was shown");
      assert.ok(
        emu.state.requestLog.some((e) => e.service === "arm" && e.method === "DELETE"),
        "the group was deleted",
      );
    });

    it("12 agents whose containers exit early: shows their logs and removes everything, without a Node warning (runTaskStep checks)", async function () {
      const emu = emulator();
      const run = await runStart(emu, { inputs: { agentCount: "12", startupScript: "echo installing tools; exit 3" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /exited with code \d+ before the agent came online/);
      assert.ok(run.lines.filter((l) => /^----- azp-.*: last \d+ lines of the container log -----$/.test(l)).length >= 2, plainOutput(run));
    });

    it("fails naming the credential problem before creating anything when the PAT is wrong", async function () {
      const emu = emulator();
      const run = await runStart(emu, { inputs: { registrationToken: "not-the-right-pat-0123456789abcdefghij" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /credential|token/i);
      assert.ok(
        emu.state.requestLog.some((e) => e.service === "devops" && e.status === 203),
        "Azure DevOps answered with its sign-in page",
      );
      assertNoWrites(emu);
    });

    it("names the registrationToken input when the PAT is wrong", async function () {
      const emu = emulator();
      const run = await runStart(emu, { inputs: { registrationToken: "not-the-right-pat-0123456789abcdefghij" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /registrationToken/, `the message does not name the input: ${run.message}`);
      assertNoWrites(emu);
    });

    it("fails naming registrationAuth before creating anything when its identity may not manage the pool", async function () {
      const emu = emulator();
      emu.state.behaviour.poolManageDenied.push("pat");
      const run = await runStart(emu);
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /(^|\n)registrationAuth: the identity of registrationAuth pat lacks the Administrator role \(Manage\)/);
      assert.ok(run.message.includes(emu.info.pool));
      assertNoWrites(emu);
    });

    it("fails naming namePrefix, and leaves the other step's groups alone, when its names are taken", async function () {
      const emu = emulator();
      const first = await runStart(emu, { buildId: "7777", inputs: { agentCount: "2" } });
      assert.equal(first.result, "Succeeded", first.message);
      const before = emu.state.requestLog.length;

      const second = await runStart(emu, { buildId: "7777", inputs: { agentCount: "3" } });

      assertInvariants(emu, second, { keepOnFailure: true });
      assert.equal(second.result, "Failed");
      assert.match(second.message, /(^|\n)namePrefix: azp-7777-1-1, azp-7777-1-2 already exist/);
      assert.deepEqual(groupNames(emu), namesOf("7777", 2));
      assert.deepEqual(
        emu.state.requestLog.slice(before).filter((r) => r.method !== "GET" && !r.url.includes("oauth2")).map((r) => `${r.method} ${r.url}`),
        [],
      );
    });

    it("fails naming resourceGroup before creating anything when the resource group does not exist", async function () {
      const emu = emulator();
      const run = await runStart(emu, { inputs: { resourceGroup: "no-such-group" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /(^|\n)resourceGroup: /);
      assert.ok(run.message.includes("no-such-group"));
      assertNoWrites(emu);
    });

    it("fails naming location and fallbackLocations before creating anything when ACI does not offer those regions", async function () {
      const emu = emulator();
      const run = await runStart(emu, { inputs: { location: "mars", fallbackLocations: "northeurope, westeurop" } });
      assertInvariants(emu, run);
      assert.equal(run.result, "Failed");
      assert.match(run.message, /(^|\n)location: 'mars' is not a region/);
      assert.match(run.message, /(^|\n)fallbackLocations: 'westeurop' is not a region/);
      assertNoWrites(emu);
    });
  });

});
