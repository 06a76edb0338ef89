// The emulator's knobs (control API: /faults, /delays, /behaviour, /reset), one test each, seen
// through the real SDKs or raw HTTPS the way the tasks would see them.
import { strict as assert } from "node:assert";
import { existsSync, rmSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  arm,
  armClient,
  armError,
  armToken,
  connectAgent,
  containerGroup,
  containerGroupWire,
  control,
  devops,
  eventually,
  fastPolling,
  groupPath,
  poolId,
  rawRequest,
  registerAgent,
  rejectionOf,
  requestLog,
  setBehaviour,
  setDelays,
  useEmulator,
  type AgentJson,
  type EmulatorInfo,
} from "../helpers/emulator";

async function addFault(info: EmulatorInfo, fault: Record<string, unknown>): Promise<void> {
  const res = await control(info, "POST", "/faults", fault);
  assert.equal(res.status, 201, res.text);
}

function capacityMessage(location: string): string {
  return (
    `The requested resource is not available in the location '${location}' at this moment. ` +
    "Please retry with a different resource request or in another location. " +
    "Resource requested: '1' CPU '1.5' GB memory 'Linux' OS"
  );
}

async function agentsNamed(info: EmulatorInfo, pool: number, name: string): Promise<AgentJson[]> {
  const res = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents?agentName=${encodeURIComponent(name)}`);
  assert.equal(res.status, 200, res.text);
  return (res.json as { value: AgentJson[] }).value;
}

describe("emulator knobs (faults, delays, behaviour)", function () {
  const emulator = useEmulator();

  describe("fault injection", function () {
    it("a 429 with Retry-After: 1 on two PUTs: the SDK retries and succeeds; the log shows three PUTs", async function () {
      const { info } = emulator();
      await addFault(info, {
        service: "arm",
        method: "PUT",
        path: "/containerGroups/cg-throttled$",
        status: 429,
        headers: { "Retry-After": "1" },
        body: { error: { code: "TooManyRequests", message: "The request is being throttled." } },
        count: 2,
      });
      const group = await armClient(info).containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-throttled", containerGroup(info), fastPolling);
      assert.equal(group.provisioningState, "Succeeded");
      const puts = (await requestLog(info)).filter((e) => e.service === "arm" && e.method === "PUT");
      assert.deepEqual(puts.map((e) => e.status), [429, 429, 201]);
      const state = (await control(info, "GET", "/state")).json as { faults: { remaining: number }[] };
      assert.deepEqual(state.faults.map((f) => f.remaining), [0]);
    });

    it("a 500 on one GET: the SDK retries and gets the group", async function () {
      const { info } = emulator();
      const client = armClient(info, { retryOptions: { retryDelayInMs: 20, maxRetryDelayInMs: 100 } });
      await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-flaky", containerGroup(info), fastPolling);
      await addFault(info, {
        service: "arm",
        method: "GET",
        path: "/containerGroups/cg-flaky$",
        status: 500,
        body: { error: { code: "InternalServerError", message: "Encountered internal server error." } },
        count: 1,
      });
      const before = (await requestLog(info)).length;
      const group = await client.containerGroups.get(info.resourceGroup, "cg-flaky");
      assert.equal(group.name, "cg-flaky");
      const gets = (await requestLog(info)).slice(before).filter((e) => e.method === "GET" && /containerGroups\/cg-flaky\?/.test(e.url));
      assert.deepEqual(gets.map((e) => e.status), [500, 200]);
    });

    it("a fault with an HTML body is served as text/html (raw), and the SDK surfaces its status", async function () {
      const { info } = emulator();
      const page = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>";
      await addFault(info, { service: "devops", method: "GET", path: "/_apis/distributedtask/pools$", status: 502, body: page, count: 1 });
      const res = await devops(info, "GET", "_apis/distributedtask/pools?poolName=aci");
      assert.equal(res.status, 502);
      assert.match(String(res.headers["content-type"]), /^text\/html/);
      assert.equal(res.text, page);
      assert.equal(res.json, undefined);
      // The fault is spent: the next call is served normally.
      assert.equal((await devops(info, "GET", "_apis/distributedtask/pools?poolName=aci")).status, 200);

      await addFault(info, { service: "arm", method: "GET", path: "/containerGroups/cg-html$", status: 502, body: page, count: 1 });
      const client = armClient(info, { retryOptions: { maxRetries: 0 } });
      const error = await rejectionOf(client.containerGroups.get(info.resourceGroup, "cg-html"));
      assert.equal(error.statusCode, 502);
    });

    it("skip lets that many matching requests through before the fault applies", async function () {
      const { info } = emulator();
      await addFault(info, { service: "devops", method: "GET", path: "/_apis/distributedtask/pools$", status: 503, count: 1, skip: 2 });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await devops(info, "GET", "_apis/distributedtask/pools?poolName=aci")).status);
      assert.deepEqual(statuses, [200, 200, 503, 200]);
    });
  });

  describe("latency and hang faults", function () {
    /** An ARM request with the well-known identity's token that gives up after `abortAfterMs`. */
    async function armWithin(info: EmulatorInfo, method: string, path: string, abortAfterMs: number, body?: unknown) {
      const headers = { Authorization: `Bearer ${await armToken(info)}` };
      return rawRequest(info, new URL(path, info.armUrl).toString(), { method, headers, body, signal: AbortSignal.timeout(abortAfterMs) });
    }

    it("ARM hang before: a GET never gets an answer (the client gives up), is logged with status 0, and the next GET is answered", async function () {
      const { info, state } = emulator();
      await armClient(info).containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-hung-get", containerGroup(info), fastPolling);
      await addFault(info, { service: "arm", method: "GET", path: "/containerGroups/cg-hung-get$", hang: true });
      const before = state.requestLog.length;
      const hung = await rejectionOf(armWithin(info, "GET", groupPath(info, "cg-hung-get"), 500));
      assert.equal(hung.name, "AbortError");
      const gets = state.requestLog.slice(before).filter((e) => e.method === "GET" && /cg-hung-get/.test(e.url));
      assert.deepEqual(gets.map((e) => e.status), [0]);
      assert.equal((await armWithin(info, "GET", groupPath(info, "cg-hung-get"), 5000)).status, 200);
    });

    it("ARM hang after: a PUT whose answer never comes still creates the group", async function () {
      const { info } = emulator();
      await addFault(info, { service: "arm", method: "PUT", path: "/containerGroups/cg-hung-put$", hang: "after" });
      const hung = await rejectionOf(armWithin(info, "PUT", groupPath(info, "cg-hung-put"), 500, containerGroupWire(info)));
      assert.equal(hung.name, "AbortError");
      const group = await armClient(info).containerGroups.get(info.resourceGroup, "cg-hung-put");
      assert.equal(group.name, "cg-hung-put");
    });

    it("ARM delay: a DELETE is answered by its route (202) only after delayMs", async function () {
      const { info, state } = emulator();
      await armClient(info).containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-late-delete", containerGroup(info), fastPolling);
      await addFault(info, { service: "arm", method: "DELETE", path: "/containerGroups/cg-late-delete$", delayMs: 700 });
      const started = Date.now();
      const res = await armWithin(info, "DELETE", groupPath(info, "cg-late-delete"), 10_000);
      assert.equal(res.status, 202);
      assert.ok(Date.now() - started >= 700, `answered after ${Date.now() - started} ms`);
      const [entry] = state.requestLog.filter((e) => e.method === "DELETE");
      assert.ok(entry !== undefined && Date.parse(entry.at) - Date.parse(entry.receivedAt) >= 690, "the log does not show the request held");
    });

    it("Entra hang: the token request never gets an answer; Entra delay with a status: a late 503", async function () {
      const { info } = emulator();
      const tokenUrl = `${info.authorityHost}/${info.tenantId}/oauth2/v2.0/token`;
      const form = new URLSearchParams({ client_id: info.clientId, client_secret: info.clientSecret, grant_type: "client_credentials", scope: `${info.armUrl}.default` }).toString();
      const post = (signal: AbortSignal) =>
        rawRequest(info, tokenUrl, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form, signal });
      await addFault(info, { service: "entra", method: "POST", path: "/oauth2/v2.0/token$", hang: true });
      assert.equal((await rejectionOf(post(AbortSignal.timeout(500)))).name, "AbortError");
      await addFault(info, { service: "entra", method: "POST", path: "/oauth2/v2.0/token$", delayMs: 500, status: 503 });
      const started = Date.now();
      assert.equal((await post(AbortSignal.timeout(10_000))).status, 503);
      assert.ok(Date.now() - started >= 500);
      assert.equal((await post(AbortSignal.timeout(10_000))).status, 200);
    });

    it("Azure DevOps hang and delay: the agents list never answers, then answers late", async function () {
      const { info } = emulator();
      const pool = await poolId(info);
      await addFault(info, { service: "devops", method: "GET", path: "/pools/\\d+/agents$", hang: true });
      const hung = await rejectionOf(devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents`, { signal: AbortSignal.timeout(500) }));
      assert.equal(hung.name, "AbortError");
      await addFault(info, { service: "devops", method: "GET", path: "/pools/\\d+/agents$", delayMs: 600 });
      const started = Date.now();
      const late = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents`);
      assert.equal(late.status, 200);
      assert.ok(Date.now() - started >= 600);
      const lists = (await requestLog(info)).filter((e) => e.service === "devops" && /\/agents\?/.test(e.url));
      assert.deepEqual(lists.map((e) => e.status), [0, 200]);
    });

    it("a reset closes the connections of hung requests; a fault needs status, delayMs or hang", async function () {
      const { info } = emulator();
      await addFault(info, { service: "arm", method: "GET", path: "/containerGroups/cg-never$", hang: true });
      const hung = rejectionOf(armWithin(info, "GET", groupPath(info, "cg-never"), 30_000));
      await eventually("the request to arrive", async () => ((await requestLog(info)).some((e) => e.status === 0) ? true : undefined));
      assert.equal((await control(info, "POST", "/reset")).status, 204);
      const closed = await hung;
      assert.match(closed.message, /socket hang up|ECONNRESET/);
      const refused = await control(info, "POST", "/faults", { path: "/containerGroups/", count: 1 });
      assert.equal(refused.status, 400);
    });
  });

  describe("ARM behaviour", function () {
    it("capacity failure (sync) in one location: PUT answers 409 ServiceUnavailable with the real message; other locations work", async function () {
      const { info } = emulator();
      await setBehaviour(info, { capacityFailures: { [info.location]: "sync" } });
      const client = armClient(info);
      const error = await rejectionOf(client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-full", containerGroup(info), fastPolling));
      assert.equal(error.statusCode, 409);
      assert.equal(error.code, "ServiceUnavailable");
      assert.equal(error.message, capacityMessage(info.location));
      const elsewhere = await client.containerGroups.beginCreateOrUpdateAndWait(
        info.resourceGroup,
        "cg-elsewhere",
        containerGroup(info, { location: "northeurope" }),
        fastPolling,
      );
      assert.equal(elsewhere.provisioningState, "Succeeded");
    });

    it("capacity failure (async): the PUT is accepted and the long-running operation fails with ServiceUnavailable", async function () {
      const { info } = emulator();
      await setBehaviour(info, { capacityFailures: { [info.location]: "async" } });
      const client = armClient(info);
      const error = await rejectionOf(client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-later", containerGroup(info), fastPolling));
      assert.match(error.message, /ServiceUnavailable/);
      assert.match(error.message, /not available in the location 'westeurope'/);
      const put = (await requestLog(info)).find((e) => e.method === "PUT");
      assert.equal(put?.status, 201);
      const group = await client.containerGroups.get(info.resourceGroup, "cg-later");
      assert.equal(group.provisioningState, "Failed");
    });

    it("an inaccessible image: the long-running operation fails with InaccessibleImage", async function () {
      const { info } = emulator();
      const image = "contoso.azurecr.io/private/agent:1";
      await setBehaviour(info, { inaccessibleImages: [image] });
      const client = armClient(info);
      const error = await rejectionOf(
        client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-noimage", containerGroup(info, { image }), fastPolling),
      );
      assert.match(error.message, /InaccessibleImage/);
      assert.match(error.message, new RegExp(`The image '${image.replace(/\./g, "\\.")}' in container group 'cg-noimage' is not accessible`));
      const group = await client.containerGroups.get(info.resourceGroup, "cg-noimage");
      assert.equal(group.provisioningState, "Failed");
    });

    it("slow delete: DELETE answers 202 + Azure-AsyncOperation, GET shows Deleting meanwhile, beginDeleteAndWait completes and the group is gone", async function () {
      const { info } = emulator();
      const client = armClient(info);
      await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-slow-a", containerGroup(info), fastPolling);
      await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-slow-b", containerGroup(info), fastPolling);
      await setDelays(info, { deleteMs: 1500 });

      const raw = await arm(info, "DELETE", groupPath(info, "cg-slow-a"));
      assert.equal(raw.status, 202);
      assert.match(String(raw.headers["azure-asyncoperation"]), /\/providers\/Microsoft\.ContainerInstance\/locations\/westeurope\/operations\/[0-9a-f-]{36}\?api-version=/);
      assert.equal((await client.containerGroups.get(info.resourceGroup, "cg-slow-a")).provisioningState, "Deleting");

      const poller = await client.containerGroups.beginDelete(info.resourceGroup, "cg-slow-b", fastPolling);
      assert.equal((await client.containerGroups.get(info.resourceGroup, "cg-slow-b")).provisioningState, "Deleting");
      await poller.pollUntilDone();
      assert.equal((await rejectionOf(client.containerGroups.get(info.resourceGroup, "cg-slow-b"))).statusCode, 404);
      const deletes = (await requestLog(info)).filter((e) => e.method === "DELETE");
      assert.deepEqual(deletes.map((e) => e.status), [202, 202]);
      await eventually("cg-slow-a to be gone", async () => {
        const res = await arm(info, "GET", groupPath(info, "cg-slow-a"));
        return res.status === 404 ? res : undefined;
      });
    });

    it("provision delay: right after the PUT the group is Pending, later Succeeded", async function () {
      const { info } = emulator();
      await setDelays(info, { provisionMs: 1500 });
      const client = armClient(info);
      const poller = await client.containerGroups.beginCreateOrUpdate(info.resourceGroup, "cg-delayed", containerGroup(info), fastPolling);
      const pending = await client.containerGroups.get(info.resourceGroup, "cg-delayed");
      assert.equal(pending.provisioningState, "Pending");
      assert.equal(pending.instanceView?.state, "Pending");
      const done = await poller.pollUntilDone();
      assert.equal(done.provisioningState, "Succeeded");
      assert.equal((await client.containerGroups.get(info.resourceGroup, "cg-delayed")).instanceView?.state, "Running");
    });

    it("strict mode rejects restartPolicy 'Sometimes' (400); with strict off the same PUT is accepted", async function () {
      const { info } = emulator();
      const body = containerGroupWire(info);
      (body.properties as Record<string, unknown>).restartPolicy = "Sometimes";
      const strict = await arm(info, "PUT", groupPath(info, "cg-lax"), { body });
      assert.equal(strict.status, 400, strict.text);
      assert.match(armError(strict.json).message ?? "", /Sometimes/);
      await setBehaviour(info, { strict: false });
      const lax = await arm(info, "PUT", groupPath(info, "cg-lax"), { body });
      assert.equal(lax.status, 201, lax.text);
    });

    it("a ContainerGroups quota of 1: the second PUT in the location is refused with 400 ContainerGroupQuotaReached", async function () {
      const { info } = emulator();
      await setBehaviour(info, { defaultQuota: { ContainerGroups: 1 } });
      const first = await arm(info, "PUT", groupPath(info, "cg-quota-1"), { body: containerGroupWire(info) });
      assert.equal(first.status, 201);
      const second = await arm(info, "PUT", groupPath(info, "cg-quota-2"), { body: containerGroupWire(info) });
      assert.equal(second.status, 400);
      assert.equal(armError(second.json).code, "ContainerGroupQuotaReached");
      assert.equal(
        armError(second.json).message,
        "Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota 'ContainerGroups' exceeded in region 'westeurope'. Limit: '1', Usage: '1' Requested: '1'.",
      );
      // Updating the existing group is not a new group.
      const update = await arm(info, "PUT", groupPath(info, "cg-quota-1"), { body: containerGroupWire(info) });
      assert.equal(update.status, 200);
    });
  });

  describe("reset", function () {
    it("reset clears container groups, faults, delays and behaviour", async function () {
      const { info } = emulator();
      const client = armClient(info);
      await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-before-reset", containerGroup(info), fastPolling);
      await addFault(info, { service: "devops", path: "/_apis/distributedtask/pools$", status: 500, count: 5 });
      await setDelays(info, { provisionMs: 5000 });
      await setBehaviour(info, { strict: false, defaultQuota: { ContainerGroups: 0 } });
      assert.equal((await control(info, "POST", "/reset")).status, 204);

      const state = (await control(info, "GET", "/state")).json as { containerGroups: unknown[]; faults: unknown[]; delays: Record<string, number> };
      assert.deepEqual(state.containerGroups, []);
      assert.deepEqual(state.faults, []);
      assert.equal(state.delays.provisionMs, 0);
      assert.equal((await rejectionOf(client.containerGroups.get(info.resourceGroup, "cg-before-reset"))).statusCode, 404);
      assert.equal((await devops(info, "GET", "_apis/distributedtask/pools?poolName=aci")).status, 200);
      const created = await arm(info, "PUT", groupPath(info, "cg-after-reset"), { body: containerGroupWire(info) });
      assert.equal(created.status, 201, "the default ContainerGroups quota should be back");
    });

    it("reset stops a group that is still provisioning: its container never starts afterwards", async function () {
      const { info } = emulator();
      const marker = join(tmpdir(), `aci-emulator-reset-${randomUUID()}`);
      try {
        await setDelays(info, { provisionMs: 300 });
        const res = await arm(info, "PUT", groupPath(info, "cg-orphan"), {
          body: containerGroupWire(info, { command: ["/bin/sh", "-c", `touch '${marker}'; sleep 600`] }),
        });
        assert.equal(res.status, 201);
        assert.equal((await control(info, "POST", "/reset")).status, 204);
        // Well past the provisioning delay of the group that no longer exists.
        await sleep(1500);
        assert.ok(!existsSync(marker), "a container of a group removed by /reset was started afterwards (an orphaned process)");
      } finally {
        rmSync(marker, { force: true });
      }
    });
  });

  describe("Azure DevOps behaviour", function () {
    it("an agent with a session is online; with agentsNeverOnline it stays offline", async function () {
      const { info } = emulator();
      const pool = await poolId(info);
      await setBehaviour(info, { agentsNeverOnline: ["aci-stuck-"] });
      const good = await registerAgent(info, pool, { name: "aci-good-1" });
      const stuck = await registerAgent(info, pool, { name: "aci-stuck-1" });
      assert.equal((await agentsNamed(info, pool, "aci-good-1"))[0]?.status, "offline", "registered but not connected");

      await connectAgent(info, pool, good.agent, good.key);
      const stuckSession = await connectAgent(info, pool, stuck.agent, stuck.key);
      assert.equal(typeof stuckSession.sessionId, "string");
      assert.equal((await agentsNamed(info, pool, "aci-good-1"))[0]?.status, "online");
      assert.equal((await agentsNamed(info, pool, "aci-stuck-1"))[0]?.status, "offline");
    });

    it("busy delete: two 400s 'is running a job', then 204", async function () {
      const { info } = emulator();
      const pool = await poolId(info);
      const { agent } = await registerAgent(info, pool, { name: "aci-busy-1" });
      await setBehaviour(info, { busyDeletes: { "aci-busy-1": 2 } });
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const res = await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`);
        statuses.push(res.status);
        if (attempt < 2) assert.match((res.json as { message: string }).message, /is running a job/);
      }
      assert.deepEqual(statuses, [400, 400, 204]);
      assert.deepEqual(await agentsNamed(info, pool, "aci-busy-1"), []);
    });

    it("poolManageDenied ['pat']: registering or deleting with the PAT is 403 AccessDeniedException in the real error shape", async function () {
      const { info } = emulator();
      const pool = await poolId(info);
      const { agent } = await registerAgent(info, pool, { name: "aci-denied-1" });
      await setBehaviour(info, { poolManageDenied: ["pat"] });
      const add = await rejectionOf(registerAgent(info, pool, { name: "aci-denied-2" }));
      assert.match(add.message, /answered 403/);
      const res = await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`);
      assert.equal(res.status, 403);
      assert.match(String(res.headers["content-type"]), /^application\/json/);
      const body = res.json as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ["$id", "errorCode", "eventId", "innerException", "message", "typeKey", "typeName"]);
      assert.equal(body.$id, "1");
      assert.equal(body.innerException, null);
      assert.equal(body.typeKey, "AccessDeniedException");
      assert.equal(body.typeName, "Microsoft.TeamFoundation.DistributedTask.WebApi.AccessDeniedException, Microsoft.TeamFoundation.DistributedTask.WebApi");
      assert.equal(body.errorCode, 0);
      assert.equal(body.eventId, 3000);
      assert.match(String(body.message), /^Access denied\. .+ needs Manage permissions .*to perform the action\. For more information, contact the Azure DevOps Server administrator\.$/);
      // The job's access token is not denied.
      const withToken = await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`, { auth: "bearer" });
      assert.equal(withToken.status, 204);
    });

    it("agentPackageHash overrides the hash the packages metadata advertises", async function () {
      const { info } = emulator();
      const path = "_apis/distributedtask/packages/agent?platform=linux-x64&top=1";
      const real = ((await devops(info, "GET", path)).json as { value: { hashValue: string }[] }).value[0]?.hashValue;
      const corrupted = "0".repeat(64);
      await setBehaviour(info, { agentPackageHash: corrupted });
      const res = await devops(info, "GET", path);
      assert.equal(res.status, 200);
      const advertised = (res.json as { value: { hashValue: string }[] }).value[0]?.hashValue;
      assert.equal(advertised, corrupted);
      assert.notEqual(real, corrupted);
      assert.match(real ?? "", /^[0-9a-f]{64}$/);
    });
  });
});
