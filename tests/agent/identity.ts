// An agent registered from outside its container, as AciAgentStart registers it, and its three
// files as the product writes them (src/run/agentIdentity.ts): what the identity path of
// agent/start.sh gets in AZP_IDENTITY_DIR.
import { strict as assert } from "node:assert";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentFiles, makeAgentKey, type AgentKey, type RegisteredAgent } from "../../src/run/agentIdentity";
import { oauthEndpointOf, serverUrlOf } from "../../src/start/register";
import { devops, poolId, type AgentJson, type EmulatorInfo } from "../helpers/emulator";

/** The linux-x64 package as the feed names it: what AciAgentStart passes to the container. */
export async function agentPackage(info: EmulatorInfo): Promise<{ downloadUrl: string; hashValue: string }> {
  const res = await devops(info, "GET", "_apis/distributedtask/packages/agent?platform=linux-x64&top=1");
  const found = (res.json as { value: { downloadUrl: string; hashValue: string }[] }).value[0];
  assert.ok(found !== undefined, res.text);
  return found;
}

/**
 * Registers an agent with `publicKey` (POST agents, the well-known PAT in this process only), as
 * AciAgentStart registers it, and returns what its files are made of (workFolder `_work`).
 */
export async function registerAgent(info: EmulatorInfo, name: string, publicKey: AgentKey["publicKey"]): Promise<{ agent: AgentJson; registered: RegisteredAgent }> {
  const pool = await poolId(info);
  const res = await devops(info, "POST", `_apis/distributedtask/pools/${pool}/agents`, {
    body: { name, version: "4.264.2", osDescription: "Linux", maxParallelism: 1, authorization: { publicKey } },
  });
  assert.equal(res.status, 200, res.text);
  const agent = res.json as AgentJson & { properties?: Record<string, unknown> };
  assert.ok(agent.authorization !== undefined, "the registration has no authorization");
  return {
    agent,
    registered: {
      agentId: agent.id,
      agentName: agent.name,
      poolId: pool,
      poolName: info.pool,
      serverUrl: serverUrlOf(agent, info.organizationUrl),
      workFolder: "_work",
      clientId: agent.authorization.clientId,
      authorizationUrl: agent.authorization.authorizationUrl,
      oauthEndpointUrl: oauthEndpointOf(agent.authorization.authorizationUrl, info.organizationUrl),
    },
  };
}

/**
 * Registers an agent with a fresh 2048-bit key and writes its three files with the product's
 * agentFiles into a folder of their own under `parent`, read-only: what the task mounts at
 * /mnt/aci-agent-identity.
 */
export async function writeIdentity(info: EmulatorInfo, parent: string, name: string): Promise<{ dir: string; agent: AgentJson; key: AgentKey }> {
  const key = await makeAgentKey();
  const { agent, registered } = await registerAgent(info, name, key.publicKey);
  const files = agentFiles(registered, key);
  const dir = mkdtempSync(join(parent, `identity-${name}-`));
  // Read-only and readable by anyone, as a secret volume's files may be: the copies must be 0600.
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content, { mode: 0o444 });
  // A secret volume's folder can be entered by the container's user, root or not (a prebuilt image runs as azp).
  chmodSync(dir, 0o755);
  return { dir, agent, key };
}

/** The agent's keys in the config map that completes a claim (AciAgentStart adds the run's keys). */
export function identityConfigMap(registered: RegisteredAgent): Record<string, string> {
  return {
    agentId: String(registered.agentId),
    agentName: registered.agentName,
    poolId: String(registered.poolId),
    poolName: registered.poolName,
    serverUrl: registered.serverUrl,
    clientId: registered.clientId,
    authorizationUrl: registered.authorizationUrl,
    oauthEndpointUrl: registered.oauthEndpointUrl,
  };
}
