// The control API (/_emulator): reset, inspect, slow down and break the emulated services.
// Like Azurite's and moto's, it is for tests and demos; it has no authentication and listens
// on loopback only.
import { randomBytes } from "node:crypto";
import { Router, type Response } from "express";
import type { EmulatorContext } from "../context";
import { groupView, normaliseLocation } from "../arm/containerGroups";
import { parseDemand } from "../devops/demands";
import { isOnline } from "../devops/routes";
import { jsonBody, param } from "../http";
import { usageNames, wellKnown, type Behaviour, type Delays, type FaultRule, type ImageDefinition, type RateLimits, type UsageName } from "../state";
import { certificateThumbprints } from "../tokens";

export function controlRoutes(ctx: EmulatorContext): Router {
  const router = Router();
  const { state } = ctx;

  router.post("/reset", async (_req, res) => {
    await ctx.runtime.stopAll();
    state.reset();
    res.status(204).end();
  });

  router.get("/state", (_req, res) => {
    res.json({
      containerGroups: [...state.containerGroups.values()].map((g) => ({ ...groupView(g, "full"), resourceGroup: g.resourceGroup })),
      operations: [...state.operations.values()],
      containerGroupProfiles: [...state.containerGroupProfiles.values()].map((p) => ({ name: p.name, resourceGroup: p.resourceGroup, revision: p.revision })),
      standbyPools: [...state.standbyPools.values()].map((p) => ({
        name: p.name,
        resourceGroup: p.resourceGroup,
        revision: p.revision,
        instances: [...p.instances].map((i) => ({ name: i.name, provisioningState: i.provisioningState, state: i.state })),
        draining: p.draining.size,
      })),
      pools: [...state.pools.values()],
      agents: [...state.agents.values()].map((a) => ({
        id: a.id,
        poolId: a.poolId,
        name: a.name,
        status: isOnline(ctx, a) ? "online" : "offline",
        assignedRequestId: a.assignedRequestId,
        systemCapabilities: a.systemCapabilities,
      })),
      jobRequests: [...state.jobRequests.values()],
      faults: state.faults,
      delays: state.delays,
    });
  });

  router.get("/requests", (_req, res) => {
    res.json(state.requestLog);
  });

  router.put("/delays", (req, res) => {
    const body = objectBody(jsonBody(req), res);
    if (body === undefined) return;
    for (const key of Object.keys(state.delays) as (keyof Delays)[]) {
      const value = body[key];
      if (typeof value === "number" && value >= 0) state.delays[key] = value;
    }
    res.json(state.delays);
  });

  router.post("/faults", (req, res) => {
    const body = objectBody(jsonBody(req), res);
    if (body === undefined) return;
    const hang = body.hang === true || body.hang === "before" ? "before" : body.hang === "after" ? "after" : undefined;
    const status = typeof body.status === "number" ? body.status : undefined;
    const delayMs = typeof body.delayMs === "number" && body.delayMs >= 0 ? body.delayMs : undefined;
    if (typeof body.path !== "string" || (status === undefined && delayMs === undefined && hang === undefined)) {
      res.status(400).json({ message: 'a fault needs path (a regular expression) and status, delayMs (ms) or hang (true, "before" or "after")' });
      return;
    }
    const rule: FaultRule = {
      id: state.newGuid(),
      service: (["entra", "arm", "devops", "imds"].includes(String(body.service)) ? body.service : "any") as FaultRule["service"],
      method: typeof body.method === "string" ? body.method : undefined,
      path: body.path,
      status,
      body: body.body,
      headers: (body.headers ?? {}) as Record<string, string>,
      delayMs,
      hang,
      remaining: typeof body.count === "number" ? body.count : 1,
      ...(typeof body.skip === "number" && body.skip > 0 ? { skip: body.skip } : {}),
    };
    state.faults.push(rule);
    res.status(201).json(rule);
  });

  router.delete("/faults", (_req, res) => {
    state.faults = [];
    res.status(204).end();
  });

  router.put("/behaviour", (req, res) => {
    const body = objectBody(jsonBody(req), res);
    if (body === undefined) return;
    const refused = applyBehaviour(state.behaviour, body);
    if (refused !== undefined) {
      res.status(400).json({ message: refused });
      return;
    }
    res.json(behaviourJson(state.behaviour));
  });

  router.post("/resourceGroups", (req, res) => {
    const body = objectBody(jsonBody(req), res);
    if (body === undefined) return;
    const name = text(body.name, "");
    state.resourceGroups.set(name.toLowerCase(), { name, location: text(body.location, "westeurope") });
    res.status(201).json({ name });
  });

  router.post("/pools", (req, res) => {
    const body = objectBody(jsonBody(req), res);
    if (body === undefined) return;
    const id = state.newId();
    state.pools.set(id, { id, name: text(body.name, "") });
    res.status(201).json({ id, name: body.name });
  });

  router.post("/clients", (req, res) => {
    const body = objectBody(jsonBody(req), res);
    if (body === undefined) return;
    const clientId = text(body.clientId, state.newGuid()).toLowerCase();
    const client = {
      clientId,
      tenantId: text(body.tenantId, wellKnown.tenantId),
      secrets: new Set(typeof body.secret === "string" ? [body.secret] : []),
      certificates: new Map<string, string>(),
      federated: body.federated === true,
    };
    if (typeof body.certificatePem === "string") {
      for (const thumbprint of certificateThumbprints(body.certificatePem)) client.certificates.set(thumbprint, body.certificatePem);
    }
    state.clients.set(clientId, client);
    res.status(201).json({ clientId, tenantId: client.tenantId });
  });

  router.post("/clients/:clientId/certificates", (req, res) => {
    const client = state.clients.get(param(req, "clientId").toLowerCase());
    const body = objectBody(jsonBody(req), res);
    if (body === undefined) return;
    if (client === undefined || typeof body.certificatePem !== "string") {
      res.status(404).json({ message: "no such client, or no certificatePem" });
      return;
    }
    for (const thumbprint of certificateThumbprints(body.certificatePem)) client.certificates.set(thumbprint, body.certificatePem);
    res.status(204).end();
  });

  router.post("/pats", (req, res) => {
    const body = objectBody(jsonBody(req), res);
    if (body === undefined) return;
    const pat = typeof body.pat === "string" ? body.pat : randomBytes(26).toString("base64url").toLowerCase();
    state.pats.add(pat);
    res.status(201).json({ pat });
  });

  router.delete("/pats/:pat", (req, res) => {
    state.pats.delete(param(req, "pat"));
    res.status(204).end();
  });

  router.post("/accessTokens", (_req, res) => {
    const token = newSystemAccessToken(ctx);
    res.status(201).json({ token });
  });

  router.post("/jobs", (req, res) => {
    const body = objectBody(jsonBody(req), res);
    if (body === undefined) return;
    const pool = state.poolByName(text(body.pool, ""));
    if (pool === undefined) {
      res.status(404).json({ message: `no pool ${String(body.pool)}` });
      return;
    }
    // As in YAML: one demand string or a list of them.
    const given: unknown[] = body.demands === undefined ? [] : Array.isArray(body.demands) ? body.demands : [body.demands];
    const demands = given.map((demand) => (typeof demand === "string" ? demand : JSON.stringify(demand)));
    const unreadable = demands.filter((demand) => parseDemand(demand) === undefined);
    if (unreadable.length > 0) {
      res.status(400).json({ message: `not a demand the emulator knows (NAME or NAME -equals VALUE): ${unreadable.join(", ")}` });
      return;
    }
    const requestId = state.newId();
    state.jobRequests.set(requestId, {
      requestId,
      poolId: pool.id,
      demands,
      jobName: typeof body.jobName === "string" ? body.jobName : `Job ${requestId}`,
      script: typeof body.script === "string" ? body.script : "echo hello from the emulated job",
      queueTime: new Date().toISOString(),
    });
    res.status(201).json({ requestId });
  });

  // The service tells an agent to update itself: its listener's next message is an AgentRefresh.
  router.post("/agents/:agentName/update", (req, res) => {
    const agent = [...state.agents.values()].find((a) => a.name === param(req, "agentName"));
    if (agent === undefined) {
      res.status(404).json({ message: `no agent ${param(req, "agentName")}` });
      return;
    }
    const body = jsonBody(req) as { targetVersion?: unknown } | undefined;
    agent.pendingUpdate = typeof body?.targetVersion === "string" ? body.targetVersion : "4.266.0";
    res.status(202).json({ agentId: agent.id, targetVersion: agent.pendingUpdate });
  });

  router.get("/jobs/:requestId", (req, res) => {
    const job = state.jobRequests.get(Number(param(req, "requestId")));
    if (job === undefined) {
      res.status(404).json({ message: "no such job" });
      return;
    }
    res.json({ ...job, assignedAgent: job.assignedAgentId === undefined ? undefined : state.agents.get(job.assignedAgentId)?.name });
  });

  return router;
}

export function newSystemAccessToken(ctx: EmulatorContext): string {
  const token = randomBytes(32).toString("base64url");
  ctx.state.systemAccessTokens.add(token);
  return token;
}

function text(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

function objectBody(body: unknown, res: Response): Record<string, unknown> | undefined {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) return body as Record<string, unknown>;
  res.status(400).json({ message: "expected a JSON object" });
  return undefined;
}

/** Applies what `body` sets; answers why it refuses a quota or rate setting (then nothing is applied). */
function applyBehaviour(behaviour: Behaviour, body: Record<string, unknown>): string | undefined {
  const limits = readLimits(body);
  if (typeof limits === "string") return limits;
  if (isRecord(body.capacityFailures)) {
    behaviour.capacityFailures = new Map(
      Object.entries(body.capacityFailures).map(([location, mode]) => [location.toLowerCase(), mode === "async" ? "async" : "sync"]),
    );
  }
  if (Array.isArray(body.inaccessibleImages)) behaviour.inaccessibleImages = new Set(body.inaccessibleImages.map(String));
  if (Array.isArray(body.agentsNeverOnline)) behaviour.agentsNeverOnline = body.agentsNeverOnline.map(String);
  if (Array.isArray(body.poolManageDenied)) behaviour.poolManageDenied = body.poolManageDenied.map(String);
  if (isRecord(body.busyDeletes)) behaviour.busyDeletes = new Map(Object.entries(body.busyDeletes).map(([name, n]) => [name, Number(n)]));
  if (isRecord(body.images)) {
    behaviour.images = new Map(Object.entries(body.images as Record<string, ImageDefinition>));
  }
  if (limits.quotas !== undefined) behaviour.quotas = limits.quotas;
  if (limits.defaultQuota !== undefined) Object.assign(behaviour.defaultQuota, limits.defaultQuota);
  if (limits.createRateLimits !== undefined) Object.assign(behaviour.createRateLimits, limits.createRateLimits);
  if (limits.deleteRateLimits !== undefined) Object.assign(behaviour.deleteRateLimits, limits.deleteRateLimits);
  if (limits.rateWindowScale !== undefined) behaviour.rateWindowScale = limits.rateWindowScale;
  if (typeof body.listPageSize === "number" && body.listPageSize > 0) behaviour.listPageSize = body.listPageSize;
  if (typeof body.strict === "boolean") behaviour.strict = body.strict;
  if (typeof body.agentPackageHash === "string") behaviour.agentPackageHash = body.agentPackageHash;
  if (body.agentPackageHash === null) behaviour.agentPackageHash = undefined;
  if (typeof body.muslFeedServesGlibc === "boolean") behaviour.muslFeedServesGlibc = body.muslFeedServesGlibc;
  if (typeof body.standbyProviderWithoutRoles === "boolean") behaviour.standbyProviderWithoutRoles = body.standbyProviderWithoutRoles;
  if (body.agentTokenRefusal === 400 || body.agentTokenRefusal === 401) behaviour.agentTokenRefusal = body.agentTokenRefusal;
  if (isRecord(body.armRequestLimits)) {
    for (const kind of ["reads", "writes", "deletes"] as const) {
      const limit = body.armRequestLimits[kind];
      if (isRecord(limit) && typeof limit.size === "number" && typeof limit.refillPerSecond === "number") {
        behaviour.armRequestLimits[kind] = { size: limit.size, refillPerSecond: limit.refillPerSecond };
      }
    }
  }
  return undefined;
}

interface LimitSettings {
  quotas?: Map<string, Partial<Record<UsageName, number>>>;
  defaultQuota?: Partial<Record<UsageName, number>>;
  createRateLimits?: Partial<RateLimits>;
  deleteRateLimits?: Partial<RateLimits>;
  rateWindowScale?: number;
}

/**
 * `quotas` (location → usage name → limit; replaces every region's own limits), `defaultQuota`
 * (usage name → limit; the names given), `createRateLimits`/`deleteRateLimits` (perFiveMinutes,
 * perHour; those given) and `rateWindowScale` (> 0). A name or number it does not know is refused
 * rather than ignored, so that a test never runs against limits it did not mean.
 */
function readLimits(body: Record<string, unknown>): LimitSettings | string {
  const settings: LimitSettings = {};
  const limitTable = (value: unknown, what: string): Partial<Record<UsageName, number>> | string => {
    if (!isRecord(value)) return `${what} must be an object of usage names (${usageNames.join(", ")}) to limits`;
    const table: Partial<Record<UsageName, number>> = {};
    for (const [name, limit] of Object.entries(value)) {
      if (!(usageNames as readonly string[]).includes(name)) return `${what}: '${name}' is not a usage name (${usageNames.join(", ")})`;
      if (!isCount(limit)) return `${what}: the limit of ${name} must be a whole number >= 0`;
      table[name as UsageName] = limit;
    }
    return table;
  };
  if (body.quotas !== undefined) {
    if (!isRecord(body.quotas)) return "quotas must be an object of locations to limits";
    settings.quotas = new Map();
    for (const [location, value] of Object.entries(body.quotas)) {
      const table = limitTable(value, `quotas.${location}`);
      if (typeof table === "string") return table;
      settings.quotas.set(normaliseLocation(location), table);
    }
  }
  if (body.defaultQuota !== undefined) {
    const table = limitTable(body.defaultQuota, "defaultQuota");
    if (typeof table === "string") return table;
    settings.defaultQuota = table;
  }
  for (const key of ["createRateLimits", "deleteRateLimits"] as const) {
    const value = body[key];
    if (value === undefined) continue;
    if (!isRecord(value)) return `${key} must be an object with perFiveMinutes and/or perHour`;
    const rates: Partial<RateLimits> = {};
    for (const [name, limit] of Object.entries(value)) {
      if (name !== "perFiveMinutes" && name !== "perHour") return `${key}: '${name}' is not perFiveMinutes or perHour`;
      if (!isCount(limit)) return `${key}.${name} must be a whole number >= 0`;
      rates[name] = limit;
    }
    settings[key] = rates;
  }
  if (body.rateWindowScale !== undefined) {
    if (typeof body.rateWindowScale !== "number" || !(body.rateWindowScale > 0)) return "rateWindowScale must be a number > 0";
    settings.rateWindowScale = body.rateWindowScale;
  }
  return settings;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function behaviourJson(behaviour: Behaviour): Record<string, unknown> {
  return {
    capacityFailures: Object.fromEntries(behaviour.capacityFailures),
    inaccessibleImages: [...behaviour.inaccessibleImages],
    agentsNeverOnline: behaviour.agentsNeverOnline,
    poolManageDenied: behaviour.poolManageDenied,
    busyDeletes: Object.fromEntries(behaviour.busyDeletes),
    images: Object.fromEntries(behaviour.images),
    quotas: Object.fromEntries(behaviour.quotas),
    defaultQuota: behaviour.defaultQuota,
    createRateLimits: behaviour.createRateLimits,
    deleteRateLimits: behaviour.deleteRateLimits,
    rateWindowScale: behaviour.rateWindowScale,
    listPageSize: behaviour.listPageSize,
    strict: behaviour.strict,
    agentPackageHash: behaviour.agentPackageHash,
    muslFeedServesGlibc: behaviour.muslFeedServesGlibc,
    standbyProviderWithoutRoles: behaviour.standbyProviderWithoutRoles,
    agentTokenRefusal: behaviour.agentTokenRefusal,
    armRequestLimits: behaviour.armRequestLimits,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
