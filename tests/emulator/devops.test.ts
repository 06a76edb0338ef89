// The emulated Azure DevOps organization: distributedtask pools and agents (7.1), the ways a
// caller authenticates (PAT, System.AccessToken, Entra token), the agent package, and job
// delivery to agents through their sessions.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import {
  agentKey,
  agentRegistration,
  azureDevOpsResource,
  connectAgent,
  control,
  devops,
  messageBody,
  poolId,
  rawRequest,
  registerAgent,
  secretCredential,
  sessionKey,
  setUserCapabilities,
  useEmulator,
  type AgentJson,
  type EmulatorInfo,
  type PoolJson,
} from "../helpers/emulator";

interface DevOpsErrorBody {
  $id: string;
  innerException: null;
  message: string;
  typeName: string;
  typeKey: string;
  errorCode: number;
  eventId: number;
}

async function agentsNamed(info: EmulatorInfo, pool: number, name: string, query = ""): Promise<{ count: number; value: AgentJson[] }> {
  const res = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents?agentName=${encodeURIComponent(name)}${query}`);
  assert.equal(res.status, 200, res.text);
  return res.json as { count: number; value: AgentJson[] };
}

describe("emulated Azure DevOps (distributedtask 7.1)", function () {
  const emulator = useEmulator();

  describe("pools and agents", function () {
    it("GET pools?poolName finds the pool by name (case-insensitively) and nothing for an unknown name", async function () {
      const { info } = emulator();
      const res = await devops(info, "GET", "_apis/distributedtask/pools?poolName=ACI");
      assert.equal(res.status, 200);
      const body = res.json as { count: number; value: PoolJson[] };
      assert.equal(body.count, 1);
      const pool = body.value[0];
      assert.equal(pool?.name, info.pool);
      assert.equal(typeof pool.id, "number");
      assert.equal(pool.isHosted, false);
      assert.equal(pool.poolType, "automation");
      assert.equal(pool.size, 0);

      const none = await devops(info, "GET", "_apis/distributedtask/pools?poolName=no-such-pool");
      assert.deepEqual(none.json, { count: 0, value: [] });

      assert.equal((await control(info, "POST", "/pools", { name: "second" })).status, 201);
      const second = (await devops(info, "GET", "_apis/distributedtask/pools?poolName=second")).json as { value: PoolJson[] };
      assert.equal(second.value[0]?.name, "second");
      assert.notEqual(second.value[0].id, pool.id);
    });

    it("GET agents?agentName finds the agent; capabilities only with includeCapabilities=true", async function () {
      const { info } = emulator();
      const pool = await poolId(info);
      const { agent } = await registerAgent(info, pool, {
        name: "aci-caps-1",
        systemCapabilities: { "Agent.OS": "Linux", docker: "true" },
        userCapabilities: { ignored: "POST does not set user capabilities" },
      });
      assert.equal((await setUserCapabilities(info, pool, agent.id, { team: "platform" })).status, 200);
      await registerAgent(info, pool, { name: "aci-caps-2" });

      const plain = await agentsNamed(info, pool, "aci-caps-1");
      assert.equal(plain.count, 1);
      assert.equal(plain.value[0]?.id, agent.id);
      assert.equal(plain.value[0].status, "offline");
      assert.equal(plain.value[0].systemCapabilities, undefined);
      assert.equal(plain.value[0].userCapabilities, undefined);

      const withCaps = await agentsNamed(info, pool, "aci-caps-1", "&includeCapabilities=true");
      assert.deepEqual(withCaps.value[0]?.systemCapabilities, { "Agent.OS": "Linux", docker: "true" });
      assert.deepEqual(withCaps.value[0].userCapabilities, { team: "platform" });

      const all = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents`);
      assert.equal((all.json as { count: number }).count, 2);
      assert.deepEqual(await agentsNamed(info, pool, "aci-caps-3"), { count: 0, value: [] });
      const poolAfter = ((await devops(info, "GET", `_apis/distributedtask/pools?poolName=${info.pool}`)).json as { value: PoolJson[] }).value[0];
      assert.equal(poolAfter?.size, 2);
    });

    it("POST registers an agent, PUT replaces it (same id, new key and capabilities), DELETE removes it", async function () {
      const { info } = emulator();
      const pool = await poolId(info);
      const first = agentKey();
      const created = await devops(info, "POST", `_apis/distributedtask/pools/${pool}/agents`, {
        body: agentRegistration("aci-replace-1", first, { systemCapabilities: { generation: "1" } }),
      });
      assert.equal(created.status, 200, created.text);
      const agent = created.json as AgentJson;
      assert.equal(agent.name, "aci-replace-1");
      assert.equal(agent.enabled, true);
      assert.deepEqual(agent.authorization?.publicKey, first.publicKey);
      assert.equal(agent.authorization.authorizationUrl, `${info.organizationUrl}_apis/oauth2/token`);
      assert.equal(typeof agent.authorization.clientId, "string");

      const second = agentKey();
      const replaced = await devops(info, "PUT", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`, {
        body: { ...agentRegistration("aci-replace-1", second, { systemCapabilities: { generation: "2" }, version: "4.265.0" }), id: agent.id },
      });
      assert.equal(replaced.status, 200, replaced.text);
      const after = replaced.json as AgentJson;
      assert.equal(after.id, agent.id);
      assert.equal(after.version, "4.265.0");
      assert.deepEqual(after.authorization?.publicKey, second.publicKey);
      const listed = await agentsNamed(info, pool, "aci-replace-1", "&includeCapabilities=true");
      assert.equal(listed.count, 1);
      assert.deepEqual(listed.value[0]?.systemCapabilities, { generation: "2" });

      const deleted = await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, "");
      assert.deepEqual(await agentsNamed(info, pool, "aci-replace-1"), { count: 0, value: [] });
      const again = await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`);
      assert.equal(again.status, 404);
    });

    it("a second POST with the same name is 409 'already contains an agent with name'", async function () {
      const { info } = emulator();
      const pool = await poolId(info);
      await registerAgent(info, pool, { name: "aci-dup-1" });
      const res = await devops(info, "POST", `_apis/distributedtask/pools/${pool}/agents`, { body: agentRegistration("aci-dup-1", agentKey()) });
      assert.equal(res.status, 409);
      const body = res.json as DevOpsErrorBody;
      assert.equal(body.message, `Pool ${info.pool} already contains an agent with name aci-dup-1.`);
      assert.equal(body.eventId, 3000);
    });
  });

  describe("authentication", function () {
    it("a wrong PAT gets 203 with an HTML sign-in page (clients must treat a non-JSON 2xx as an auth failure)", async function () {
      const { info } = emulator();
      const res = await devops(info, "GET", "_apis/distributedtask/pools?poolName=aci", { auth: { pat: "not-a-valid-pat" } });
      assert.equal(res.status, 203);
      assert.match(String(res.headers["content-type"]), /^text\/html/);
      assert.match(res.text, /<html/i);
      assert.equal(res.json, undefined, "the body must not be JSON");
    });

    it("a revoked PAT (DELETE /_emulator/pats/:pat) stops working", async function () {
      const { info } = emulator();
      const issued = await control(info, "POST", "/pats", {});
      const pat = (issued.json as { pat: string }).pat;
      assert.equal((await devops(info, "GET", "_apis/distributedtask/pools", { auth: { pat } })).status, 200);
      assert.equal((await control(info, "DELETE", `/pats/${pat}`)).status, 204);
      assert.equal((await devops(info, "GET", "_apis/distributedtask/pools", { auth: { pat } })).status, 203);
    });

    it("an Entra token for Azure DevOps or the job's access token as the Basic password is accepted, as by `config.sh --auth pat`", async function () {
      const { info } = emulator();
      const token = await secretCredential(info).getToken(`${azureDevOpsResource}/.default`);
      assert.equal((await devops(info, "GET", "_apis/distributedtask/pools", { auth: { pat: token.token } })).status, 200);
      assert.equal((await devops(info, "GET", "_apis/distributedtask/pools", { auth: { pat: info.systemAccessToken } })).status, 200);
      const armToken = await secretCredential(info).getToken(`${info.armUrl}.default`);
      assert.equal((await devops(info, "GET", "_apis/distributedtask/pools", { auth: { pat: armToken.token } })).status, 203);
    });

    it("no credentials: 401 with the TF400813 JSON error", async function () {
      const { info } = emulator();
      const res = await devops(info, "GET", "_apis/distributedtask/pools?poolName=aci", { auth: "none" });
      assert.equal(res.status, 401);
      assert.match(String(res.headers["content-type"]), /^application\/json/);
      const body = res.json as DevOpsErrorBody;
      assert.equal(body.message, "TF400813: The user '' is not authorized to access this resource.");
      assert.equal(body.$id, "1");
      assert.equal(body.innerException, null);
      assert.equal(body.errorCode, 0);
    });

    it("an Entra token for Azure DevOps (499b84ac-...) is accepted; one for ARM is not", async function () {
      const { info } = emulator();
      const credential = secretCredential(info);
      const token = await credential.getToken(`${azureDevOpsResource}/.default`);
      const res = await devops(info, "GET", "_apis/distributedtask/pools?poolName=aci", { auth: { bearer: token.token } });
      assert.equal(res.status, 200, res.text);
      assert.equal((res.json as { count: number }).count, 1);
      const armToken = await credential.getToken(`${info.armUrl}.default`);
      const refused = await devops(info, "GET", "_apis/distributedtask/pools?poolName=aci", { auth: { bearer: armToken.token } });
      assert.equal(refused.status, 401);
    });

    it("the job's System.AccessToken is accepted as a bearer token, and so is a newly issued one", async function () {
      const { info } = emulator();
      const res = await devops(info, "GET", "_apis/distributedtask/pools?poolName=aci", { auth: "bearer" });
      assert.equal(res.status, 200, res.text);
      const issued = await control(info, "POST", "/accessTokens");
      assert.equal(issued.status, 201);
      const token = (issued.json as { token: string }).token;
      assert.equal((await devops(info, "GET", "_apis/distributedtask/pools", { auth: { bearer: token } })).status, 200);
      assert.equal((await devops(info, "GET", "_apis/distributedtask/pools", { auth: { bearer: `${token}x` } })).status, 401);
    });
  });

  describe("agent package", function () {
    it("metadata for linux-x64: one package whose download's SHA-256 equals hashValue", async function () {
      const { info } = emulator();
      const res = await devops(info, "GET", "_apis/distributedtask/packages/agent?platform=linux-x64&top=1");
      assert.equal(res.status, 200);
      const body = res.json as {
        count: number;
        value: { type: string; platform: string; version: { major: number; minor: number; patch: number }; downloadUrl: string; filename: string; hashValue: string }[];
      };
      assert.equal(body.count, 1);
      const pkg = body.value[0];
      assert.ok(pkg !== undefined);
      assert.equal(pkg.type, "agent");
      assert.equal(pkg.platform, "linux-x64");
      assert.equal(typeof pkg.version.major, "number");
      assert.equal(pkg.filename, `vsts-agent-linux-x64-${pkg.version.major}.${pkg.version.minor}.${pkg.version.patch}.tar.gz`);
      const download = await rawRequest(info, pkg.downloadUrl, { method: "GET" });
      assert.equal(download.status, 200);
      assert.ok(download.body.length > 0);
      assert.equal(download.body[0], 0x1f, "a gzip file");
      assert.equal(download.body[1], 0x8b, "a gzip file");
      assert.equal(createHash("sha256").update(download.body).digest("hex"), pkg.hashValue);
    });
  });

  describe("jobs", function () {
    it("a queued job goes only to an agent whose capabilities meet its demands (messages long-poll), and PATCH jobrequests records the result", async function () {
      const { info } = emulator();
      const pool = await poolId(info);
      const plain = await registerAgent(info, pool, { name: "aci-plain-1", systemCapabilities: { "Agent.OS": "Linux" } });
      const docker = await registerAgent(info, pool, { name: "aci-docker-1", systemCapabilities: { "Agent.OS": "Linux", docker: "true" } });
      const plainSession = await connectAgent(info, pool, plain.agent, plain.key);
      const dockerSession = await connectAgent(info, pool, docker.agent, docker.key);
      assert.equal((await agentsNamed(info, pool, "aci-docker-1")).value[0]?.status, "online");

      const queued = await control(info, "POST", "/jobs", { pool: info.pool, demands: ["docker -equals true"], jobName: "Build in docker", script: "echo hi" });
      assert.equal(queued.status, 201);
      const requestId = (queued.json as { requestId: number }).requestId;

      // The agent without the capability polls alone first and gets nothing (204 when the poll window ends).
      const nothing = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/messages?sessionId=${plainSession.sessionId}`, {
        auth: { bearer: plainSession.token },
      });
      assert.equal(nothing.status, 204);
      assert.equal(((await control(info, "GET", `/jobs/${requestId}`)).json as { assignedAgent?: string }).assignedAgent, undefined);

      const message = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/messages?sessionId=${dockerSession.sessionId}`, {
        auth: { bearer: dockerSession.token },
      });
      assert.equal(message.status, 200, message.text);
      const envelope = message.json as { messageId: number; messageType: string; body: string; iv?: string };
      assert.equal(envelope.messageType, "PipelineAgentJobRequest");
      assert.equal(typeof envelope.iv, "string", "a job message is encrypted");
      const job = JSON.parse(messageBody(envelope, sessionKey(dockerSession, docker.key))) as { requestId: number; lockToken: string; jobName: string };
      assert.equal(job.requestId, requestId);
      assert.equal(job.jobName, "Build in docker");
      assert.equal(typeof job.lockToken, "string");

      const ack = await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/messages/${envelope.messageId}?sessionId=${dockerSession.sessionId}`, {
        auth: { bearer: dockerSession.token },
      });
      assert.equal(ack.status, 204);
      const busy = await agentsNamed(info, pool, "aci-docker-1", "&includeAssignedRequest=true");
      assert.equal((busy.value[0] as AgentJson & { assignedRequest?: { requestId: number } }).assignedRequest?.requestId, requestId);

      const finishTime = new Date().toISOString();
      const wrongLock = await devops(info, "PATCH", `_apis/distributedtask/pools/${pool}/jobrequests/${requestId}?lockToken=not-the-lock`, {
        auth: { bearer: dockerSession.token },
        body: { requestId, result: "succeeded", finishTime },
      });
      assert.equal(wrongLock.status, 404);
      const patched = await devops(info, "PATCH", `_apis/distributedtask/pools/${pool}/jobrequests/${requestId}?lockToken=${job.lockToken}`, {
        auth: { bearer: dockerSession.token },
        body: { requestId, result: "succeeded", finishTime },
      });
      assert.equal(patched.status, 200, patched.text);

      const recorded = (await control(info, "GET", `/jobs/${requestId}`)).json as { result?: string; finishTime?: string; assignedAgent?: string };
      assert.equal(recorded.result, "succeeded");
      assert.equal(recorded.finishTime, finishTime);
      assert.equal(recorded.assignedAgent, "aci-docker-1");
      const idle = await agentsNamed(info, pool, "aci-docker-1", "&includeAssignedRequest=true");
      assert.equal((idle.value[0] as AgentJson & { assignedRequest?: unknown }).assignedRequest, undefined);
    });

    it("only the agent itself may use its session: a PAT cannot read messages", async function () {
      const { info } = emulator();
      const pool = await poolId(info);
      const { agent, key } = await registerAgent(info, pool, { name: "aci-own-1" });
      const { sessionId } = await connectAgent(info, pool, agent, key);
      const res = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/messages?sessionId=${sessionId}`);
      assert.equal(res.status, 403);
      assert.equal((res.json as DevOpsErrorBody).typeKey, "AccessDeniedException");
    });
  });
});
