// Azure DevOps: agent pools and agents (distributedtask 7.1), the agent package, the agent's own
// token exchange, sessions, job messages and job requests, and the pipeline OIDC token route.
import { constants as cryptoConstants, createCipheriv, createHash, createPublicKey, publicEncrypt, randomBytes, randomUUID } from "node:crypto";
import type { Request, Response } from "express";
import { Router } from "express";
import { setTimeout as sleep } from "node:timers/promises";
import jwt from "jsonwebtoken";
import { azureDevOpsResourceId, devopsOidcIssuer, federatedAudience, tokenIssuer, type EmulatorContext } from "../context";
import { formBody, jsonBody, param, queryString } from "../http";
import type { Agent, AgentMessage, JobRequest, Pool } from "../state";
import { agentCapabilities, demandsMet } from "./demands";
import { agentPlatforms, agentVersion, agentVersionText } from "./agentPackage";

/** How long a messages request waits for a job before answering 204 (real agents: ~50 s). */
const messagePollWindowMs = 10_000;
const agentTokenLifetimeSeconds = 3600;
/** Security namespace "DistributedTask", which secures agent pools (tokens AgentPools/{id}). */
const agentPoolNamespace = "101eae8c-1709-47f9-b228-0e476c35b3ba";

/**
 * What the real listener does with its own OAuth token (paths below the organization), and so
 * all an agent token may do: VssConnection's connectionData; MessageListener's sessions and
 * messages; JobDispatcher's job requests (get, renew, finish); SelfUpdater's package reads and
 * update-state report (`PUT agents/{id}/updates`, location 8cc1b02b); FeatureFlagProvider's
 * flags. Anything else answers as a token without the scope (see agentTokenRefused).
 */
const agentTokenRoutes: readonly { method: string; path: RegExp }[] = [
  { method: "GET", path: /^\/_apis\/connectionData\/?$/i },
  { method: "POST", path: /^\/_apis\/distributedtask\/pools\/\d+\/sessions\/?$/i },
  { method: "DELETE", path: /^\/_apis\/distributedtask\/pools\/\d+\/sessions\/[^/]+$/i },
  { method: "GET", path: /^\/_apis\/distributedtask\/pools\/\d+\/messages\/?$/i },
  { method: "DELETE", path: /^\/_apis\/distributedtask\/pools\/\d+\/messages\/\d+$/i },
  { method: "GET", path: /^\/_apis\/distributedtask\/pools\/\d+\/jobrequests\/\d+$/i },
  { method: "PATCH", path: /^\/_apis\/distributedtask\/pools\/\d+\/jobrequests\/\d+$/i },
  { method: "GET", path: /^\/_apis\/distributedtask\/packages\/[^/]+(\/[^/]+\/[^/]+)?$/i },
  { method: "PUT", path: /^\/_apis\/distributedtask\/pools\/\d+\/agents\/\d+\/updates$/i },
  { method: "GET", path: /^\/_apis\/FeatureFlags\/[^/]+$/i },
];

/** Who a request authenticated as. */
export interface Caller {
  kind: "pat" | "accessToken" | "servicePrincipal" | "agent";
  id: string;
  agentId?: number;
}

type CallerRequest = Request & { caller?: Caller };

export function devopsRoutes(ctx: EmulatorContext): Router {
  const router = Router();
  const { state } = ctx;
  const org = `/${encodeURIComponent(orgName(ctx))}`;
  const api = `${org}/_apis/distributedtask`;

  // The agent CDN: anonymous, like download.agent.dev.azure.com.
  router.get("/_agentcdn/:version/:file", (req, res) => {
    if (param(req, "version") !== agentVersionText || !agentPlatforms.some((p) => ctx.agentPackage.fileName(p) === param(req, "file"))) {
      res.status(404).type("text").send("The specified blob does not exist.");
      return;
    }
    res.type("application/gzip").sendFile(ctx.agentPackage.file);
  });

  // The agent's OAuth token exchange: a JWT signed with the key it registered.
  router.post(`${org}/_apis/oauth2/token`, (req, res) => {
    const form = formBody(req);
    const assertion = form.get("client_assertion") ?? "";
    const decoded = jwt.decode(assertion, { json: true });
    const agent = [...state.agents.values()].find((a) => a.authorizationClientId === decoded?.iss);
    if (agent?.publicKey === undefined) {
      invalidClient(ctx, res);
      return;
    }
    const key = createPublicKey({
      key: { kty: "RSA", n: base64ToUrl(agent.publicKey.modulus), e: base64ToUrl(agent.publicKey.exponent) },
      format: "jwk",
    });
    try {
      jwt.verify(assertion, key, { algorithms: ["RS256"], audience: agentAuthorizationUrl(ctx), subject: agent.authorizationClientId, clockTolerance: 300 });
    } catch {
      invalidClient(ctx, res);
      return;
    }
    const token = ctx.tokens.sign({ aud: "agent", agentId: agent.id }, devopsIssuer(ctx), agentTokenLifetimeSeconds);
    res.json({ access_token: token, token_type: "Bearer", expires_in: agentTokenLifetimeSeconds });
  });

  router.use(org, authenticate(ctx), agentTokenScope);

  router.get(`${org}/_apis/connectionData`, (req: CallerRequest, res) => {
    const caller = callerOf(req);
    const identity = { id: identityId(caller), descriptor: `Microsoft.IdentityModel.Claims.ClaimsIdentity;${caller.id}`, providerDisplayName: caller.id, isActive: true };
    res.json({
      authenticatedUser: identity,
      authorizedUser: identity,
      instanceId: ctx.state.organizationId,
      deploymentId: ctx.state.organizationId,
      deploymentType: "hosted",
      locationServiceData: { serviceOwner: "00025394-6065-48ca-87d9-7f5672854ef7", defaultAccessMappingMoniker: "PublicAccessMapping" },
    });
  });

  // Security: "has permissions" for the DistributedTask namespace (agent pools), as the task's
  // pre-flight asks whether its identity may manage the pool. Other namespaces: always true.
  router.get(`${org}/_apis/permissions/:namespaceId/:permissions`, (req: CallerRequest, res) => {
    const tokens = (queryString(req, "tokens") ?? "").split(",");
    const caller = callerOf(req);
    const denied = state.behaviour.poolManageDenied.includes(caller.kind === "servicePrincipal" ? caller.id : caller.kind);
    const manageBit = 2;
    const asksManage = param(req, "namespaceId").toLowerCase() === agentPoolNamespace && (Number(param(req, "permissions")) & manageBit) !== 0;
    res.json({ count: tokens.length, value: tokens.map(() => !(asksManage && denied)) });
  });

  router.get(`${api}/pools`, (req, res) => {
    const name = queryString(req, "poolName");
    const pools = [...state.pools.values()].filter((p) => name === undefined || p.name.toLowerCase() === name.toLowerCase());
    res.json({ count: pools.length, value: pools.map((p) => poolJson(ctx, p)) });
  });

  router.get(`${api}/pools/:poolId`, (req, res) => {
    const pool = poolOf(ctx, req, res);
    if (pool !== undefined) res.json(poolJson(ctx, pool));
  });

  router.get(`${api}/pools/:poolId/agents`, (req, res) => {
    const pool = poolOf(ctx, req, res);
    if (pool === undefined) return;
    const name = queryString(req, "agentName");
    const agents = [...state.agents.values()].filter(
      (a) => a.poolId === pool.id && (name === undefined || a.name.toLowerCase() === name.toLowerCase()),
    );
    const options = listOptions(req);
    res.json({ count: agents.length, value: agents.map((a) => agentJson(ctx, a, options)) });
  });

  router.get(`${api}/pools/:poolId/agents/:agentId`, (req, res) => {
    const pool = poolOf(ctx, req, res);
    if (pool === undefined) return;
    const agent = state.agents.get(Number(param(req, "agentId")));
    if (agent?.poolId !== pool.id) {
      agentNotFound(res, param(req, "agentId"), pool);
      return;
    }
    res.json(agentJson(ctx, agent, { ...listOptions(req), authorization: "get" }));
  });

  router.post(`${api}/pools/:poolId/agents`, async (req: CallerRequest, res) => {
    const pool = poolOf(ctx, req, res);
    if (pool === undefined || !mayManage(ctx, req, res, pool)) return;
    const body = agentBody(req, res);
    if (body === undefined) return;
    await sleep(state.delays.registrationMs);
    if (state.agentByName(pool.id, body.name) !== undefined) {
      devopsError(res, 409, `Pool ${pool.name} already contains an agent with name ${body.name}.`, "TaskAgentExistsException");
      return;
    }
    const agent = newAgent(ctx, pool, body);
    state.agents.set(agent.id, agent);
    res.json(agentJson(ctx, agent, { capabilities: true, assignedRequest: false, authorization: "registration" }));
  });

  router.put(`${api}/pools/:poolId/agents/:agentId`, async (req: CallerRequest, res) => {
    const target = managedAgent(ctx, req, res);
    if (target === undefined) return;
    const { pool, agent: existing } = target;
    const body = agentBody(req, res);
    if (body === undefined) return;
    await sleep(state.delays.registrationMs);
    // Replacing an agent drops its session and takes the new key, as --replace does.
    const replaced = { ...newAgent(ctx, pool, body), id: existing.id, createdOn: existing.createdOn };
    state.agents.set(existing.id, replaced);
    res.json(agentJson(ctx, replaced, { capabilities: true, assignedRequest: false, authorization: "registration" }));
  });

  // User capabilities: the whole set, replaced; only a caller with Manage on the pool. Sessions
  // never change them.
  router.put(`${api}/pools/:poolId/agents/:agentId/usercapabilities`, (req: CallerRequest, res) => {
    const target = managedAgent(ctx, req, res);
    if (target === undefined) return;
    const body = jsonBody(req);
    if (body === undefined || body === null) {
      devopsError(res, 400, "Value cannot be null.\r\nParameter name: userCapabilities", "ArgumentNullException");
      return;
    }
    if (!isStringRecord(body)) {
      devopsError(res, 400, "User capabilities must be an object of names to string values.", "ArgumentException");
      return;
    }
    target.agent.userCapabilities = { ...body };
    res.json(agentJson(ctx, target.agent, { capabilities: true, assignedRequest: false }));
  });

  // The listener's self-update progress (SelfUpdater.UpdateAgentUpdateStateAsync): only for itself.
  router.put(`${api}/pools/:poolId/agents/:agentId/updates`, (req: CallerRequest, res) => {
    const pool = poolOf(ctx, req, res);
    if (pool === undefined) return;
    const caller = callerOf(req);
    const agent = caller.kind === "agent" ? agentOfCaller(ctx, req, res, pool) : managedAgent(ctx, req, res)?.agent;
    if (agent === undefined) return;
    if (agent.id !== Number(param(req, "agentId"))) {
      listenDenied(res, caller, pool);
      return;
    }
    res.json(agentJson(ctx, agent, { capabilities: false, assignedRequest: false }));
  });

  router.delete(`${api}/pools/:poolId/agents/:agentId`, (req: CallerRequest, res) => {
    const target = managedAgent(ctx, req, res);
    if (target === undefined) return;
    const { pool, agent } = target;
    const busyLeft = state.behaviour.busyDeletes.get(agent.name) ?? 0;
    if (agent.assignedRequestId !== undefined || busyLeft > 0) {
      if (busyLeft > 0) state.behaviour.busyDeletes.set(agent.name, busyLeft - 1);
      // [guess] status and type of this error; the message is the one agents print.
      devopsError(res, 400, `Agent "${agent.name}" is running a job for pool "${pool.name}"`, "TaskAgentJobStillRunningException");
      return;
    }
    state.agents.delete(agent.id);
    res.status(204).end();
  });

  router.get(`${api}/packages/:packageType`, (req, res) => {
    const platform = queryString(req, "platform");
    const platforms = agentPlatforms.filter((p) => platform === undefined || p === platform);
    const top = Number(queryString(req, "top") ?? platforms.length);
    const value = platforms.slice(0, top).map((p) => {
      const served = state.behaviour.muslFeedServesGlibc && p.startsWith("linux-musl-") ? p.replace("linux-musl-", "linux-") : p;
      return {
        type: param(req, "packageType"),
        platform: p,
        createdOn: "2026-10-01T00:00:00Z",
        version: agentVersion,
        filename: ctx.agentPackage.fileName(served),
        downloadUrl: `${ctx.urls.devopsHost}_agentcdn/${agentVersionText}/${ctx.agentPackage.fileName(served)}`,
        // A wrong entry keeps the musl build's hash, which the glibc file it names does not match.
        hashValue: state.behaviour.agentPackageHash ?? (served === p ? ctx.agentPackage.sha256 : createHash("sha256").update(`${ctx.agentPackage.sha256}:${p}`).digest("hex")),
        infoUrl: "https://go.microsoft.com/fwlink/?LinkId=798199",
      };
    });
    res.json({ count: value.length, value });
  });

  router.post(`${api}/pools/:poolId/sessions`, (req: CallerRequest, res) => {
    const pool = poolOf(ctx, req, res);
    const agent = pool === undefined ? undefined : agentOfCaller(ctx, req, res, pool);
    if (agent === undefined) return;
    if (agent.sessionId !== undefined) {
      devopsError(res, 409, `A session for agent ${agent.name} already exists.`, "TaskAgentSessionConflictException");
      return;
    }
    const sessionId = randomUUID();
    agent.sessionId = sessionId;
    // A new session's queue starts empty: a message the last session left undeleted goes with it.
    agent.undeliveredMessage = undefined;
    const body = jsonBody(req) as { ownerName?: string; systemCapabilities?: unknown } | undefined;
    // The listener sends its capabilities with every session; they replace the system ones only.
    if (isStringRecord(body?.systemCapabilities)) agent.systemCapabilities = body.systemCapabilities;
    res.json({
      sessionId,
      ownerName: body?.ownerName ?? agent.name,
      agent: { id: agent.id, name: agent.name, version: agent.version },
      encryptionKey: newSessionKey(agent),
    });
  });

  router.delete(`${api}/pools/:poolId/sessions/:sessionId`, (req: CallerRequest, res) => {
    const pool = poolOf(ctx, req, res);
    const agent = pool === undefined ? undefined : agentOfCaller(ctx, req, res, pool);
    if (agent === undefined) return;
    if (agent.sessionId === param(req, "sessionId")) agent.sessionId = undefined;
    res.status(204).end();
  });

  router.get(`${api}/pools/:poolId/messages`, async (req: CallerRequest, res) => {
    const pool = poolOf(ctx, req, res);
    const agent = pool === undefined ? undefined : agentOfCaller(ctx, req, res, pool);
    if (pool === undefined || agent === undefined) return;
    const sessionId = queryString(req, "sessionId");
    const deadline = Date.now() + messagePollWindowMs;
    while (!res.destroyed && Date.now() < deadline) {
      if (!state.agents.has(agent.id)) {
        agentNotFound(res, String(agent.id), pool);
        return;
      }
      if (agent.sessionId !== sessionId || state.agents.get(agent.id) !== agent) {
        devopsError(res, 404, `Session ${String(sessionId)} was not found.`, "TaskAgentSessionExpiredException");
        return;
      }
      if (agent.undeliveredMessage === undefined && agent.pendingUpdate !== undefined && agent.assignedRequestId === undefined) {
        agent.undeliveredMessage = { messageId: state.newId(), messageType: "AgentRefresh", body: JSON.stringify({ agentId: agent.id, targetVersion: agent.pendingUpdate }) };
        agent.pendingUpdate = undefined;
      }
      const job = agent.undeliveredMessage === undefined && isOnline(ctx, agent) ? assignJob(ctx, agent) : undefined;
      if (job !== undefined) {
        agent.undeliveredMessage = {
          messageId: job.messageId,
          messageType: "PipelineAgentJobRequest",
          body: JSON.stringify({ requestId: job.requestId, lockToken: job.lockToken, jobName: job.jobName, script: job.script }),
        };
      }
      if (agent.undeliveredMessage !== undefined) {
        res.json(messageJson(agent, agent.undeliveredMessage));
        return;
      }
      await sleep(50);
    }
    if (!res.destroyed) res.status(204).end();
  });

  router.delete(`${api}/pools/:poolId/messages/:messageId`, (req: CallerRequest, res) => {
    const pool = poolOf(ctx, req, res);
    const agent = pool === undefined ? undefined : agentOfCaller(ctx, req, res, pool);
    if (agent === undefined) return;
    if (agent.undeliveredMessage?.messageId === Number(param(req, "messageId"))) agent.undeliveredMessage = undefined;
    res.status(204).end();
  });

  router.get(`${api}/pools/:poolId/jobrequests/:requestId`, (req: CallerRequest, res) => {
    const pool = poolOf(ctx, req, res);
    if (pool === undefined) return;
    const caller = callerOf(req);
    const agent = caller.kind === "agent" ? agentOfCaller(ctx, req, res, pool) : undefined;
    if (caller.kind === "agent" && agent === undefined) return;
    const job = state.jobRequests.get(Number(param(req, "requestId")));
    if (job?.poolId !== pool.id || (agent !== undefined && job.assignedAgentId !== agent.id)) {
      devopsError(res, 404, `Job request ${param(req, "requestId")} was not found.`, "TaskAgentJobNotFoundException");
      return;
    }
    res.json(jobJson(job));
  });

  router.patch(`${api}/pools/:poolId/jobrequests/:requestId`, (req: CallerRequest, res) => {
    const pool = poolOf(ctx, req, res);
    const agent = pool === undefined ? undefined : agentOfCaller(ctx, req, res, pool);
    if (agent === undefined) return;
    const job = state.jobRequests.get(Number(param(req, "requestId")));
    if (job?.assignedAgentId !== agent.id || queryString(req, "lockToken") !== job.lockToken) {
      devopsError(res, 404, `Job request ${param(req, "requestId")} was not found.`, "TaskAgentJobNotFoundException");
      return;
    }
    const body = jsonBody(req) as { result?: string; finishTime?: string } | undefined;
    job.result = body?.result ?? "succeeded";
    job.finishTime = body?.finishTime ?? new Date().toISOString();
    agent.assignedRequestId = undefined;
    res.json(jobJson(job));
  });

  router.post(`${org}/:project/_apis/distributedtask/hubs/:hub/plans/:planId/jobs/:jobId/oidctoken`, (req: CallerRequest, res) => {
    const caller = callerOf(req);
    const serviceConnectionId = queryString(req, "serviceConnectionId");
    if (caller.kind !== "accessToken") {
      devopsError(res, 403, "Only a job access token may request an OIDC token.", "AccessDeniedException");
      return;
    }
    if (serviceConnectionId === undefined || serviceConnectionId === "") {
      devopsError(res, 400, "The serviceConnectionId query parameter is required.", "ArgumentNullException");
      return;
    }
    const oidcToken = ctx.tokens.sign(
      { aud: federatedAudience, sub: `sc://${orgName(ctx)}/${param(req, "project")}/${serviceConnectionId}` },
      devopsOidcIssuer(ctx.urls),
      600,
    );
    res.json({ oidcToken });
  });

  return router;
}

function orgName(ctx: EmulatorContext): string {
  return new URL(ctx.urls.organization).pathname.replace(/^\/|\/$/g, "");
}

function devopsIssuer(ctx: EmulatorContext): string {
  return `${ctx.urls.organization}_apis/oauth2`;
}

function agentAuthorizationUrl(ctx: EmulatorContext): string {
  return `${ctx.urls.organization}_apis/oauth2/token`;
}

function authenticate(ctx: EmulatorContext) {
  return (req: CallerRequest, res: Response, next: () => void): void => {
    const header = req.headers.authorization ?? "";
    const [scheme = "", credential = ""] = header.split(" ", 2);
    if (scheme.toLowerCase() === "basic") {
      const decoded = Buffer.from(credential, "base64").toString("utf8");
      const pat = decoded.slice(decoded.indexOf(":") + 1);
      if (ctx.state.pats.has(pat)) {
        req.caller = { kind: "pat", id: "pat-user@emulator" };
        next();
        return;
      }
      // Azure DevOps takes an OAuth or Entra access token as the password too: that is how the
      // agent's `--auth pat` registers with System.AccessToken or an Entra token.
      const tokenCaller = bearerCaller(ctx, pat);
      if (tokenCaller !== undefined && tokenCaller.kind !== "agent") {
        req.caller = tokenCaller;
        next();
        return;
      }
      signInPage(res);
      return;
    }
    if (scheme.toLowerCase() === "bearer") {
      const caller = bearerCaller(ctx, credential);
      if (caller !== undefined) {
        req.caller = caller;
        next();
        return;
      }
    }
    devopsError(res, 401, "TF400813: The user '' is not authorized to access this resource.", "UnauthorizedRequestException");
  };
}

function bearerCaller(ctx: EmulatorContext, token: string): Caller | undefined {
  if (ctx.state.systemAccessTokens.has(token)) return { kind: "accessToken", id: "Project Collection Build Service (emulator)" };
  const agentClaims = ctx.tokens.verify(token, devopsIssuer(ctx));
  if (agentClaims?.aud === "agent" && typeof agentClaims.agentId === "number") {
    return { kind: "agent", id: `agent-${agentClaims.agentId}`, agentId: agentClaims.agentId };
  }
  const decoded = jwt.decode(token, { json: true });
  const tenant = typeof decoded?.tid === "string" ? decoded.tid : "";
  const entraClaims = ctx.tokens.verify(token, tokenIssuer(tenant));
  if (entraClaims?.aud === azureDevOpsResourceId && typeof entraClaims.appid === "string") {
    return { kind: "servicePrincipal", id: entraClaims.appid };
  }
  return undefined;
}

/** What Azure DevOps answers a bad or expired PAT with: a 203 and its sign-in page. */
function signInPage(res: Response): void {
  res
    .status(203)
    .type("html")
    .send(
      '<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head><body><form id="signin" method="post" action="https://app.vssps.visualstudio.com/_signin"><p>Sign in to continue to Azure DevOps.</p></form></body></html>',
    );
}

function callerOf(req: CallerRequest): Caller {
  if (req.caller === undefined) throw new Error("unauthenticated request reached a route");
  return req.caller;
}

function identityId(caller: Caller): string {
  return caller.kind === "servicePrincipal" ? caller.id : `00000000-0000-4000-8000-${Buffer.from(caller.id).toString("hex").padEnd(12, "0").slice(0, 12)}`;
}

export function devopsError(res: Response, status: number, message: string, typeKey: string, typeName?: string): void {
  res.status(status).json({
    $id: "1",
    innerException: null,
    message,
    typeName: typeName ?? `Microsoft.TeamFoundation.DistributedTask.WebApi.${typeKey}, Microsoft.TeamFoundation.DistributedTask.WebApi`,
    typeKey,
    errorCode: 0,
    eventId: 3000,
  });
}

function poolOf(ctx: EmulatorContext, req: Request, res: Response): Pool | undefined {
  const pool = ctx.state.pools.get(Number(param(req, "poolId")));
  if (pool === undefined) devopsError(res, 404, `Agent pool ${param(req, "poolId")} could not be found.`, "TaskAgentPoolNotFoundException");
  return pool;
}

function agentNotFound(res: Response, agentId: string, pool: Pool): void {
  devopsError(res, 404, `Agent ${agentId} could not be found in pool ${pool.name}.`, "TaskAgentNotFoundException");
}

function mayManage(ctx: EmulatorContext, req: CallerRequest, res: Response, pool: Pool): boolean {
  const caller = callerOf(req);
  if (caller.kind === "agent" || ctx.state.behaviour.poolManageDenied.includes(caller.kind === "servicePrincipal" ? caller.id : caller.kind)) {
    devopsError(
      res,
      403,
      `Access denied. ${caller.id} needs Manage permissions for pool ${pool.name} to perform the action. For more information, contact the Azure DevOps Server administrator.`,
      "AccessDeniedException",
    );
    return false;
  }
  return true;
}

/** The pool and agent a write names, when the caller may manage the pool; else answered. */
function managedAgent(ctx: EmulatorContext, req: CallerRequest, res: Response): { pool: Pool; agent: Agent } | undefined {
  const pool = poolOf(ctx, req, res);
  if (pool === undefined || !mayManage(ctx, req, res, pool)) return undefined;
  const agent = ctx.state.agents.get(Number(param(req, "agentId")));
  if (agent?.poolId !== pool.id) {
    agentNotFound(res, param(req, "agentId"), pool);
    return undefined;
  }
  return { pool, agent };
}

/**
 * The agent an agent token belongs to, for its own pool. Another caller: 403; the token of an
 * agent deleted since: 404 TaskAgentNotFoundException; another pool: 403 (no Listen there).
 */
function agentOfCaller(ctx: EmulatorContext, req: CallerRequest, res: Response, pool: Pool): Agent | undefined {
  const caller = callerOf(req);
  if (caller.agentId === undefined) {
    devopsError(res, 403, "Access denied: only the agent itself may use its session.", "AccessDeniedException");
    return undefined;
  }
  const agent = ctx.state.agents.get(caller.agentId);
  if (agent === undefined) {
    agentNotFound(res, String(caller.agentId), pool);
    return undefined;
  }
  if (agent.poolId !== pool.id) {
    listenDenied(res, caller, pool);
    return undefined;
  }
  return agent;
}

function listenDenied(res: Response, caller: Caller, pool: Pool): void {
  devopsError(
    res,
    403,
    `Access denied. ${caller.id} needs Listen permissions for pool ${pool.name} to perform the action. For more information, contact the Azure DevOps Server administrator.`,
    "AccessDeniedException",
  );
}

/** An agent's token on anything its listener never calls: as a token without that scope. */
function agentTokenScope(req: CallerRequest, res: Response, next: () => void): void {
  const caller = callerOf(req);
  if (caller.kind !== "agent" || agentTokenRoutes.some((r) => r.method === req.method && r.path.test(req.path))) {
    next();
    return;
  }
  devopsError(
    res,
    401,
    `TF400813: The user '${identityId(caller)}' is not authorized to access this resource.`,
    "InvalidIdentityException",
    "Microsoft.TeamFoundation.Framework.Server.InvalidIdentityException, Microsoft.TeamFoundation.Framework.Server",
  );
}

/**
 * What the token endpoint answers a client it does not know (or whose assertion fails): 400
 * invalid_client "The client is not valid", as OAuth2TokenController does; 401 by behaviour.
 */
function invalidClient(ctx: EmulatorContext, res: Response): void {
  res.status(ctx.state.behaviour.agentTokenRefusal).json({ error: "invalid_client", error_description: "The client is not valid" });
}

/**
 * A fresh AES-256 key for the agent's new session, sent RSA-OAEP (SHA-1) encrypted to its
 * registered key, as MessageListener.GetMessageDecryptor expects; none without a key.
 */
function newSessionKey(agent: Agent): { encrypted: true; value: string } | undefined {
  if (agent.publicKey === undefined) {
    agent.sessionKey = undefined;
    return undefined;
  }
  agent.sessionKey = randomBytes(32);
  const key = createPublicKey({ key: { kty: "RSA", n: base64ToUrl(agent.publicKey.modulus), e: base64ToUrl(agent.publicKey.exponent) }, format: "jwk" });
  const value = publicEncrypt({ key, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, agent.sessionKey);
  return { encrypted: true, value: value.toString("base64") };
}

/**
 * A message as handed out: a job request encrypted with the session's key (AES-CBC, PKCS#7,
 * base64 body, `iv`); an AgentRefresh in clear [guess: that the service leaves it so].
 */
function messageJson(agent: Agent, message: AgentMessage): Record<string, unknown> {
  if (message.messageType !== "PipelineAgentJobRequest" || agent.sessionKey === undefined) return { ...message };
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-256-cbc", agent.sessionKey, iv);
  const body = Buffer.concat([cipher.update(message.body, "utf8"), cipher.final()]).toString("base64");
  return { messageId: message.messageId, messageType: message.messageType, iv: iv.toString("base64"), body };
}

interface AgentBody {
  name: string;
  version: string;
  osDescription: string;
  enabled: boolean;
  systemCapabilities: Record<string, string>;
  publicKey?: { exponent: string; modulus: string };
}

function agentBody(req: Request, res: Response): AgentBody | undefined {
  const body = jsonBody(req) as (Partial<Omit<AgentBody, "publicKey">> & { authorization?: { publicKey?: AgentBody["publicKey"] } }) | undefined;
  if (body === undefined || typeof body.name !== "string" || body.name === "") {
    devopsError(res, 400, "Value cannot be null.\r\nParameter name: agent.Name", "ArgumentNullException");
    return undefined;
  }
  return {
    name: body.name,
    version: body.version ?? agentVersionText,
    osDescription: body.osDescription ?? "",
    enabled: body.enabled ?? true,
    systemCapabilities: body.systemCapabilities ?? {},
    publicKey: body.authorization?.publicKey,
  };
}

function newAgent(ctx: EmulatorContext, pool: Pool, body: AgentBody): Agent {
  return {
    id: ctx.state.newId(),
    poolId: pool.id,
    name: body.name,
    version: body.version,
    osDescription: body.osDescription,
    enabled: body.enabled,
    createdOn: new Date().toISOString(),
    systemCapabilities: body.systemCapabilities,
    // [guess] A registration (POST, or PUT on --replace) never sets user capabilities, whatever
    // its body says: only PUT usercapabilities does.
    userCapabilities: {},
    publicKey: body.publicKey,
    authorizationClientId: randomUUID(),
  };
}

interface AgentJsonOptions {
  capabilities: boolean;
  assignedRequest: boolean;
  /**
   * "registration": the answer to POST/PUT, with the agent's OAuth client and authorization URL;
   * "get": a single agent's GET, with clientId and publicKey only, as the documented example of a
   * deployment target's agent shows; absent: lists, without it.
   */
  authorization?: "registration" | "get";
}

function listOptions(req: Request): AgentJsonOptions {
  return {
    capabilities: queryString(req, "includeCapabilities") === "true",
    assignedRequest: queryString(req, "includeAssignedRequest") === "true",
  };
}

export function isOnline(ctx: EmulatorContext, agent: Agent): boolean {
  return agent.sessionId !== undefined && !ctx.state.behaviour.agentsNeverOnline.some((prefix) => agent.name.startsWith(prefix));
}

function agentJson(ctx: EmulatorContext, agent: Agent, options: AgentJsonOptions): Record<string, unknown> {
  const job = agent.assignedRequestId === undefined ? undefined : ctx.state.jobRequests.get(agent.assignedRequestId);
  return {
    _links: { self: { href: `${ctx.urls.organization}_apis/distributedtask/pools/${agent.poolId}/agents/${agent.id}` } },
    maxParallelism: 1,
    createdOn: agent.createdOn,
    authorization:
      options.authorization === "registration"
        ? { clientId: agent.authorizationClientId, authorizationUrl: agentAuthorizationUrl(ctx), publicKey: agent.publicKey }
        : options.authorization === "get"
          ? { clientId: agent.authorizationClientId, publicKey: agent.publicKey }
          : undefined,
    id: agent.id,
    name: agent.name,
    version: agent.version,
    osDescription: agent.osDescription,
    enabled: agent.enabled,
    status: isOnline(ctx, agent) ? "online" : "offline",
    provisioningState: "Provisioned",
    accessPoint: "CodexAccessMapping",
    systemCapabilities: options.capabilities ? agent.systemCapabilities : undefined,
    userCapabilities: options.capabilities ? agent.userCapabilities : undefined,
    assignedRequest: options.assignedRequest && job !== undefined ? jobJson(job) : undefined,
  };
}

function poolJson(ctx: EmulatorContext, pool: Pool): Record<string, unknown> {
  const size = [...ctx.state.agents.values()].filter((a) => a.poolId === pool.id).length;
  return {
    createdOn: "2026-01-01T00:00:00Z",
    autoProvision: false,
    autoUpdate: true,
    autoSize: true,
    targetSize: null,
    agentCloudId: null,
    createdBy: { displayName: "Emulator Admin" },
    owner: { displayName: "Emulator Admin" },
    id: pool.id,
    scope: ctx.state.organizationId,
    name: pool.name,
    isHosted: false,
    poolType: "automation",
    size,
    isLegacy: false,
    options: "none",
  };
}

function jobJson(job: JobRequest): Record<string, unknown> {
  return {
    requestId: job.requestId,
    queueTime: job.queueTime,
    assignTime: job.assignTime,
    finishTime: job.finishTime,
    result: job.result,
    demands: job.demands,
    reservedAgent: job.assignedAgentId === undefined ? undefined : { id: job.assignedAgentId },
    definition: { name: job.jobName },
  };
}

/** Gives the agent the oldest queued job of its pool whose demands its capabilities meet. */
function assignJob(ctx: EmulatorContext, agent: Agent): (JobRequest & { messageId: number; lockToken: string }) | undefined {
  if (agent.assignedRequestId !== undefined || !agent.enabled) return undefined;
  const capabilities = agentCapabilities(agent.systemCapabilities, agent.userCapabilities);
  const job = [...ctx.state.jobRequests.values()].find(
    (j) => j.poolId === agent.poolId && j.assignedAgentId === undefined && demandsMet(capabilities, j.demands),
  );
  if (job === undefined) return undefined;
  job.assignedAgentId = agent.id;
  job.assignTime = new Date().toISOString();
  job.messageId = ctx.state.newId();
  job.lockToken = randomUUID();
  agent.assignedRequestId = job.requestId;
  return job as JobRequest & { messageId: number; lockToken: string };
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string");
}

function base64ToUrl(value: string): string {
  return Buffer.from(value, "base64").toString("base64url");
}
