// Issue 16: what a job can do with the one credential its container holds, its own agent's key.
// It can read it (as on any self-hosted agent); with it, Azure DevOps lets it do only what a
// listener does: no registering, listing or removing agents, no reading pools, no user
// capabilities, and a session that advertises another run's ACI_RUN_ID or ACI_FLEET still gets
// only the jobs pinned to its own run, because the step set those as user capabilities.
import { strict as assert } from "node:assert";
import { createPrivateKey } from "node:crypto";
import { agentAccessToken, devops, type AgentJson, type AgentKey } from "../helpers/emulator";
import { containerLogText, nextBuildId, plainOutput, runJob, startAgents, stopGroup, useEmulator, until, type RunningEmulator } from "./helpers";

interface Identity {
  agent: AgentJson;
  key: AgentKey;
  poolId: number;
}

/** The agent's identity as its container got it (the secret volume of the group's stored PUT). */
function identityOf(emu: RunningEmulator, groupName: string): Identity {
  const record = [...emu.state.containerGroups.values()].find((g) => g.name === groupName);
  const volumes = (record?.body.properties as { volumes?: { name: string; secret?: Record<string, string> }[] } | undefined)?.volumes ?? [];
  const secret = volumes.find((v) => v.name === "agent-identity")?.secret;
  assert.ok(secret !== undefined, `${groupName} got no identity volume`);
  const file = (name: string) => JSON.parse(Buffer.from(secret[name] ?? "", "base64").toString("utf8").replace(/^\uFEFF/, "")) as Record<string, unknown>;
  const settings = file("agent") as { agentId: number; agentName: string; poolId: number };
  const credentials = (file("credentials") as { data: { clientId: string; authorizationUrl: string } }).data;
  const rsa = file("credentials_rsaparams") as Record<string, string>;
  const url = (name: string) => Buffer.from(rsa[name] ?? "", "base64").toString("base64url");
  const privateKey = createPrivateKey({
    key: { kty: "RSA", n: url("modulus"), e: url("exponent"), d: url("d"), p: url("p"), q: url("q"), dp: url("dp"), dq: url("dq"), qi: url("inverseQ") },
    format: "jwk",
  });
  return {
    agent: { id: settings.agentId, name: settings.agentName, version: "4.264.2", status: "offline", enabled: true, authorization: credentials },
    key: { privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKey: { exponent: rsa.exponent ?? "", modulus: rsa.modulus ?? "" } },
    poolId: settings.poolId,
  };
}

async function agentToken(emu: RunningEmulator, identity: Identity): Promise<string> {
  const answer = await agentAccessToken(emu.info, identity.agent, identity.key);
  const token = (answer.json as { access_token?: string } | undefined)?.access_token;
  assert.ok(answer.status === 200 && token !== undefined, `the agent's key got no token: ${answer.status} ${answer.text}`);
  return token;
}

describe("integration: a job holds only its own agent's key, which does only what its listener does (issue 16)", function () {
  this.timeout(240_000);
  const emulator = useEmulator();

  it("a job can read its agent's key; with it nobody can register, list or remove agents, read pools or change user capabilities", async function () {
    const emu = emulator();
    const buildId = nextBuildId();
    const start = await startAgents(emu, buildId, 1, { ephemeral: "false", maxLifetimeMinutes: "0" });
    const name = `azp-${buildId}-1-1`;
    const identity = identityOf(emu, name);
    // The job sees its agent's key where the agent keeps it.
    await runJob(emu, [start.outputs.demand ?? ""], "read the key", 'sed -n \'s/.*"modulus": "\\(.\\{24\\}\\).*/KEY-SEEN \\1/p\' "$AGENT_HOMEDIRECTORY/.credentials_rsaparams"');
    assert.ok(containerLogText(emu, name).includes(`KEY-SEEN ${identity.key.publicKey.modulus.slice(0, 24)}`), plainOutput(start));

    const token = await agentToken(emu, identity);
    const pool = identity.poolId;
    const attempts: [string, string, string, unknown][] = [
      ["register an agent", "POST", `_apis/distributedtask/pools/${pool}/agents`, { name: "intruder", version: "4.264.2", authorization: { publicKey: identity.key.publicKey } }],
      ["list the pool's agents", "GET", `_apis/distributedtask/pools/${pool}/agents`, undefined],
      ["look an agent up by name", "GET", `_apis/distributedtask/pools/${pool}/agents?agentName=${name}`, undefined],
      ["remove its own agent", "DELETE", `_apis/distributedtask/pools/${pool}/agents/${identity.agent.id}`, undefined],
      ["read the pools", "GET", "_apis/distributedtask/pools", undefined],
      ["read its pool", "GET", `_apis/distributedtask/pools/${pool}`, undefined],
      ["set user capabilities", "PUT", `_apis/distributedtask/pools/${pool}/agents/${identity.agent.id}/usercapabilities`, { ACI_RUN_ID: "1" }],
    ];
    for (const [what, method, path, body] of attempts) {
      const answer = await devops(emu.info, method, path, { auth: { bearer: token }, body });
      assert.ok(answer.status >= 400, `with its agent's key a job could ${what}: ${method} ${path} answered ${answer.status}`);
    }
    assert.ok([...emu.state.agents.values()].some((a) => a.name === name), "the agent's registration is gone");
    assert.ok(![...emu.state.agents.values()].some((a) => a.name === "intruder"));
  });

  it("a copied key cannot take another run's jobs: a session advertising another run's ACI_RUN_ID and ACI_FLEET gets only its own run's", async function () {
    const emu = emulator();
    const buildId = nextBuildId();
    await startAgents(emu, buildId, 1, { ephemeral: "false", maxLifetimeMinutes: "0" });
    const name = `azp-${buildId}-1-1`;
    const identity = identityOf(emu, name);
    // The copied key is used elsewhere once its own listener has stopped (its session closed).
    const agent = [...emu.state.agents.values()].find((a) => a.name === name);
    assert.ok(agent !== undefined);
    await stopGroup(emu, name);
    await until("the listener to close its session", () => agent.sessionId === undefined);

    const token = await agentToken(emu, identity);
    const otherRun = String(Number(buildId) + 1);
    const session = await devops(emu.info, "POST", `_apis/distributedtask/pools/${identity.poolId}/sessions`, {
      auth: { bearer: token },
      body: {
        ownerName: "elsewhere",
        agent: { id: identity.agent.id, name, version: "4.264.2" },
        systemCapabilities: { ACI_RUN_ID: otherRun, ACI_FLEET: `azp-${otherRun}`, "Agent.Name": name },
      },
    });
    const sessionId = (session.json as { sessionId?: string } | undefined)?.sessionId;
    assert.ok(session.status === 200 && sessionId !== undefined, `${session.status} ${session.text}`);

    // Queued as Azure DevOps queues a pipeline's job (the control API's /jobs does the same).
    const queue = (demands: string[], jobName: string) => {
      const requestId = emu.state.newId();
      emu.state.jobRequests.set(requestId, { requestId, poolId: identity.poolId, demands, jobName, script: "true", queueTime: new Date().toISOString() });
      return requestId;
    };
    const poll = () => devops(emu.info, "GET", `_apis/distributedtask/pools/${identity.poolId}/messages?sessionId=${sessionId}&lastMessageId=0`, { auth: { bearer: token } });

    const others = [queue([`ACI_RUN_ID -equals ${otherRun}`], "another run's job"), queue([`ACI_FLEET -equals azp-${otherRun}`], "another fleet's job")];
    const empty = await poll();
    assert.equal(empty.status, 204, `a session advertising another run got a message: ${empty.text}`);
    assert.ok(others.every((id) => emu.state.jobRequests.get(id)?.assignedAgentId === undefined), "another run's job was given to the copied key");

    const own = queue([`ACI_RUN_ID -equals ${buildId}`], "its own run's job");
    const message = await poll();
    assert.equal(message.status, 200, "the session got none of its own run's jobs either: the test proves nothing");
    assert.equal(emu.state.jobRequests.get(own)?.assignedAgentId, identity.agent.id);
  });
});
