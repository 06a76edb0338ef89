// A standby start with no step around it, forked by `npm run bench`: AciAgentStart's requests for
// each agent (claim, key read, registration, then user capabilities and config map update at once),
// each sent as soon as the one before it is answered, from a process already started, signed in
// and past pre-flight. What the emulator's model and this machine's cores leave when the client
// adds nothing of its own; the bench compares the step with it.
import { Agent, request } from "node:https";
import { readFileSync } from "node:fs";
import type { EmulatorInfo } from "../tests/helpers/emulator";
import { secretCredential } from "../tests/helpers/emulator";
import { PUBLIC_KEY_LINE, STANDBY_CONTAINER } from "../src/start/claim";
import { oauthEndpointOf, serverUrlOf } from "../src/start/register";
import { FLEET_VARIABLE, RUN_ID_VARIABLE, fleetName } from "../src/run/names";
import { NEVER_EXPIRES } from "../src/run/tags";

/** What the bench hands the client (argv[2], JSON). */
export interface ZeroOverheadJob {
  info: EmulatorInfo;
  runId: string;
  names: string[];
  poolId: number;
  standbyPoolId: string;
  profileId: string;
}

/** What the client answers once every agent's config map update is answered. */
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
  const claimBody = (keyValuePairs: Record<string, string>) => ({
    location: info.location,
    properties: {
      standbyPoolProfile: { id: job.standbyPoolId, failContainerGroupCreateOnReuseFailure: false },
      containerGroupProfile: { id: job.profileId, revision: 1 },
      containers: [{ name: STANDBY_CONTAINER, properties: { configMap: { keyValuePairs } } }],
    },
  });
  const fleet = fleetName("azp", job.runId);
  const runKeys = { [RUN_ID_VARIABLE]: job.runId, [FLEET_VARIABLE]: fleet, once: "true", expiresAt: NEVER_EXPIRES };
  const agentsUrl = `${info.organizationUrl}_apis/distributedtask/pools/${job.poolId}/agents`;

  const bringOnline = async (name: string) => {
    answered(await send(groupUrl(name), "PUT", arm, claimBody(runKeys)), `the claim of ${name}`, 200, 201);
    // A warm container printed its key before the claim.
    const log = answered(await send(groupUrl(name, `/containers/${STANDBY_CONTAINER}/logs`), "GET", arm), `the log of ${name}`, 200);
    const key = PUBLIC_KEY_LINE.exec((log.json as { content?: string } | undefined)?.content ?? "");
    if (key?.[1] === undefined || key[2] === undefined) throw new Error(`${name} was claimed without a key in its log`);
    const registration = {
      name,
      version: "4.264.2",
      osDescription: "Linux",
      maxParallelism: 1,
      authorization: { publicKey: { exponent: key[1], modulus: key[2] } },
      systemCapabilities: { [RUN_ID_VARIABLE]: job.runId, [FLEET_VARIABLE]: fleet, "Agent.Name": name },
    };
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
      send(`${agentsUrl}/${registered.id}/usercapabilities?api-version=7.1`, "PUT", devops, { [RUN_ID_VARIABLE]: job.runId, [FLEET_VARIABLE]: fleet }),
      send(groupUrl(name), "PUT", arm, claimBody(identity)),
    ]);
    answered(capabilities, `the user capabilities of ${name}`, 200);
    answered(update, `the config map update of ${name}`, 200, 201);
  };

  process.send?.({ ready: true });
  await new Promise<void>((resolve) => {
    process.once("message", () => {
      resolve();
    });
  });
  const startedAt = Date.now();
  await Promise.all(job.names.map(bringOnline));
  const done: ZeroOverheadDone = { startedAt };
  process.send?.(done, () => process.exit(0));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
