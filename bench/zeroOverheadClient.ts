// A standby start with no step around it, forked by `npm run bench`: AciAgentStart's bodies (the
// product's own claimBody, configMapUpdateBody, registrationOf and pinning capabilities, its default lifetime and
// `once`) for each agent's claim, key read, registration, then user capabilities and config map
// update at once, each sent as soon as the one before it is answered, from a process already
// started, signed in and past pre-flight. It leaves out what is off an agent's way online: the
// claim's operation polls and its tags PATCH. What the emulator's model and this machine's cores
// leave when the client adds nothing of its own; the bench compares the step with it.
import { Agent, request } from "node:https";
import { readFileSync } from "node:fs";
import type { EmulatorInfo } from "../tests/helpers/emulator";
import { secretCredential } from "../tests/helpers/emulator";
import type { StandbyPoolInfo } from "../src/azure/aci";
import { claimBody, configMapUpdateBody, printedPublicKey } from "../src/start/claim";
import { oauthEndpointOf, pinningCapabilities, registrationOf, serverUrlOf } from "../src/start/register";
import { FLEET_VARIABLE, RUN_ID_VARIABLE, STANDBY_CONTAINER, fleetName, type RunIdentity } from "../src/run/names";
import { OWN_TAGS, agentTags } from "../src/run/tags";

/** What the bench hands the client (argv[2], JSON). */
export interface ZeroOverheadJob {
  info: EmulatorInfo;
  run: RunIdentity;
  names: string[];
  poolId: number;
  standbyPool: Pick<StandbyPoolInfo, "id" | "location" | "profileId" | "profileRevision">;
  agentVersion: string;
}

/** The client's messages: ready (signed in, waiting for the go), then done. */
export type ZeroOverheadMessage = { ready: true } | ZeroOverheadDone;

/** Once every agent's config map update is answered: when the go came (epoch ms). */
export interface ZeroOverheadDone {
  startedAt: number;
}

interface Answer {
  status: number;
  json: unknown;
}

const job = JSON.parse(process.argv[2] ?? "") as ZeroOverheadJob;
const { info } = job;
const agent = new Agent({ keepAlive: true, ca: readFileSync(info.caFile, "utf8") });
const ciApiVersion = "2025-09-01";

function send(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const sent = payload === undefined ? headers : { ...headers, "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(payload)) };
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: sent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, json: text === "" ? undefined : (JSON.parse(text) as unknown) });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

function answered(answer: Answer, what: string, ...statuses: number[]): Answer {
  if (!statuses.includes(answer.status)) throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.json)}`);
  return answer;
}

async function main(): Promise<void> {
  const token = await secretCredential(info).getToken(`${info.armUrl}.default`);
  const arm = { Authorization: `Bearer ${token.token}` };
  const devops = { Authorization: `Basic ${Buffer.from(`bench:${info.pat}`).toString("base64")}`, Accept: "application/json" };
  const groupUrl = (name: string, suffix = "") =>
    `${info.armUrl}subscriptions/${info.subscriptionId}/resourceGroups/${info.resourceGroup}/providers/Microsoft.ContainerInstance/containerGroups/${name}${suffix}?api-version=${ciApiVersion}`;
  // AciAgentStart's defaults: namePrefix azp, ephemeral, maxLifetimeMinutes 120, no environment variables.
  const config = { environmentVariables: [], namePrefix: "azp", run: job.run };
  const tagConfig = { ...config, organizationUrl: info.organizationUrl, pool: info.pool, maxLifetimeMinutes: 120, tags: {} };
  const agentsUrl = `${info.organizationUrl}_apis/distributedtask/pools/${job.poolId}/agents`;

  const bringOnline = async (name: string) => {
    const runKeys = {
      [RUN_ID_VARIABLE]: job.run.runId,
      [FLEET_VARIABLE]: fleetName(config.namePrefix, job.run.runId),
      once: "true",
      expiresAt: agentTags(tagConfig, name, new Date())[OWN_TAGS.expires] ?? "",
    };
    answered(await send(groupUrl(name), "PUT", arm, claimBody(job.standbyPool, runKeys)), `the claim of ${name}`, 200, 201);
    // A warm container printed its key before the claim.
    const log = answered(await send(groupUrl(name, `/containers/${STANDBY_CONTAINER}/logs`), "GET", arm), `the log of ${name}`, 200);
    const publicKey = printedPublicKey((log.json as { content?: string } | undefined)?.content ?? "");
    if (publicKey === undefined) throw new Error(`${name} was claimed without a key in its log`);
    const registration = registrationOf(config, name, { publicKey }, job.agentVersion);
    const registered = answered(await send(`${agentsUrl}?api-version=7.1`, "POST", devops, registration), `the registration of ${name}`, 200).json as {
      id: number;
      properties?: Record<string, unknown>;
      authorization: { clientId: string; authorizationUrl: string };
    };
    const identity = {
      agentName: name,
      poolId: String(job.poolId),
      poolName: info.pool,
      serverUrl: serverUrlOf(registered, info.organizationUrl),
      clientId: registered.authorization.clientId,
      authorizationUrl: registered.authorization.authorizationUrl,
      oauthEndpointUrl: oauthEndpointOf(registered.authorization.authorizationUrl, info.organizationUrl),
      ...runKeys,
      agentId: String(registered.id),
    };
    const [capabilities, update] = await Promise.all([
      send(`${agentsUrl}/${registered.id}/usercapabilities?api-version=7.1`, "PUT", devops, pinningCapabilities(config)),
      send(groupUrl(name), "PUT", arm, configMapUpdateBody(job.standbyPool, identity)),
    ]);
    answered(capabilities, `the user capabilities of ${name}`, 200);
    answered(update, `the config map update of ${name}`, 200, 201);
  };

  const ready: ZeroOverheadMessage = { ready: true };
  process.send?.(ready);
  await new Promise<void>((resolve) => {
    process.once("message", () => {
      resolve();
    });
  });
  const startedAt = Date.now();
  await Promise.all(job.names.map(bringOnline));
  const done: ZeroOverheadMessage = { startedAt };
  process.send?.(done);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
