/**
 * Mocha helpers for tests that talk to the local emulator (emulator/) over HTTPS.
 *
 * The emulator's test CA cannot reach this process through NODE_EXTRA_CA_CERTS (read at start),
 * so SDK clients get it through core-rest-pipeline's `tlsOptions: { ca }` and raw calls through
 * `https.request({ ca })`.
 */
import { strict as assert } from "node:assert";
import { constants as cryptoConstants, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, privateDecrypt, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { ContainerInstanceManagementClient, type ContainerGroup } from "@azure/arm-containerinstance";
import { ClientSecretCredential, type TokenCredential } from "@azure/identity";
import jwt from "jsonwebtoken";
import { startEmulator, type EmulatorInfo, type RunningEmulator } from "../../emulator/emulator";

export type { EmulatorInfo, RunningEmulator };

/** Azure DevOps' resource id in Microsoft Entra. */
export const azureDevOpsResource = "499b84ac-1321-427f-aa17-267ca6975798";

/**
 * Starts one emulator for the enclosing `describe`, resets it before every test and stops it
 * afterwards. Returns an accessor for the running emulator (valid inside hooks and tests).
 */
export function useEmulator(): () => RunningEmulator {
  let running: RunningEmulator | undefined;
  before(async function () {
    this.timeout(120_000);
    running = await startEmulator({});
  });
  beforeEach(async function () {
    if (running === undefined) throw new Error("the emulator did not start");
    const reset = await control(running.info, "POST", "/reset");
    if (reset.status !== 204) throw new Error(`POST /reset answered ${reset.status}: ${reset.text}`);
  });
  after(async function () {
    this.timeout(60_000);
    await running?.stop();
    running = undefined;
  });
  return () => {
    if (running === undefined) throw new Error("the emulator is not running (use it inside a test or hook)");
    return running;
  };
}

const caCache = new Map<string, string>();

/** The emulator's CA certificate (PEM). */
export function caOf(info: EmulatorInfo): string {
  let ca = caCache.get(info.caFile);
  if (ca === undefined) {
    ca = readFileSync(info.caFile, "utf8");
    caCache.set(info.caFile, ca);
  }
  return ca;
}

/** Options every @azure/identity credential needs to talk to the emulated Entra. */
export function credentialOptions(info: EmulatorInfo): {
  authorityHost: string;
  disableInstanceDiscovery: true;
  tlsOptions: { ca: string };
} {
  return { authorityHost: info.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: caOf(info) } };
}

export function secretCredential(info: EmulatorInfo, secret = info.clientSecret): ClientSecretCredential {
  return new ClientSecretCredential(info.tenantId, info.clientId, secret, credentialOptions(info));
}

export interface ArmClientOptions {
  credential?: TokenCredential;
  /** Overrides the SDK's retry options (e.g. `{ maxRetries: 0 }`). */
  retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
}

export function armClient(info: EmulatorInfo, options: ArmClientOptions = {}): ContainerInstanceManagementClient {
  return new ContainerInstanceManagementClient(options.credential ?? secretCredential(info), info.subscriptionId, {
    endpoint: info.armUrl,
    credentialScopes: [`${info.armUrl}.default`],
    tlsOptions: { ca: caOf(info) },
    ...(options.retryOptions === undefined ? {} : { retryOptions: options.retryOptions }),
  });
}

/** SDK poller options that poll long-running operations fast (the emulator answers at once). */
export const fastPolling = { updateIntervalInMs: 25 };

/** A container's log once it matches `until` (read through the SDK until then). */
export async function logOf(info: EmulatorInfo, group: string, containerName: string, until: RegExp, timeoutMs?: number): Promise<string> {
  return eventually(
    `${group}/${containerName}'s log to match ${String(until)}`,
    async () => {
      const content = (await armClient(info).containers.listLogs(info.resourceGroup, group, containerName)).content ?? "";
      return until.test(content) ? content : undefined;
    },
    timeoutMs,
  );
}

/** What a failed SDK call rejects with (a RestError, as far as the tests look at it). */
export interface RestErrorLike {
  name: string;
  message: string;
  statusCode?: number;
  code?: string;
}

/** The error `promise` rejects with; fails the test when it resolves or rejects with a non-Error. */
export async function rejectionOf(promise: Promise<unknown>): Promise<RestErrorLike> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

/** The `error` object of an ARM error body (empty when there is none). */
export function armError(json: unknown): { code?: string; message?: string } {
  return (json as { error?: { code?: string; message?: string } } | undefined)?.error ?? {};
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The raw body. */
  body: Buffer;
  /** The body parsed as JSON; undefined when it is empty or not JSON. */
  json: unknown;
}

export interface RawRequest {
  method: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

/** One HTTPS request trusting the emulator's CA. Never throws for an HTTP status. */
export function rawRequest(info: EmulatorInfo, url: string, init: RawRequest): Promise<HttpResult> {
  const headers: Record<string, string> = { ...init.headers };
  let payload: string | undefined;
  if (init.body !== undefined) {
    if (typeof init.body === "string") {
      payload = init.body;
    } else {
      payload = JSON.stringify(init.body);
      headers["Content-Type"] ??= "application/json";
    }
    headers["Content-Length"] = String(Buffer.byteLength(payload));
  }
  return new Promise<HttpResult>((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method, headers, ca: caOf(info), signal: init.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        const text = body.toString("utf8");
        let json: unknown;
        try {
          json = text === "" ? undefined : (JSON.parse(text) as unknown);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body, json });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** A call to the control API, e.g. `control(info, "PUT", "/behaviour", { strict: false })`. */
export function control(info: EmulatorInfo, method: string, path: string, body?: unknown): Promise<HttpResult> {
  return rawRequest(info, `${info.controlUrl}${path.startsWith("/") ? path : `/${path}`}`, { method, body });
}

/** Sets emulator behaviour through PUT /behaviour, failing the test when it is refused. */
export async function setBehaviour(info: EmulatorInfo, behaviour: Record<string, unknown>): Promise<void> {
  const res = await control(info, "PUT", "/behaviour", behaviour);
  if (res.status !== 200) throw new Error(`PUT /behaviour answered ${res.status}: ${res.text}`);
}

export async function setDelays(info: EmulatorInfo, delays: Record<string, number>): Promise<void> {
  const res = await control(info, "PUT", "/delays", delays);
  if (res.status !== 200) throw new Error(`PUT /delays answered ${res.status}: ${res.text}`);
}

export interface RequestLogEntry {
  service: string;
  method: string;
  url: string;
  status: number;
  requestBody: string;
  responseBody: string;
  at: string;
}

/** Every exchange the emulator recorded since the last reset (GET /_emulator/requests). */
export async function requestLog(info: EmulatorInfo): Promise<RequestLogEntry[]> {
  const res = await control(info, "GET", "/requests");
  if (res.status !== 200) throw new Error(`GET /requests answered ${res.status}`);
  return res.json as RequestLogEntry[];
}

export type DevOpsAuth = "pat" | "bearer" | "none" | { pat: string } | { bearer: string } | { basic: string };

export interface DevOpsOptions {
  /** Default "pat" (the well-known PAT); "bearer" sends the well-known System.AccessToken. */
  auth?: DevOpsAuth;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * A call to the emulated Azure DevOps organization. `path` is relative to the organization URL
 * (e.g. `_apis/distributedtask/pools?poolName=aci`) or absolute; `api-version=7.1` is added when
 * the path has no api-version.
 */
export function devops(info: EmulatorInfo, method: string, path: string, options: DevOpsOptions = {}): Promise<HttpResult> {
  const url = new URL(path, info.organizationUrl);
  if (!url.searchParams.has("api-version")) url.searchParams.set("api-version", "7.1");
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  const auth = options.auth ?? "pat";
  if (auth === "pat") headers.Authorization = basic(info.pat);
  else if (auth === "bearer") headers.Authorization = `Bearer ${info.systemAccessToken}`;
  else if (auth !== "none") {
    if ("pat" in auth) headers.Authorization = basic(auth.pat);
    else if ("bearer" in auth) headers.Authorization = `Bearer ${auth.bearer}`;
    else headers.Authorization = `Basic ${auth.basic}`;
  }
  return rawRequest(info, url.toString(), { method, headers, body: options.body, signal: options.signal });
}

function basic(pat: string): string {
  return `Basic ${Buffer.from(`VstsAgent:${pat}`).toString("base64")}`;
}

/** A raw ARM call; `path` is relative to the ARM endpoint. `token: null` sends no Authorization. */
export async function arm(
  info: EmulatorInfo,
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? await armToken(info) : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  return rawRequest(info, new URL(path.replace(/^\//, ""), info.armUrl).toString(), { method, headers, body: options.body });
}

/** An ARM access token of the well-known service principal. */
export async function armToken(info: EmulatorInfo): Promise<string> {
  const token = await secretCredential(info).getToken(`${info.armUrl}.default`);
  return token.token;
}

export const containerGroupsApiVersion = "2023-05-01";

/** The ARM path of a container group (with api-version). */
export function groupPath(info: EmulatorInfo, name: string, resourceGroup = info.resourceGroup, suffix = ""): string {
  return `subscriptions/${info.subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerInstance/containerGroups/${name}${suffix}?api-version=${containerGroupsApiVersion}`;
}

export interface GroupSpec {
  command?: string[];
  restartPolicy?: "Always" | "OnFailure" | "Never";
  image?: string;
  environmentVariables?: { name: string; value?: string; secureValue?: string }[];
  location?: string;
  cpu?: number;
  memoryInGB?: number;
}

/** A minimal valid container group with one container named "main". */
export function containerGroup(info: EmulatorInfo, spec: GroupSpec = {}): ContainerGroup {
  return {
    location: spec.location ?? info.location,
    osType: "Linux",
    restartPolicy: spec.restartPolicy ?? "Never",
    containers: [
      {
        name: "main",
        image: spec.image ?? "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04",
        resources: { requests: { cpu: spec.cpu ?? 1, memoryInGB: spec.memoryInGB ?? 1.5 } },
        ...(spec.command === undefined ? {} : { command: spec.command }),
        ...(spec.environmentVariables === undefined ? {} : { environmentVariables: spec.environmentVariables }),
      },
    ],
  };
}

/** The same group in ARM's wire shape, for raw PUTs. */
export function containerGroupWire(info: EmulatorInfo, spec: GroupSpec = {}): Record<string, unknown> {
  return {
    location: spec.location ?? info.location,
    properties: {
      osType: "Linux",
      restartPolicy: spec.restartPolicy ?? "Never",
      containers: [
        {
          name: "main",
          properties: {
            image: spec.image ?? "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04",
            resources: { requests: { cpu: spec.cpu ?? 1, memoryInGB: spec.memoryInGB ?? 1.5 } },
            ...(spec.command === undefined ? {} : { command: spec.command }),
            ...(spec.environmentVariables === undefined ? {} : { environmentVariables: spec.environmentVariables }),
          },
        },
      ],
    },
  };
}

/**
 * Polls `probe` until it returns a value other than undefined. Fails with `what` when it has
 * not after `timeoutMs` (a safety net against hanging, not a timing assertion).
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out waiting for ${what}${reason}`);
    }
    await sleep(50);
  }
}

// ------------------------------------------------------------------------------------------
// Azure DevOps agents: registration with a key, the agent's own token and its session.
// ------------------------------------------------------------------------------------------

export interface AgentKey {
  privateKeyPem: string;
  /** As the agent sends it: standard base64 of the big-endian integers. */
  publicKey: { exponent: string; modulus: string };
}

export function agentKey(): AgentKey {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  if (typeof jwk.n !== "string" || typeof jwk.e !== "string") throw new Error("no RSA public key");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: {
      exponent: Buffer.from(jwk.e, "base64url").toString("base64"),
      modulus: Buffer.from(jwk.n, "base64url").toString("base64"),
    },
  };
}

export interface AgentJson {
  id: number;
  name: string;
  version: string;
  status: string;
  enabled: boolean;
  osDescription?: string;
  systemCapabilities?: Record<string, string>;
  userCapabilities?: Record<string, string>;
  authorization?: { clientId: string; authorizationUrl: string; publicKey?: { exponent: string; modulus: string } };
}

export interface PoolJson {
  id: number;
  name: string;
  isHosted: boolean;
  poolType: string;
  size: number;
}

/** The id of a pool, looked up by name through the REST API. */
export async function poolId(info: EmulatorInfo, name = info.pool): Promise<number> {
  const res = await devops(info, "GET", `_apis/distributedtask/pools?poolName=${encodeURIComponent(name)}`);
  const pool = (res.json as { value?: PoolJson[] } | undefined)?.value?.[0];
  if (res.status !== 200 || pool === undefined) throw new Error(`no pool ${name}: ${res.status} ${res.text}`);
  return pool.id;
}

export interface RegisterAgentOptions {
  name?: string;
  key?: AgentKey;
  systemCapabilities?: Record<string, string>;
  userCapabilities?: Record<string, string>;
  version?: string;
  auth?: DevOpsAuth;
}

/** The body config.sh posts to register an agent. */
export function agentRegistration(name: string, key: AgentKey, options: RegisterAgentOptions = {}): Record<string, unknown> {
  return {
    name,
    version: options.version ?? "4.264.2",
    osDescription: "Linux 6.8.0 #1 SMP x86_64",
    maxParallelism: 1,
    enabled: true,
    authorization: { publicKey: key.publicKey },
    systemCapabilities: options.systemCapabilities ?? { "Agent.OS": "Linux", "Agent.Name": name },
    ...(options.userCapabilities === undefined ? {} : { userCapabilities: options.userCapabilities }),
  };
}

/** Registers an agent (POST agents) with the PAT; fails unless Azure DevOps answers 200. */
export async function registerAgent(
  info: EmulatorInfo,
  pool: number,
  options: RegisterAgentOptions = {},
): Promise<{ agent: AgentJson; key: AgentKey }> {
  const key = options.key ?? agentKey();
  const name = options.name ?? `agent-${randomUUID().slice(0, 8)}`;
  const res = await devops(info, "POST", `_apis/distributedtask/pools/${pool}/agents`, {
    auth: options.auth ?? "pat",
    body: agentRegistration(name, key, options),
  });
  if (res.status !== 200) throw new Error(`POST agents answered ${res.status}: ${res.text}`);
  return { agent: res.json as AgentJson, key };
}

/** The agent's OAuth token: a JWT signed with its registered key, exchanged at authorizationUrl. */
export async function agentAccessToken(info: EmulatorInfo, agent: AgentJson, key: AgentKey): Promise<HttpResult> {
  if (agent.authorization === undefined) throw new Error("the agent has no authorization");
  const { clientId, authorizationUrl } = agent.authorization;
  const assertion = jwt.sign({ jti: randomUUID() }, createPrivateKey(key.privateKeyPem), {
    algorithm: "RS256",
    issuer: clientId,
    subject: clientId,
    audience: authorizationUrl,
    expiresIn: 300,
    notBefore: 0,
  });
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: assertion,
  });
  return rawRequest(info, authorizationUrl, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
}

export interface AgentSession {
  token: string;
  sessionId: string;
  /** As POST sessions answers it: the session's AES key, RSA-OAEP (SHA-1) encrypted to the agent's key. */
  encryptionKey?: { encrypted: boolean; value: string };
}

/** Takes the agent's token and opens a session, as the agent's listener does. */
export async function connectAgent(info: EmulatorInfo, pool: number, agent: AgentJson, key: AgentKey): Promise<AgentSession> {
  const tokenResponse = await agentAccessToken(info, agent, key);
  const token = (tokenResponse.json as { access_token?: string } | undefined)?.access_token;
  if (tokenResponse.status !== 200 || token === undefined) {
    throw new Error(`agent token exchange answered ${tokenResponse.status}: ${tokenResponse.text}`);
  }
  const session = await devops(info, "POST", `_apis/distributedtask/pools/${pool}/sessions`, {
    auth: { bearer: token },
    body: { ownerName: agent.name, agent: { id: agent.id, name: agent.name, version: agent.version }, useFipsEncryption: false },
  });
  const answer = session.json as { sessionId?: string; encryptionKey?: { encrypted: boolean; value: string } } | undefined;
  const sessionId = answer?.sessionId;
  if (session.status !== 200 || sessionId === undefined) throw new Error(`POST sessions answered ${session.status}: ${session.text}`);
  return { token, sessionId, encryptionKey: answer?.encryptionKey };
}

/** The session's AES key, decrypted as MessageListener.GetMessageDecryptor does (throws with a wrong key). */
export function sessionKey(session: AgentSession, key: AgentKey): Buffer {
  if (session.encryptionKey?.encrypted !== true) throw new Error("the session has no encrypted key");
  return privateDecrypt(
    { key: createPrivateKey(key.privateKeyPem), padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
    Buffer.from(session.encryptionKey.value, "base64"),
  );
}

/** A message's body in clear: decrypted with the session key when it carries an `iv` (MessageListener.DecryptMessage). */
export function messageBody(envelope: { body: string; iv?: string }, aesKey: Buffer): string {
  if (envelope.iv === undefined) return envelope.body;
  const decipher = createDecipheriv("aes-256-cbc", aesKey, Buffer.from(envelope.iv, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(envelope.body, "base64")), decipher.final()]).toString("utf8");
}

/** PUT usercapabilities (the whole set) with the PAT unless `auth` says otherwise. */
export function setUserCapabilities(info: EmulatorInfo, pool: number, agentId: number, capabilities: unknown, auth: DevOpsAuth = "pat"): Promise<HttpResult> {
  return devops(info, "PUT", `_apis/distributedtask/pools/${pool}/agents/${agentId}/usercapabilities`, { auth, body: capabilities });
}

/** Whether a process runs (a zombie nobody reaped yet counts as ended). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return true;
  }
}
