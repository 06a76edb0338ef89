// Microsoft.StandbyPool/standbyContainerGroupPools (SP-2026-04-01): PUT (long-running,
// Azure-AsyncOperation), GET, list, DELETE (202 with Location, long-running; 204 when absent),
// and runtimeViews/latest with the instances' counts by state. A pool keeps
// elasticityProfile.maxReadyCapacity instances made from its profile's revision: each is a real
// container group of the runtime (its command runs, so a bootstrap prepares), Creating until its
// containers run, then Running and claimable; it refills whenever one is claimed or deleted, and a
// change of its profile reference drains every instance and makes new ones.
//   PUT -> Succeeded; fill: instance Creating --(provision, pull)--> Running --claim--> a container group
//   instance start failure -> degraded: creation pauses standbyRetryMs, then resumes
//   DELETE -> Deleting --(instances deleted, delete delay)--> gone
import { setTimeout as sleep } from "node:timers/promises";
import { randomBytes } from "node:crypto";
import { Router, type Request, type Response } from "express";
import type { EmulatorContext } from "../context";
import { jsonBody, param, queryString } from "../http";
import { wellKnown, type ContainerGroupRecord, type StandbyPoolRecord } from "../state";
import { groupBodyFromProfile, profileById } from "./containerGroupProfiles";
import { invalidRequestContent, locationRequired, resourceNotFound, unreadableRequestContent, type ArmError } from "./errors";
import { finishOperation, operationResultUrl, operationUrl, startOperation } from "./operations";
import { quotaExceeded } from "./quotas";
import { resolveTarget, type ResourceTarget } from "./resourceGroups";
import { sendArmError } from "./respond";

const provider = "Microsoft.StandbyPool";
/** "Standby Pool Resource Provider" (app id from a third-party test file; object id made up). */
const STANDBY_PROVIDER_APP_ID = "d4398a72-b879-49e5-9f3a-ff22c32efb42";
const STANDBY_PROVIDER_OBJECT_ID = "5b1d0c6e-0000-4000-8000-00000057a7db";
export const poolType = "Microsoft.StandbyPool/standbyContainerGroupPools";
const poolsPath = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/Microsoft.StandbyPool/standbyContainerGroupPools";
const poolPath = `${poolsPath}/:name`;
/** SP-2026-04-01. */
const poolName = /^[a-zA-Z0-9-]{3,24}$/;
/** SP-2025-03-01 and Learn ("Max value = 2000"); 2026-04-01 states only the minimum. */
const maxReadyCapacityLimit = 2000;

export function standbyPoolRoutes(ctx: EmulatorContext): Router {
  const router = Router();
  const { state } = ctx;

  router.put(poolPath, (req, res) => {
    const target = resolve(ctx, req, res);
    if (target === undefined) return;
    const apiVersion = queryString(req, "api-version") ?? "";
    if (!poolName.test(target.name)) {
      // [guess] code and message (the pattern is the spec's).
      sendArmError(res, { status: 400, code: "InvalidResourceName", message: `The resource name '${target.name}' is invalid. It must match the pattern '${poolName.source}'.` });
      return;
    }
    const body = jsonBody(req);
    const invalid = validatePool(body);
    if (invalid !== undefined) {
      sendArmError(res, invalid);
      return;
    }
    const wire = body as { location: string; tags?: Record<string, string>; properties: Record<string, unknown> };
    const location = wire.location.replace(/\s+/g, "").toLowerCase();
    const key = state.groupKey(target.resourceGroup, target.name);
    const existing = state.standbyPools.get(key);
    if (existing?.deletion !== undefined) {
      // [guess] status, code and message.
      sendArmError(res, { status: 409, code: "Conflict", message: `The standby pool '${target.name}' is being deleted.` });
      return;
    }
    const reference = profileReference(wire.properties);
    const profile = profileById(state, reference.id);
    const revision = reference.revision ?? profile?.revision ?? 0;
    const pool: StandbyPoolRecord = existing ?? {
      name: target.name,
      resourceGroup: target.resourceGroupName,
      location,
      tags: {},
      properties: {},
      revision,
      instances: new Set(),
      draining: new Set(),
    };
    const profileChanged =
      existing !== undefined && (profileReference(existing.properties).id.toLowerCase() !== reference.id.toLowerCase() || existing.revision !== revision);
    pool.tags = wire.tags ?? {};
    pool.properties = structuredClone(wire.properties);
    pool.revision = revision;
    state.standbyPools.set(key, pool);
    // "Once the profile has been updated, the pool will drain all existing instances and replace them with new ones." (Learn)
    if (profileChanged) for (const instance of [...pool.instances]) drain(ctx, pool, instance);
    const operation = startOperation(ctx, location, poolId(pool));
    finishOperation(operation);
    reconcile(ctx, pool);
    res.setHeader("Azure-AsyncOperation", operationUrl(ctx, operation, provider, apiVersion));
    res.status(existing === undefined ? 201 : 200).json(poolView(pool));
  });

  router.get(poolPath, (req, res) => {
    const pool = find(ctx, req, res);
    if (pool !== undefined) res.json(poolView(pool));
  });

  router.get(poolsPath, (req, res) => {
    const target = resolve(ctx, req, res, false);
    if (target === undefined) return;
    res.json({ value: [...state.standbyPools.values()].filter((p) => p.resourceGroup.toLowerCase() === target.resourceGroup).map(poolView) });
  });

  router.delete(poolPath, (req, res) => {
    const target = resolve(ctx, req, res);
    if (target === undefined) return;
    const apiVersion = queryString(req, "api-version") ?? "";
    const key = state.groupKey(target.resourceGroup, target.name);
    const pool = state.standbyPools.get(key);
    if (pool === undefined) {
      res.status(204).end();
      return;
    }
    const operation = pool.deletion ?? startOperation(ctx, pool.location, poolId(pool));
    if (pool.deletion === undefined) {
      pool.deletion = operation;
      for (const instance of [...pool.instances]) drain(ctx, pool, instance);
      void (async () => {
        while (pool.draining.size > 0 && state.standbyPools.get(key) === pool) await sleep(20, undefined, { ref: false });
        if (state.standbyPools.get(key) === pool) state.standbyPools.delete(key);
        finishOperation(operation);
      })();
    }
    res.setHeader("Location", operationResultUrl(ctx, operation, provider, apiVersion));
    res.setHeader("Azure-AsyncOperation", operationUrl(ctx, operation, provider, apiVersion));
    res.setHeader("Retry-After", "1");
    res.status(202).end();
  });

  router.get(`${poolPath}/runtimeViews`, (req, res) => {
    const pool = find(ctx, req, res);
    if (pool !== undefined) res.json({ value: [runtimeView(ctx, pool)] });
  });

  router.get(`${poolPath}/runtimeViews/:view`, (req, res) => {
    const pool = find(ctx, req, res);
    if (pool === undefined) return;
    if (param(req, "view") !== "latest") {
      // SP-2026-04-01: "should be the word 'latest' … otherwise the request will fail with NotFound exception."
      sendArmError(res, { status: 404, code: "NotFound", message: `The runtime view '${param(req, "view")}' was not found. Use 'latest'.` });
      return;
    }
    res.json(runtimeView(ctx, pool));
  });

  return router;
}

/** The provider's first stable version is 2024-03-01 (earlier: 2023-12-01-preview, 2024-03-01-preview). */
function hasPools(apiVersion: string): boolean {
  return apiVersion.slice(0, 10) >= "2023-12-01";
}

function resolve(ctx: EmulatorContext, req: Request, res: Response, withName = true): ResourceTarget | undefined {
  return resolveTarget(ctx, req, res, { withName, type: "standbyContainerGroupPools", hasVersion: hasPools });
}

function find(ctx: EmulatorContext, req: Request, res: Response): StandbyPoolRecord | undefined {
  const target = resolve(ctx, req, res);
  if (target === undefined) return undefined;
  const pool = ctx.state.standbyPools.get(ctx.state.groupKey(target.resourceGroup, target.name));
  if (pool === undefined) sendArmError(res, resourceNotFound(poolType, target.name, target.resourceGroupName));
  return pool;
}

/** The pool named by an ARM id, if it exists. */
export function poolById(ctx: EmulatorContext, id: string): StandbyPoolRecord | undefined {
  const match = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.StandbyPool\/standbyContainerGroupPools\/([^/]+)$/i.exec(id);
  if (match?.[1]?.toLowerCase() !== wellKnown.subscriptionId || match[2] === undefined || match[3] === undefined) return undefined;
  return ctx.state.standbyPools.get(ctx.state.groupKey(match[2], match[3]));
}

export function profileReference(properties: Record<string, unknown>): { id: string; revision?: number } {
  const reference = (properties.containerGroupProperties as { containerGroupProfile?: { id?: string; revision?: number } } | undefined)?.containerGroupProfile;
  return { id: reference?.id ?? "", ...(reference?.revision === undefined ? {} : { revision: reference.revision }) };
}

export function maxReadyCapacity(pool: StandbyPoolRecord): number {
  return (pool.properties.elasticityProfile as { maxReadyCapacity: number }).maxReadyCapacity;
}

/**
 * [guess] codes and messages of every rule: the spec's constraints (SP-2026-04-01, 2000 from
 * SP-2025-03-01), reported as ARM's RPaaS reports a body that fails its schema.
 */
function validatePool(body: unknown): ArmError | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return unreadableRequestContent();
  const wire = body as Record<string, unknown>;
  if (typeof wire.location !== "string" || wire.location.trim() === "") return locationRequired();
  const unknown = (where: string, value: Record<string, unknown>, allowed: string[]): ArmError | undefined => {
    const extra = Object.keys(value).find((k) => !allowed.includes(k));
    return extra === undefined ? undefined : invalidRequestContent(`Could not find member '${extra}' on object of type '${where}'.`, extra);
  };
  const top = unknown("StandbyContainerGroupPoolResource", wire, ["location", "tags", "properties", "id", "name", "type", "systemData"]);
  if (top !== undefined) return top;
  const properties = wire.properties;
  if (!isRecord(properties)) return invalidRequestContent("Required property 'properties' not found in JSON.", "properties");
  const inner = unknown("StandbyContainerGroupPoolResourceProperties", properties, ["elasticityProfile", "containerGroupProperties", "zones", "provisioningState"]);
  if (inner !== undefined) return inner;
  const elasticity = properties.elasticityProfile;
  if (!isRecord(elasticity)) return invalidRequestContent("Required property 'elasticityProfile' not found in JSON.", "properties.elasticityProfile");
  const capacity = elasticity.maxReadyCapacity;
  if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 0 || capacity > maxReadyCapacityLimit) {
    return invalidRequestContent(`The value of 'maxReadyCapacity' must be an integer from 0 to ${maxReadyCapacityLimit}.`, "properties.elasticityProfile.maxReadyCapacity");
  }
  if (elasticity.refillPolicy !== undefined && (typeof elasticity.refillPolicy !== "string" || elasticity.refillPolicy.toLowerCase() !== "always")) {
    return invalidRequestContent(`The value ${JSON.stringify(elasticity.refillPolicy)} of 'refillPolicy' is not valid. The only value is 'always'.`, "properties.elasticityProfile.refillPolicy");
  }
  const groupProperties = properties.containerGroupProperties;
  if (!isRecord(groupProperties)) return invalidRequestContent("Required property 'containerGroupProperties' not found in JSON.", "properties.containerGroupProperties");
  const reference = groupProperties.containerGroupProfile;
  if (!isRecord(reference) || typeof reference.id !== "string" || reference.id === "") {
    return invalidRequestContent("Required property 'containerGroupProfile.id' not found in JSON.", "properties.containerGroupProperties.containerGroupProfile.id");
  }
  if (reference.revision !== undefined && (typeof reference.revision !== "number" || !Number.isInteger(reference.revision))) {
    return invalidRequestContent("The value of 'revision' must be an integer.", "properties.containerGroupProperties.containerGroupProfile.revision");
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function poolId(pool: StandbyPoolRecord): string {
  return `/subscriptions/${wellKnown.subscriptionId}/resourceGroups/${pool.resourceGroup}/providers/${poolType}/${pool.name}`;
}

function poolView(pool: StandbyPoolRecord): Record<string, unknown> {
  return {
    id: poolId(pool),
    name: pool.name,
    type: poolType,
    location: pool.location,
    tags: pool.tags,
    properties: { ...structuredClone(pool.properties), provisioningState: pool.deletion === undefined ? "Succeeded" : "Deleting" },
  };
}

export function instanceState(instance: ContainerGroupRecord): "Creating" | "Running" {
  return instance.provisioningState === "Succeeded" && instance.state === "Running" ? "Running" : "Creating";
}

function runtimeView(ctx: EmulatorContext, pool: StandbyPoolRecord): Record<string, unknown> {
  reconcile(ctx, pool);
  const counts = { Running: 0, Creating: 0, Deleting: pool.draining.size };
  for (const instance of pool.instances) counts[instanceState(instance)]++;
  const degraded = pool.degradedUntil !== undefined;
  return {
    id: `${poolId(pool)}/runtimeViews/latest`,
    name: "latest",
    type: `${poolType}/runtimeViews`,
    properties: {
      instanceCountSummary: [{ instanceCountsByState: Object.entries(counts).map(([state, count]) => ({ state, count })) }],
      provisioningState: "Succeeded",
      status: degraded
        ? { code: "HealthState/degraded", message: pool.degradedMessage ?? "The pool could not create instances." }
        : { code: "HealthState/healthy", message: "The pool is healthy." },
    },
  };
}

/** Whether the pool is still the stored one (not deleted, replaced or reset away). */
function isLive(ctx: EmulatorContext, pool: StandbyPoolRecord): boolean {
  return ctx.state.standbyPools.get(ctx.state.groupKey(pool.resourceGroup, pool.name)) === pool && pool.deletion === undefined;
}

/** Creates instances until the pool holds maxReadyCapacity (Creating and Running), unless it is degraded. */
export function reconcile(ctx: EmulatorContext, pool: StandbyPoolRecord): void {
  if (!isLive(ctx, pool)) return;
  // An instance whose containers have ended is of no use: it is deleted and replaced [guess].
  for (const instance of [...pool.instances]) {
    if (instance.provisioningState === "Succeeded" && instance.state !== "Running") drain(ctx, pool, instance);
  }
  // A lower maxReadyCapacity deletes the surplus, Creating instances first [guess].
  while (pool.instances.size > maxReadyCapacity(pool)) {
    const surplus = [...pool.instances].sort((a, b) => (instanceState(a) === "Creating" ? 0 : 1) - (instanceState(b) === "Creating" ? 0 : 1))[0];
    if (surplus === undefined) break;
    drain(ctx, pool, surplus);
  }
  if (pool.degradedUntil !== undefined) return;
  while (pool.instances.size < maxReadyCapacity(pool)) {
    if (!createInstance(ctx, pool)) return;
  }
}

function degrade(ctx: EmulatorContext, pool: StandbyPoolRecord, message: string): void {
  // Learn (standby pool health): a degraded pool "temporarily pauses instance creation for 30 seconds".
  pool.degradedUntil = Date.now() + ctx.state.delays.standbyRetryMs;
  pool.degradedMessage = message;
  void sleep(ctx.state.delays.standbyRetryMs, undefined, { ref: false }).then(() => {
    pool.degradedUntil = undefined;
    pool.degradedMessage = undefined;
    reconcile(ctx, pool);
  });
}

function createInstance(ctx: EmulatorContext, pool: StandbyPoolRecord): boolean {
  const { state } = ctx;
  const profile = profileById(state, profileReference(pool.properties).id);
  const body = profile === undefined ? undefined : groupBodyFromProfile(profile, pool.revision);
  if (body === undefined) {
    degrade(ctx, pool, `The container group profile '${profileReference(pool.properties).id}' (revision ${pool.revision}) was not found.`);
    return false;
  }
  const subnetIds = (pool.properties.containerGroupProperties as { subnetIds?: unknown[] }).subnetIds;
  if (subnetIds !== undefined) (body.properties as Record<string, unknown>).subnetIds = structuredClone(subnetIds);
  const location = pool.location;
  if (state.behaviour.standbyProviderWithoutRoles) {
    degrade(ctx, pool, providerRefused(pool));
    return false;
  }
  const overQuota = quotaExceeded(state, location, { ...body, location });
  if (overQuota !== undefined) {
    degrade(ctx, pool, overQuota.message);
    return false;
  }
  // [guess] instance names: the pool's name and a random suffix (ACI's are not published).
  const instance: ContainerGroupRecord = {
    name: `${pool.name.toLowerCase()}-${randomBytes(4).toString("hex")}`,
    resourceGroup: pool.resourceGroup,
    location,
    body: { ...body, location },
    provisioningState: "Pending",
    state: "Pending",
    events: [],
    containers: new Map(),
    createdAt: Date.now(),
    generation: 1,
  };
  pool.instances.add(instance);
  state.standbyInstances.add(instance);
  void (async () => {
    await sleep(state.delays.provisionMs, undefined, { ref: false });
    if (!state.standbyInstances.has(instance)) return;
    const failure = await ctx.runtime.start(instance);
    if (!state.standbyInstances.has(instance)) return;
    if (failure !== undefined) {
      instance.state = "Failed";
      degrade(ctx, pool, failure.message);
      drain(ctx, pool, instance);
      return;
    }
    instance.provisioningState = "Succeeded";
  })();
  return true;
}

/**
 * [guess] What the pool's health shows when its provider may not create a container group: ARM's
 * AuthorizationFailed text for the provider's application (Learn names no message; the app id is
 * from a third-party test, README).
 */
function providerRefused(pool: StandbyPoolRecord): string {
  const scope = `/subscriptions/${wellKnown.subscriptionId}/resourceGroups/${pool.resourceGroup}/providers/Microsoft.ContainerInstance/containerGroups`;
  return `AuthorizationFailed: The client '${STANDBY_PROVIDER_APP_ID}' with object id '${STANDBY_PROVIDER_OBJECT_ID}' does not have authorization to perform action 'Microsoft.ContainerInstance/containerGroups/write' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`;
}

/** Deletes an instance (it shows Deleting for the delete delay) and refills the pool. */
function drain(ctx: EmulatorContext, pool: StandbyPoolRecord, instance: ContainerGroupRecord): void {
  if (!pool.instances.delete(instance)) return;
  pool.draining.add(instance);
  instance.generation++;
  void sleep(ctx.state.delays.deleteMs, undefined, { ref: false })
    .then(() => ctx.runtime.remove(instance))
    .then(() => {
      pool.draining.delete(instance);
      ctx.state.standbyInstances.delete(instance);
    });
  reconcile(ctx, pool);
}

/**
 * Hands a Running instance made from `profileId` at `revision` out of the pool and starts the
 * refill; undefined when none is ready (Creating instances are not handed out, Learn's standby
 * pool overview). It stays among the standby instances (its cores in use, a reset reaching it)
 * until the caller makes it a container group.
 */
export function takeReadyInstance(ctx: EmulatorContext, pool: StandbyPoolRecord, profileId: string, revision: number | undefined): ContainerGroupRecord | undefined {
  if (!isLive(ctx, pool)) return undefined;
  if (profileReference(pool.properties).id.toLowerCase() !== profileId.toLowerCase()) return undefined;
  if (revision !== undefined && revision !== pool.revision) return undefined;
  reconcile(ctx, pool);
  const ready = [...pool.instances].find((instance) => instanceState(instance) === "Running");
  if (ready === undefined) return undefined;
  pool.instances.delete(ready);
  // The refill starts at once (Learn: "When a container group is consumed from the pool, the standby pool automatically begins to refill").
  queueMicrotask(() => { reconcile(ctx, pool); });
  return ready;
}
