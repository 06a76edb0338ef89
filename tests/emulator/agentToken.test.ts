// Issue 16: what an agent's own OAuth token may do in the emulated Azure DevOps (only what the
// real listener does with it), the session key encrypted to the agent's registered key, user
// capabilities against the session's system capabilities, and the emulated listener when its
// registration is deleted.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  agentAccessToken,
  agentKey,
  agentRegistration,
  connectAgent,
  control,
  devops,
  eventually,
  messageBody,
  poolId,
  registerAgent,
  sessionKey,
  setUserCapabilities,
  useEmulator,
  type AgentJson,
  type EmulatorInfo,
} from "../helpers/emulator";

interface DevOpsErrorBody {
  message: string;
  typeKey: string;
}

const agentPackage = join(__dirname, "..", "..", "emulator", "agent-package");

/** The emulated agent's folder: a copy of the package, as the extracted tarball is. */
function agentFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "aci-agent-"));
  cpSync(agentPackage, dir, { recursive: true });
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/agent.js …` in the folder; `until` may act while it runs (e.g. delete the agent, stop it). */
function runAgent(info: EmulatorInfo, dir: string, args: string[], until?: (output: () => string, stop: () => void) => Promise<void>): Promise<Run> {
  const child = spawn(process.execPath, ["--use-openssl-ca", join(dir, "bin", "agent.js"), ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", HOME: dir, SSL_CERT_FILE: info.caFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      resolve(code);
    });
  });
  const acting = until === undefined ? Promise.resolve() : until(() => stdout + stderr, () => child.kill("SIGTERM"));
  return acting.then(
    async () => ({ code: await exited, stdout, stderr }),
    async (error: unknown) => {
      child.kill("SIGKILL");
      await exited;
      throw new Error(`${error instanceof Error ? error.message : String(error)}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    },
  );
}

async function configureAgent(info: EmulatorInfo, dir: string, name: string): Promise<void> {
  const configured = await runAgent(info, dir, ["configure", "--unattended", "--url", info.organizationUrl, "--auth", "pat", "--token", info.pat, "--pool", info.pool, "--agent", name]);
  assert.equal(configured.code, 0, configured.stdout + configured.stderr);
}

async function agentNamed(info: EmulatorInfo, pool: number, name: string): Promise<AgentJson> {
  const res = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents?agentName=${name}`);
  const agent = (res.json as { value: AgentJson[] }).value[0];
  assert.ok(agent !== undefined, `no agent ${name}`);
  return agent;
}

describe("emulated Azure DevOps: the agent's own token (issue 16)", function () {
  const emulator = useEmulator();

  it("an agent token may open its session and read its messages, but not list, register or delete agents, read pools or set user capabilities", async function () {
    const { info } = emulator();
    const pool = await poolId(info);
    const { agent, key } = await registerAgent(info, pool, { name: "aci-token-1" });
    const other = await registerAgent(info, pool, { name: "aci-token-2" });
    const session = await connectAgent(info, pool, agent, key);
    const auth = { bearer: session.token };

    const poll = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/messages?sessionId=${session.sessionId}`, { auth, signal: AbortSignal.timeout(15_000) });
    assert.equal(poll.status, 204, poll.text);

    const refused = [
      await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents?agentName=aci-token-2`, { auth }),
      await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`, { auth }),
      await devops(info, "POST", `_apis/distributedtask/pools/${pool}/agents`, { auth, body: agentRegistration("aci-token-3", agentKey()) }),
      await devops(info, "PUT", `_apis/distributedtask/pools/${pool}/agents/${other.agent.id}`, { auth, body: { ...agentRegistration("aci-token-2", agentKey()), id: other.agent.id } }),
      await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${other.agent.id}`, { auth }),
      await devops(info, "GET", "_apis/distributedtask/pools", { auth }),
      await devops(info, "GET", `_apis/distributedtask/pools/${pool}`, { auth }),
      await setUserCapabilities(info, pool, agent.id, { ACI_RUN_ID: "another-run" }, auth),
      await devops(info, "GET", `_apis/permissions/101eae8c-1709-47f9-b228-0e476c35b3ba/2?tokens=AgentPools/${pool}`, { auth }),
    ];
    for (const res of refused) {
      assert.equal(res.status, 401, res.text);
      const body = res.json as DevOpsErrorBody;
      assert.equal(body.typeKey, "InvalidIdentityException");
      assert.match(body.message, /^TF400813: The user '[^']+' is not authorized to access this resource\.$/);
    }
    // Nothing changed.
    assert.equal((await agentNamed(info, pool, "aci-token-2")).id, other.agent.id);
    const listed = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents?agentName=aci-token-1&includeCapabilities=true`);
    assert.deepEqual((listed.json as { value: AgentJson[] }).value[0]?.userCapabilities, {});
  });

  it("a deleted agent: its token request is refused (400 invalid_client) and its still valid token gets 404 TaskAgentNotFoundException", async function () {
    const { info } = emulator();
    const pool = await poolId(info);
    const { agent, key } = await registerAgent(info, pool, { name: "aci-gone-1" });
    const session = await connectAgent(info, pool, agent, key);
    assert.equal((await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`)).status, 204);

    const token = await agentAccessToken(info, agent, key);
    assert.equal(token.status, 400);
    assert.equal((token.json as { error: string }).error, "invalid_client");

    const auth = { bearer: session.token };
    const messages = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/messages?sessionId=${session.sessionId}`, { auth });
    const again = await devops(info, "POST", `_apis/distributedtask/pools/${pool}/sessions`, { auth, body: { ownerName: "x", agent: { id: agent.id, name: agent.name } } });
    for (const res of [messages, again]) {
      assert.equal(res.status, 404, res.text);
      assert.equal((res.json as DevOpsErrorBody).typeKey, "TaskAgentNotFoundException");
      assert.equal((res.json as DevOpsErrorBody).message, `Agent ${agent.id} could not be found in pool ${info.pool}.`);
    }
  });

  it("the session key is encrypted to the registered key: it decrypts with that key only, and it decrypts the job message", async function () {
    const { info } = emulator();
    const pool = await poolId(info);
    const { agent, key } = await registerAgent(info, pool, { name: "aci-key-1", systemCapabilities: { "Agent.Name": "aci-key-1" } });
    const session = await connectAgent(info, pool, agent, key);
    assert.equal(session.encryptionKey?.encrypted, true);
    const aesKey = sessionKey(session, key);
    assert.equal(aesKey.length, 32, "an AES-256 key");
    assert.throws(() => sessionKey(session, agentKey()), "another key cannot decrypt it");

    const queued = await control(info, "POST", "/jobs", { pool: info.pool, demands: ["Agent.Name -equals aci-key-1"], jobName: "Secret job", script: "echo hi" });
    assert.equal(queued.status, 201, queued.text);
    const url = `_apis/distributedtask/pools/${pool}/messages?sessionId=${session.sessionId}`;
    const message = await devops(info, "GET", url, { auth: { bearer: session.token } });
    assert.equal(message.status, 200, message.text);
    const envelope = message.json as { messageId: number; body: string; iv?: string };
    assert.ok(!envelope.body.includes("Secret job"), "the body is not in clear");
    assert.equal((JSON.parse(messageBody(envelope, aesKey)) as { jobName: string }).jobName, "Secret job");

    // Not deleted: handed out again; deleted: gone.
    const again = await devops(info, "GET", url, { auth: { bearer: session.token } });
    assert.equal((again.json as { messageId: number }).messageId, envelope.messageId);
    assert.equal((await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/messages/${envelope.messageId}?sessionId=${session.sessionId}`, { auth: { bearer: session.token } })).status, 204);
    const after = await devops(info, "GET", url, { auth: { bearer: session.token }, signal: AbortSignal.timeout(15_000) });
    assert.equal(after.status, 204);
  });

  it("a job demanding another run's ACI_RUN_ID does not go to an agent whose user capability differs, though its session advertises that value as a system capability", async function () {
    this.timeout(30_000);
    const { info } = emulator();
    const pool = await poolId(info);
    const ours = await registerAgent(info, pool, { name: "aci-run-a-1", userCapabilities: { ACI_RUN_ID: "run-b" } });
    const theirs = await registerAgent(info, pool, { name: "aci-run-b-1" });
    assert.equal((await setUserCapabilities(info, pool, ours.agent.id, { ACI_RUN_ID: "run-a" })).status, 200);
    assert.equal((await setUserCapabilities(info, pool, theirs.agent.id, { aci_run_id: "run-b" })).status, 200);

    // The listener of "ours" advertises run-b in its environment: a system capability.
    const token = ((await agentAccessToken(info, ours.agent, ours.key)).json as { access_token: string }).access_token;
    const opened = await devops(info, "POST", `_apis/distributedtask/pools/${pool}/sessions`, {
      auth: { bearer: token },
      body: { ownerName: "a", agent: { id: ours.agent.id, name: ours.agent.name }, systemCapabilities: { ACI_RUN_ID: "run-b" } },
    });
    assert.equal(opened.status, 200, opened.text);
    const listed = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents?agentName=aci-run-a-1&includeCapabilities=true`);
    const stored = (listed.json as { value: AgentJson[] }).value[0];
    assert.deepEqual(stored?.userCapabilities, { ACI_RUN_ID: "run-a" }, "a session changes only system capabilities");
    assert.deepEqual(stored.systemCapabilities, { ACI_RUN_ID: "run-b" });

    const queued = await control(info, "POST", "/jobs", { pool: info.pool, demands: ["ACI_RUN_ID -equals run-b"], jobName: "run b's job", script: "true" });
    const requestId = (queued.json as { requestId: number }).requestId;
    const sessionId = (opened.json as { sessionId: string }).sessionId;
    const nothing = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/messages?sessionId=${sessionId}`, { auth: { bearer: token }, signal: AbortSignal.timeout(15_000) });
    assert.equal(nothing.status, 204, nothing.text);

    const theirSession = await connectAgent(info, pool, theirs.agent, theirs.key);
    const given = await devops(info, "GET", `_apis/distributedtask/pools/${pool}/messages?sessionId=${theirSession.sessionId}`, { auth: { bearer: theirSession.token } });
    assert.equal(given.status, 200, given.text);
    assert.equal(((await control(info, "GET", `/jobs/${requestId}`)).json as { assignedAgent?: string }).assignedAgent, "aci-run-b-1");
  });

  it("user capabilities need Manage on the pool and a JSON object of strings", async function () {
    const { info } = emulator();
    const pool = await poolId(info);
    const { agent } = await registerAgent(info, pool, { name: "aci-caps-put-1" });
    const set = await setUserCapabilities(info, pool, agent.id, { ACI_RUN_ID: "r1", ACI_FLEET: "f" });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual((set.json as AgentJson).userCapabilities, { ACI_RUN_ID: "r1", ACI_FLEET: "f" });
    assert.equal((await setUserCapabilities(info, pool, agent.id, ["ACI_RUN_ID"])).status, 400);
    assert.equal((await setUserCapabilities(info, pool, 999_999, { a: "b" })).status, 404);
    assert.equal((await control(info, "PUT", "/behaviour", { poolManageDenied: ["pat"] })).status, 200);
    const denied = await setUserCapabilities(info, pool, agent.id, { ACI_RUN_ID: "r2" });
    assert.equal(denied.status, 403);
    assert.equal((denied.json as DevOpsErrorBody).typeKey, "AccessDeniedException");
  });

  it("GET agents/{id} carries the agent's clientId and public key; a list does not", async function () {
    const { info } = emulator();
    const pool = await poolId(info);
    const { agent, key } = await registerAgent(info, pool, { name: "aci-get-1" });
    const got = (await devops(info, "GET", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`)).json as AgentJson;
    assert.deepEqual(got.authorization, { clientId: agent.authorization?.clientId, publicKey: key.publicKey });
    assert.equal((await agentNamed(info, pool, "aci-get-1")).authorization, undefined);
  });

  describe("the emulated listener", function () {
    let dir: string;
    beforeEach(function () {
      dir = agentFolder();
    });
    afterEach(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it("configure writes the three files as config.sh does: a byte order mark, two-space JSON, the real key order", async function () {
      this.timeout(30_000);
      const { info } = emulator();
      await configureAgent(info, dir, "aci-files-1");
      const raw = (name: string): string => readFileSync(join(dir, name), "utf8");
      for (const name of [".agent", ".credentials", ".credentials_rsaparams"]) {
        assert.ok(raw(name).startsWith("\uFEFF{\n  \""), `${name} starts with a BOM and indented JSON`);
        assert.ok(raw(name).endsWith("}"), `${name} has no final newline`);
      }
      const parse = (name: string): Record<string, unknown> => JSON.parse(raw(name).slice(1)) as Record<string, unknown>;
      assert.deepEqual(Object.keys(parse(".agent")), ["agentId", "agentName", "poolId", "poolName", "serverUrl", "workFolder"]);
      assert.equal(parse(".agent").serverUrl, info.organizationUrl);
      assert.deepEqual(Object.keys(parse(".credentials")), ["scheme", "data"]);
      const rsa = parse(".credentials_rsaparams");
      assert.deepEqual(Object.keys(rsa), ["ContainerName", "UseCng", "d", "dp", "dq", "exponent", "inverseQ", "modulus", "p", "q"]);
      assert.equal(Buffer.from(String(rsa.modulus), "base64").length, 256);
      assert.equal(Buffer.from(String(rsa.d), "base64").length, 256);
      assert.equal(Buffer.from(String(rsa.inverseQ), "base64").length, 128);
    });

    it("a registration deleted before the listener starts, token refused with 400 invalid_client: 'Agent connect error: The client is not valid. Retrying until reconnected.' once, and it keeps trying", async function () {
      this.timeout(30_000);
      const { info } = emulator();
      const pool = await poolId(info);
      await configureAgent(info, dir, "aci-deleted-1");
      const agent = await agentNamed(info, pool, "aci-deleted-1");
      assert.equal((await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`)).status, 204);

      const run = await runAgent(info, dir, ["run"], async (output, stop) => {
        await eventually("the connect error", () => Promise.resolve(output().includes("Agent connect error:") ? true : undefined));
        stop();
      });
      assert.equal(run.code, 0, "a stop ends it cleanly");
      const lines = run.stderr.split("\n").filter((line) => line.includes("Agent connect error:"));
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0] ?? "", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: Agent connect error: The client is not valid\. Retrying until reconnected\.$/);
      assert.ok(!run.stdout.includes("Listening for Jobs"));
    });

    it("a registration deleted before the listener starts, token refused with 401 (behaviour agentTokenRefusal): 'Failed to create session. VS30063: …' on stderr and exit 1", async function () {
      this.timeout(30_000);
      const { info } = emulator();
      const pool = await poolId(info);
      await configureAgent(info, dir, "aci-deleted-3");
      const agent = await agentNamed(info, pool, "aci-deleted-3");
      assert.equal((await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`)).status, 204);
      assert.equal((await control(info, "PUT", "/behaviour", { agentTokenRefusal: 401 })).status, 200);

      const run = await runAgent(info, dir, ["run"]);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.ok(run.stderr.split("\n").includes(`Failed to create session. VS30063: You are not authorized to access ${new URL(info.organizationUrl).origin}.`), run.stderr);
    });

    it("files without a byte order mark are read too; a job arrives encrypted and runs; a registration deleted while it listens ends it as Agent.RunAsync does: 'An error occurred: …', exit 2", async function () {
      this.timeout(60_000);
      const { info } = emulator();
      const pool = await poolId(info);
      await configureAgent(info, dir, "aci-deleted-2");
      for (const name of [".agent", ".credentials", ".credentials_rsaparams"]) {
        writeFileSync(join(dir, name), readFileSync(join(dir, name), "utf8").replace(/^\uFEFF/, ""));
      }
      const agent = await agentNamed(info, pool, "aci-deleted-2");
      const run = await runAgent(info, dir, ["run"], async (output) => {
        await eventually("the listener to listen", () => Promise.resolve(output().includes("Listening for Jobs") ? true : undefined));
        const queued = await control(info, "POST", "/jobs", { pool: info.pool, demands: ["Agent.Name -equals aci-deleted-2"], jobName: "Encrypted job", script: "echo ran-the-job" });
        const requestId = (queued.json as { requestId: number }).requestId;
        await eventually("the job to finish", async () => {
          const job = (await control(info, "GET", `/jobs/${requestId}`)).json as { result?: string };
          return job.result;
        });
        assert.equal(((await control(info, "GET", `/jobs/${requestId}`)).json as { result?: string }).result, "succeeded");
        assert.equal((await devops(info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`)).status, 204);
      });
      assert.ok(run.stdout.includes("ran-the-job"), run.stdout);
      assert.equal(run.code, 2, run.stdout + run.stderr);
      assert.ok(run.stderr.split("\n").includes(`An error occurred: Agent ${agent.id} could not be found in pool ${info.pool}.`), run.stderr);
    });
  });
});
