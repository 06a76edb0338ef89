// The few Azure DevOps REST calls the tasks make (distributedtask 7.1 and the permissions API).
// azure-devops-node-api covers them too, but it resolves every route through OPTIONS requests
// to the Location service first, which more than doubles the calls per agent; these are five
// plain routes, so they are written here on @azure/core-rest-pipeline, the pipeline the Azure
// SDKs themselves use (retries with Retry-After, redirects, proxy settings).
import {
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
  type PipelineResponse,
  createDefaultHttpClient,
} from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/identity";
import { azureDevOpsScope } from "../azure/connection";
import { withDeadline } from "../core/deadline";
import { userAgentPrefix } from "../core/userAgent";

const apiVersion = "7.1";
/** Security namespace "DistributedTask" (agent pools), its token prefix and the Manage bit. */
const agentPoolNamespace = "101eae8c-1709-47f9-b228-0e476c35b3ba";
const managePermission = 2;
/** An Azure DevOps request that has not answered by then is taken as hung (retries included). */
const requestDeadlineMs = 60_000;

export type DevOpsAuth =
  | { kind: "pat"; token: string }
  | { kind: "bearer"; token: string }
  /** A Microsoft Entra identity: its token for Azure DevOps, renewed by the credential as it expires. */
  | { kind: "entra"; credential: TokenCredential };

export interface AgentPool {
  id: number;
  name: string;
  isHosted: boolean;
}

export interface PoolAgent {
  id: number;
  name: string;
  status: "online" | "offline";
  enabled: boolean;
  createdOn?: string;
  assignedRequest?: unknown;
  /** The agent's OAuth client and the public key it registered, where the service returns them. */
  authorization?: { clientId?: string; authorizationUrl?: string; publicKey?: { exponent?: string; modulus?: string } };
}

/** What `POST agents` takes: the agent as its config.sh registers it. */
export interface AgentRegistration {
  name: string;
  version: string;
  osDescription: string;
  maxParallelism: 1;
  provisioningState: "Provisioned";
  authorization: { publicKey: { exponent: string; modulus: string } };
  systemCapabilities: Record<string, string>;
}

/** The registration's answer: the agent, its OAuth client, and the server URL it should use. */
export interface RegisteredPoolAgent {
  id: number;
  name: string;
  authorization: { clientId: string; authorizationUrl: string };
  properties?: Record<string, unknown>;
}

/** One package of the agent feed (`_apis/distributedtask/packages/agent`). */
export interface AgentPackage {
  platform: string;
  version: string;
  downloadUrl: string;
  hashValue: string;
  filename: string | undefined;
}

/** The typeKey of a DevOpsError for an answer that is not Azure DevOps' JSON. */
export const NOT_AZURE_DEVOPS = "NotAzureDevOps";

/** Azure DevOps answered, but not with what the call needs. */
export class DevOpsError extends Error {
  override readonly name = "DevOpsError";
  constructor(
    message: string,
    readonly status: number,
    readonly typeKey?: string,
  ) {
    super(message);
  }
}

export class DevOpsClient {
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;
  private readonly baseUrl: string;
  /** Every request this client sent, for the summary and the benchmark. */
  requestCount = 0;

  constructor(
    organizationUrl: string,
    private readonly auth: DevOpsAuth,
  ) {
    this.baseUrl = organizationUrl.endsWith("/") ? organizationUrl : `${organizationUrl}/`;
    this.pipeline = createPipelineFromOptions({ retryOptions: { maxRetries: 4 }, userAgentOptions: { userAgentPrefix } });
    this.httpClient = createDefaultHttpClient();
  }

  async findPool(name: string, signal?: AbortSignal): Promise<AgentPool | undefined> {
    const result = await this.json<{ value: AgentPool[] }>("GET", `_apis/distributedtask/pools?poolName=${encodeURIComponent(name)}`, signal);
    return result.value.find((pool) => pool.name.toLowerCase() === name.toLowerCase());
  }

  /** Whether the caller holds Manage on the pool (what registering and removing agents need). */
  async canManagePool(poolId: number, signal?: AbortSignal): Promise<boolean> {
    const token = encodeURIComponent(`AgentPools/${poolId}`);
    const result = await this.json<{ value: boolean[] }>(
      "GET",
      `_apis/permissions/${agentPoolNamespace}/${managePermission}?tokens=${token}&alwaysAllowAdministrators=true`,
      signal,
    );
    return result.value[0] === true;
  }

  async listAgents(poolId: number, signal?: AbortSignal): Promise<PoolAgent[]> {
    const result = await this.json<{ value: PoolAgent[] }>("GET", `_apis/distributedtask/pools/${poolId}/agents?includeAssignedRequest=true`, signal);
    return result.value;
  }

  /** The registrations of that name (Azure DevOps compares names without regard to case). */
  async agentsNamed(poolId: number, name: string, signal?: AbortSignal): Promise<PoolAgent[]> {
    const result = await this.json<{ value: PoolAgent[] }>("GET", `_apis/distributedtask/pools/${poolId}/agents?agentName=${encodeURIComponent(name)}`, signal);
    return result.value.filter((agent) => agent.name.toLowerCase() === name.toLowerCase());
  }

  /** One registration, with the public key it holds (a list leaves it out). */
  async agent(poolId: number, agentId: number, signal?: AbortSignal): Promise<PoolAgent | undefined> {
    const response = await this.send("GET", `_apis/distributedtask/pools/${poolId}/agents/${agentId}`, signal);
    if (response.status === 404) return undefined;
    this.check(response);
    return parseJson(response, "agents") as unknown as PoolAgent;
  }

  /**
   * Registers an agent as its config.sh would. Only the request's own deadline ends it, never the
   * step's cancel: an answer that comes after a cancel names a registration to remove.
   */
  async registerAgent(poolId: number, registration: AgentRegistration): Promise<RegisteredPoolAgent> {
    const answer = await this.json<Partial<RegisteredPoolAgent>>("POST", `_apis/distributedtask/pools/${poolId}/agents`, undefined, registration);
    const { id, name, authorization } = answer;
    if (typeof id !== "number" || typeof name !== "string" || typeof authorization?.clientId !== "string" || typeof authorization.authorizationUrl !== "string") {
      throw new DevOpsError(`Azure DevOps registered agent ${registration.name} without the agent's id and OAuth client (authorization.clientId, authorization.authorizationUrl)`, 200, NOT_AZURE_DEVOPS);
    }
    return { id, name, authorization: { clientId: authorization.clientId, authorizationUrl: authorization.authorizationUrl }, ...(answer.properties === undefined ? {} : { properties: answer.properties }) };
  }

  /** Sets the agent's user capabilities, which only the pool's managers can change (no agent session can). */
  async setUserCapabilities(poolId: number, agentId: number, capabilities: Record<string, string>, signal?: AbortSignal): Promise<void> {
    await this.json("PUT", `_apis/distributedtask/pools/${poolId}/agents/${agentId}/usercapabilities`, signal, capabilities);
  }

  /** The newest agent package for a platform (linux-x64, linux-musl-x64), or undefined when the feed has none. */
  async agentPackage(platform: string, signal?: AbortSignal): Promise<AgentPackage | undefined> {
    const result = await this.json<{ value: { platform?: string; version?: { major?: number; minor?: number; patch?: number }; downloadUrl?: string; hashValue?: string; filename?: string }[] }>(
      "GET",
      `_apis/distributedtask/packages/agent?platform=${encodeURIComponent(platform)}&top=1`,
      signal,
    );
    const entry = result.value.find((p) => p.platform === platform);
    if (entry?.downloadUrl === undefined || entry.version === undefined) return undefined;
    const { major = 0, minor = 0, patch = 0 } = entry.version;
    return { platform, version: `${major}.${minor}.${patch}`, downloadUrl: entry.downloadUrl, hashValue: entry.hashValue ?? "", filename: entry.filename };
  }

  /** Deletes the agent registration; false when it was already gone. */
  async deleteAgent(poolId: number, agentId: number, signal?: AbortSignal): Promise<boolean> {
    const response = await this.send("DELETE", `_apis/distributedtask/pools/${poolId}/agents/${agentId}`, signal);
    if (response.status === 404) return false;
    this.check(response);
    return true;
  }

  private async json<T>(method: "GET" | "POST" | "PUT", path: string, signal: AbortSignal | undefined, body?: unknown): Promise<T> {
    const response = await this.send(method, path, signal, body);
    this.check(response);
    return parseJson(response, path) as T;
  }

  private check(response: PipelineResponse): void {
    if (response.status === 203 || (response.status >= 200 && response.status < 300 && isHtml(response))) {
      throw new DevOpsError(
        `Azure DevOps did not accept the credentials (it answered ${response.status} with a sign-in page): the token is invalid, expired, or lacks the Agent Pools (Read & manage) scope`,
        401,
      );
    }
    if (response.status >= 200 && response.status < 300) return;
    const body = safeJson(response.bodyAsText);
    const message = typeof body?.message === "string" ? body.message : (response.bodyAsText ?? "").slice(0, 300);
    const typeKey = typeof body?.typeKey === "string" ? body.typeKey : undefined;
    throw new DevOpsError(`Azure DevOps answered ${response.status}: ${message}`, response.status, typeKey);
  }

  private async send(method: "GET" | "POST" | "PUT" | "DELETE", path: string, signal: AbortSignal | undefined, body?: unknown): Promise<PipelineResponse> {
    const url = `${this.baseUrl}${path}${path.includes("?") ? "&" : "?"}api-version=${apiVersion}`;
    this.requestCount++;
    // The deadline covers getting an Entra token too.
    return withDeadline(`Azure DevOps: ${method} ${this.baseUrl}${path.split("?")[0] ?? path}`, requestDeadlineMs, signal, async (abortSignal) => {
      const headers = createHttpHeaders({ Accept: `application/json;api-version=${apiVersion}` });
      headers.set("Authorization", await this.authorization(abortSignal));
      if (body !== undefined) headers.set("Content-Type", "application/json");
      const request = createPipelineRequest({ url, method, headers, abortSignal, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return this.pipeline.sendRequest(this.httpClient, request);
    });
  }

  private async authorization(abortSignal: AbortSignal): Promise<string> {
    switch (this.auth.kind) {
      case "pat":
        return `Basic ${Buffer.from(`:${this.auth.token}`).toString("base64")}`;
      case "bearer":
        return `Bearer ${this.auth.token}`;
      case "entra": {
        const token = await this.auth.credential.getToken(azureDevOpsScope, { abortSignal });
        if (token === null) throw new DevOpsError("Microsoft Entra issued no token for Azure DevOps", 401);
        return `Bearer ${token.token}`;
      }
    }
  }
}

function isHtml(response: PipelineResponse): boolean {
  return (response.headers.get("content-type") ?? "").includes("html");
}

function parseJson(response: PipelineResponse, path: string): Record<string, unknown> {
  const body = safeJson(response.bodyAsText);
  if (body === undefined) {
    throw new DevOpsError(`Azure DevOps answered ${path.split("?")[0] ?? path} with something that is not JSON`, response.status, NOT_AZURE_DEVOPS);
  }
  return body;
}

function safeJson(text: string | null | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text === null || text.trim() === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
