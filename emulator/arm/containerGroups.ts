// Microsoft.ContainerInstance/containerGroups: create (a long-running PUT), get, list, delete,
// logs, stop, start, restart and usages, with the provisioning state machine
//   PUT -> Pending --(provision delay, image pull)--> Succeeded (containers run) | Failed
//   DELETE -> Deleting --(delete delay)--> gone (or gone at once with no delete delay)
import { setTimeout as sleep } from "node:timers/promises";
import { Router, type Request, type Response } from "express";
import type { EmulatorContext } from "../context";
import { jsonBody, param, queryString } from "../http";
import { addEvent, containerSpecs, containerState } from "../runtime/containerRuntime";
import { wellKnown, type ContainerGroupRecord, type ContainerRuntimeState } from "../state";
import { capacityUnavailable, containerGroupNotFound, locationRequired, resourceMoved, unreadableRequestContent, type ArmError } from "./errors";
import { finishOperation, operationUrl, startOperation } from "./operations";
import { resolveTarget, type ResourceTarget } from "./resourceGroups";
import { canonicalJson, groupBodyFromProfile, profileById } from "./containerGroupProfiles";
import { poolById, takeReadyInstance } from "./standbyPools";
import { countRate, quotaExceeded, rateExceeded, usageList } from "./quotas";
import { hasApiVersion, sendArmError } from "./respond";
import { hasStandbyFields, isClaimShaped, isConfigMapOnly, validateContainerGroupPut } from "./validation";
import { CONTAINER_GROUP_REGIONS, offersContainerGroups, regionName } from "./providers";

const groupsPath = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/Microsoft.ContainerInstance/containerGroups";
const groupPath = `${groupsPath}/:name`;

export function containerGroupRoutes(ctx: EmulatorContext): Router {
  const router = Router();
  const { state } = ctx;

  router.put(groupPath, (req, res) => {
    const target = resolveTarget(ctx, req, res);
    if (target === undefined) return;
    const body = jsonBody(req);
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      sendArmError(res, unreadableRequestContent());
      return;
    }
    let wire = body as Record<string, unknown>;
    const apiVersion = queryString(req, "api-version") ?? "";
    const current = state.containerGroups.get(state.groupKey(target.resourceGroup, target.name));
    if (state.behaviour.strict) {
      const invalid = validateContainerGroupPut(target.name, wire, apiVersion, current !== undefined && current.deletion === undefined);
      if (invalid !== undefined) {
        sendArmError(res, invalid);
        return;
      }
    }
    if (typeof wire.location !== "string" || wire.location === "") {
      sendArmError(res, locationRequired());
      return;
    }
    const location = normaliseLocation(wire.location);
    if (!offersContainerGroups(location)) {
      // [guess] the status (400); code and message are ARM's for a region a resource type is not offered in.
      sendArmError(res, {
        status: 400,
        code: "LocationNotAvailableForResourceType",
        message: `The provided location '${wire.location}' is not available for resource type 'Microsoft.ContainerInstance/containerGroups'. List of available regions for the resource type is '${CONTAINER_GROUP_REGIONS.map(regionName).join(",")}'.`,
      });
      return;
    }
    // An If-None-Match: * header is ignored, as ACI is taken to do (see README, Guesses): a PUT
    // on an existing group updates it.
    const existing = state.containerGroups.get(state.groupKey(target.resourceGroup, target.name));
    if (existing?.deletion !== undefined) {
      // [guess] that a group being deleted counts as transitioning; status, code and message are
      // what ACI answers a PUT on a group in transition with (README, Guesses).
      sendArmError(res, {
        status: 409,
        code: "ContainerGroupTransitioning",
        message: `The container group '${target.name}' is still transitioning, please retry later.`,
      });
      return;
    }
    if (existing !== undefined && existing.location !== location) {
      sendArmError(res, resourceMoved(target.name, existing.location, target.resourceGroupName, location));
      return;
    }
    if (existing !== undefined && hasStandbyFields(apiVersion)) {
      if ((wire.properties as Record<string, unknown> | undefined)?.standbyPoolProfile !== undefined) {
        // [guess] that ARM refuses it (Learn's config-map updates never send it), code and message.
        sendArmError(res, {
          status: 400,
          code: "BadRequest",
          message: `The property 'standbyPoolProfile' can be set only when a container group is created; container group '${target.name}' exists.`,
        });
        return;
      }
      const merged = configMapOnlyUpdate(existing.body, wire);
      if (merged !== undefined) {
        updateConfigMapsInPlace(ctx, existing, merged.body, res);
        return;
      }
    }
    const subscription = param(req, "subscriptionId");
    if (existing === undefined) {
      // Only a PUT that makes a new group is a create (an update is not counted).
      const throttled = rateExceeded(state, subscription, "creates");
      if (throttled !== undefined) {
        res.setHeader("Retry-After", String(throttled.retryAfterSeconds));
        sendArmError(res, throttled.error);
        return;
      }
    }
    if (existing === undefined && hasStandbyFields(apiVersion) && isClaimShaped(wire)) {
      const claim = claimFromPool(ctx, wire, target, location);
      if ("error" in claim) {
        sendArmError(res, claim.error);
        return;
      }
      if ("instance" in claim) {
        countRate(state, subscription, "creates");
        handOut(ctx, claim.instance, wire, target, res);
        return;
      }
      // Net new creation from the profile (Learn: "Azure Container Instances will default back to net new container group creation").
      wire = claim.fresh;
    }
    const overQuota = quotaExceeded(state, location, { ...wire, location }, existing);
    if (overQuota !== undefined) {
      sendArmError(res, overQuota);
      return;
    }
    const capacityFailure = state.behaviour.capacityFailures.get(location);
    if (capacityFailure === "sync") {
      sendArmError(res, capacityUnavailable(shortfallOf(wire, location)));
      return;
    }
    if (existing !== undefined) void ctx.runtime.remove(existing);
    const record: ContainerGroupRecord = {
      name: target.name,
      resourceGroup: target.resourceGroupName,
      location,
      body: { ...wire, location },
      provisioningState: "Pending",
      state: "Pending",
      events: [],
      containers: new Map(),
      createdAt: Date.now(),
      generation: (existing?.generation ?? 0) + 1,
    };
    state.containerGroups.set(state.groupKey(target.resourceGroup, target.name), record);
    if (existing === undefined) countRate(state, subscription, "creates");
    const operation = startOperation(ctx, location, groupId(record));
    void provision(ctx, record, capacityFailure === "async").then((failure) => {
      if (!state.isStored(record)) return;
      if (record.deletion !== undefined) {
        // [guess] code and message: a delete ends the create under way; the group stays Deleting.
        finishOperation(operation, { code: "OperationCanceled", message: `The container group '${record.name}' was deleted while it was being created.` });
        return;
      }
      record.provisioningState = failure === undefined ? "Succeeded" : "Failed";
      finishOperation(operation, failure);
    });
    res.setHeader("Azure-AsyncOperation", operationUrl(ctx, operation));
    res.status(existing === undefined ? 201 : 200).json(groupView(record, "created"));
  });

  // ContainerGroups_Update: "The container group resource with just the tags to be updated";
  // synchronous, 200 with the group. Members other than tags are ignored [guess].
  router.patch(groupPath, (req, res) => {
    const record = findGroup(ctx, req, res);
    if (record === undefined) return;
    const body = jsonBody(req);
    const tags = (body as { tags?: unknown } | null | undefined)?.tags;
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      sendArmError(res, unreadableRequestContent());
      return;
    }
    if (tags !== undefined && (tags === null || typeof tags !== "object" || Array.isArray(tags) || Object.values(tags).some((v) => typeof v !== "string"))) {
      // [guess] message.
      sendArmError(res, { status: 400, code: "InvalidRequestContent", message: "The request content was invalid and could not be deserialized: 'tags must be an object of strings'." });
      return;
    }
    if (tags !== undefined) record.body = { ...record.body, tags: structuredClone(tags) };
    res.json(groupView(record, "full"));
  });

  router.get(groupPath, (req, res) => {
    const record = findGroup(ctx, req, res);
    if (record !== undefined) res.json(groupView(record, "full"));
  });

  router.get(groupsPath, (req, res) => {
    const target = resolveTarget(ctx, req, res, { withName: false });
    if (target === undefined) return;
    const groups = [...state.containerGroups.values()].filter((g) => g.resourceGroup.toLowerCase() === target.resourceGroup);
    sendPage(ctx, req, res, groups);
  });

  router.get("/subscriptions/:subscriptionId/providers/Microsoft.ContainerInstance/containerGroups", (req, res) => {
    if (!hasApiVersion(req, res)) return;
    if (param(req, "subscriptionId").toLowerCase() !== wellKnown.subscriptionId) {
      sendArmError(res, { status: 404, code: "SubscriptionNotFound", message: `The subscription '${param(req, "subscriptionId")}' could not be found.` });
      return;
    }
    sendPage(ctx, req, res, [...state.containerGroups.values()]);
  });

  router.delete(groupPath, (req, res) => {
    const target = resolveTarget(ctx, req, res);
    if (target === undefined) return;
    const key = state.groupKey(target.resourceGroup, target.name);
    const record = state.containerGroups.get(key);
    if (record === undefined) {
      res.status(204).end();
      return;
    }
    if (record.deletion !== undefined) {
      // A second DELETE of a group being deleted joins the delete under way.
      res.setHeader("Azure-AsyncOperation", operationUrl(ctx, record.deletion));
      res.status(202).end();
      return;
    }
    const subscription = param(req, "subscriptionId");
    const throttled = rateExceeded(state, subscription, "deletes");
    if (throttled !== undefined) {
      res.setHeader("Retry-After", String(throttled.retryAfterSeconds));
      sendArmError(res, throttled.error);
      return;
    }
    countRate(state, subscription, "deletes");
    record.generation++;
    if (state.delays.deleteMs > 0) {
      record.provisioningState = "Deleting";
      const operation = startOperation(ctx, record.location, groupId(record));
      record.deletion = operation;
      void sleep(state.delays.deleteMs, undefined, { ref: false })
        .then(() => ctx.runtime.remove(record))
        .then(() => {
          if (state.containerGroups.get(key) === record) state.containerGroups.delete(key);
          finishOperation(operation);
        });
      res.setHeader("Azure-AsyncOperation", operationUrl(ctx, operation));
      res.status(202).end();
      return;
    }
    state.containerGroups.delete(key);
    void ctx.runtime.remove(record);
    res.status(200).json(groupView(record, "full"));
  });

  router.get(`${groupPath}/containers/:container/logs`, (req, res) => {
    const record = findGroup(ctx, req, res);
    if (record === undefined) return;
    const containerName = param(req, "container");
    if (!containerSpecs(record).some((c) => c.name === containerName)) {
      // [guess] code and message.
      sendArmError(res, { status: 404, code: "ContainerNotFound", message: `The container '${containerName}' could not be found in container group '${record.name}'.` });
      return;
    }
    const tail = Number(queryString(req, "tail") ?? "0");
    const timestamps = queryString(req, "timestamps") === "true";
    const lines = record.containers.get(containerName)?.log ?? [];
    const shown = tail > 0 ? lines.slice(-tail) : lines;
    res.json({ content: shown.map((line) => (timestamps ? `${line.at} ${line.text}` : line.text)).join("\n") + (shown.length > 0 ? "\n" : "") });
  });

  router.post(`${groupPath}/stop`, (req, res) => {
    const record = findGroup(ctx, req, res);
    if (record === undefined) return;
    addEvent(record.events, "Stopping", "Stopping container group", "Normal");
    void ctx.runtime.stop(record);
    record.state = "Stopped";
    res.status(204).end();
  });

  router.post(`${groupPath}/start`, (req, res) => {
    const record = findGroup(ctx, req, res);
    if (record === undefined) return;
    const operation = startOperation(ctx, record.location, groupId(record));
    void restart(ctx, record).then((failure) => { finishOperation(operation, failure); });
    res.setHeader("Azure-AsyncOperation", operationUrl(ctx, operation));
    res.status(202).end();
  });

  router.post(`${groupPath}/restart`, (req, res) => {
    const record = findGroup(ctx, req, res);
    if (record === undefined) return;
    void restart(ctx, record);
    res.status(204).end();
  });

  router.get("/subscriptions/:subscriptionId/providers/Microsoft.ContainerInstance/locations/:location/usages", (req, res) => {
    if (!hasApiVersion(req, res)) return;
    const location = normaliseLocation(param(req, "location"));
    res.json({ value: usageList(state, param(req, "subscriptionId"), location) });
  });

  return router;
}

/**
 * A claim (a PUT of a new group naming a profile, and usually a standby pool, whose containers
 * carry only config maps): a Running instance of the pool, or the body of a fresh group made
 * from the profile's revision with the claim's config maps, or the error of a claim that cannot
 * be served.
 */
function claimFromPool(
  ctx: EmulatorContext,
  wire: Record<string, unknown>,
  target: ResourceTarget,
  location: string,
): { error: ArmError } | { instance: ContainerGroupRecord } | { fresh: Record<string, unknown> } {
  const properties = wire.properties as {
    containerGroupProfile?: { id?: string; revision?: number };
    standbyPoolProfile?: { id?: string; failContainerGroupCreateOnReuseFailure?: boolean };
    containers?: { name?: string; properties?: Record<string, unknown> }[];
  };
  const profileReference = properties.containerGroupProfile ?? {};
  const profile = profileById(ctx.state, profileReference.id ?? "");
  if (profile === undefined) {
    // [guess] status and code: ARM's for a referenced resource that does not exist.
    return { error: { status: 404, code: "ResourceNotFound", message: `The container group profile '${profileReference.id ?? ""}' could not be found.` } };
  }
  const revision = profileReference.revision ?? profile.revision;
  const fresh = groupBodyFromProfile(profile, revision);
  if (fresh === undefined) {
    // [guess] code and message.
    return { error: { status: 404, code: "ResourceNotFound", message: `The revision '${revision}' of container group profile '${profile.name}' could not be found.` } };
  }
  if (profile.location !== location) {
    // [guess] code and message: a claim is made in its profile's (and pool's) region.
    return { error: { status: 400, code: "BadRequest", message: `The location '${location}' of container group '${target.name}' differs from the location '${profile.location}' of its container group profile.` } };
  }
  const merged = configMapOnlyUpdate(fresh, wire);
  const poolReference = properties.standbyPoolProfile;
  if (poolReference !== undefined) {
    const pool = poolById(ctx, poolReference.id ?? "");
    const instance = pool === undefined ? undefined : takeReadyInstance(ctx, pool, profileReference.id ?? "", profileReference.revision);
    if (instance !== undefined) return { instance };
    if (poolReference.failContainerGroupCreateOnReuseFailure === true) {
      // [guess] status, code and message: the spec says only that ACI then fails the create.
      return {
        error: {
          status: 409,
          code: "StandbyPoolReuseFailed",
          message: `No container group of standby pool '${poolReference.id ?? ""}' could be reused for container group '${target.name}', and failContainerGroupCreateOnReuseFailure is true.`,
        },
      };
    }
  }
  const body = merged?.body ?? fresh;
  const freshProperties = body.properties as Record<string, unknown>;
  const subnetIds = (wire.properties as { subnetIds?: unknown }).subnetIds;
  if (subnetIds !== undefined) freshProperties.subnetIds = structuredClone(subnetIds);
  // The claim's identity (Learn's request sample carries one) is kept; its tags are not (README, Guesses).
  return { fresh: { ...body, location, ...(wire.identity === undefined ? {} : { identity: structuredClone(wire.identity) }) } };
}

/**
 * Makes a pool's Running instance the claimed group: the same containers (their processes keep
 * running), under the PUT's name, with the claim's config maps. ARM answers once that is done,
 * claimMs after the PUT (until then the name holds no group): 201 with Azure-AsyncOperation, the
 * group Succeeded and Running, `isCreatedFromStandbyPool: true`, the config map files in place and
 * the operation already Succeeded (azure-cli's recorded claims, README). The claim's tags are
 * ignored (README, Guesses); a tags-only PATCH sets them.
 */
function handOut(ctx: EmulatorContext, instance: ContainerGroupRecord, wire: Record<string, unknown>, target: ResourceTarget, res: Response): void {
  const body = configMapOnlyUpdate(instance.body, wire)?.body ?? instance.body;
  if (wire.identity !== undefined) body.identity = structuredClone(wire.identity);
  delete body.tags;
  const generation = instance.generation;
  void sleep(ctx.state.delays.claimMs, undefined, { ref: false }).then(() => {
    // A reset or the emulator's stop took the instance: the connection closes unanswered.
    if (!ctx.state.standbyInstances.has(instance) || instance.generation !== generation) {
      res.destroy();
      return;
    }
    ctx.state.standbyInstances.delete(instance);
    instance.name = target.name;
    instance.resourceGroup = target.resourceGroupName;
    instance.body = body;
    instance.createdFromStandbyPool = true;
    ctx.state.containerGroups.set(ctx.state.groupKey(target.resourceGroup, target.name), instance);
    ctx.runtime.updateConfigMaps(instance);
    addEvent(instance.events, "Claimed", "Container group handed out by a standby pool", "Normal");
    const operation = startOperation(ctx, instance.location, groupId(instance));
    finishOperation(operation);
    res.setHeader("Azure-AsyncOperation", operationUrl(ctx, operation));
    res.status(201).json(groupView(instance, "created"));
  });
}

/**
 * When a PUT on an existing group changes nothing but config maps, the stored body with the new
 * config maps; undefined when it is an ordinary update (which restarts the containers). A
 * config-map-only body (containers carrying only `configMap`, with or without the profile and
 * pool references) sets the config maps of the containers it names; a full body qualifies when
 * it equals the stored one but for config maps.
 */
function configMapOnlyUpdate(stored: Record<string, unknown>, wire: Record<string, unknown>): { body: Record<string, unknown> } | undefined {
  const body = structuredClone(stored);
  const storedContainers = ((body.properties as Record<string, unknown>).containers ?? []) as { name: string; properties: Record<string, unknown> }[];
  const wireContainers = ((wire.properties as Record<string, unknown> | undefined)?.containers ?? []) as { name?: string; properties?: Record<string, unknown> }[];
  if (isConfigMapOnly(wire) || isClaimShaped(wire)) {
    for (const container of wireContainers) {
      const target = storedContainers.find((c) => c.name === container.name);
      // A config map for a container the group does not have is dropped without an error (README).
      if (target === undefined) continue;
      const configMap = container.properties?.configMap;
      if (configMap === undefined) delete target.properties.configMap;
      else target.properties.configMap = structuredClone(configMap);
    }
    return { body };
  }
  const withoutConfigMaps = (value: Record<string, unknown>): string => {
    const copy = structuredClone(value);
    delete copy.location;
    for (const c of ((copy.properties as Record<string, unknown> | undefined)?.containers ?? []) as { properties?: Record<string, unknown> }[]) delete c.properties?.configMap;
    return canonicalJson(copy);
  };
  if (withoutConfigMaps(stored) !== withoutConfigMaps(wire)) return undefined;
  return { body: { ...structuredClone(wire), location: stored.location } };
}

/**
 * A config-map-only update: the containers keep running; after the propagation delay the files
 * change in place and the operation ends. Answers 200 with Azure-AsyncOperation, as any update.
 * A container that runs without its config map folder (none at its start) is restarted instead.
 */
function updateConfigMapsInPlace(ctx: EmulatorContext, record: ContainerGroupRecord, body: Record<string, unknown>, res: Response): void {
  record.body = body;
  const operation = startOperation(ctx, record.location, groupId(record));
  const generation = record.generation;
  void sleep(ctx.state.delays.configMapMs, undefined, { ref: false }).then(async () => {
    if (!ctx.state.isStored(record) || record.generation !== generation || record.deletion !== undefined) {
      finishOperation(operation, { code: "OperationCanceled", message: `The container group '${record.name}' changed while its config maps were being updated.` });
      return;
    }
    if (ctx.runtime.updateConfigMaps(record) || record.state !== "Running") {
      finishOperation(operation);
      return;
    }
    // [emulator limit] a container that started without a config map has no folder to update.
    const failure = await restart(ctx, record);
    finishOperation(operation, failure);
  });
  res.setHeader("Azure-AsyncOperation", operationUrl(ctx, operation));
  res.status(200).json(groupView(record, "created"));
}

function findGroup(ctx: EmulatorContext, req: Request, res: Response): ContainerGroupRecord | undefined {
  const target = resolveTarget(ctx, req, res);
  if (target === undefined) return undefined;
  const record = ctx.state.containerGroups.get(ctx.state.groupKey(target.resourceGroup, target.name));
  if (record === undefined) sendArmError(res, containerGroupNotFound(target.resourceGroupName, target.name));
  return record;
}

async function provision(ctx: EmulatorContext, record: ContainerGroupRecord, noCapacity: boolean): Promise<{ code: string; message: string } | undefined> {
  const generation = record.generation;
  await sleep(ctx.state.delays.provisionMs, undefined, { ref: false });
  if (record.generation !== generation || !ctx.state.isStored(record)) return undefined;
  if (noCapacity) {
    record.state = "Failed";
    return capacityUnavailable(shortfallOf(record.body, record.location));
  }
  const failure = await ctx.runtime.start(record);
  if (failure !== undefined && record.generation === generation) record.state = "Failed";
  return failure;
}

async function restart(ctx: EmulatorContext, record: ContainerGroupRecord): Promise<{ code: string; message: string } | undefined> {
  await ctx.runtime.stop(record);
  record.generation++;
  record.state = "Pending";
  return ctx.runtime.start(record);
}

function sendPage(ctx: EmulatorContext, req: Request, res: Response, groups: ContainerGroupRecord[]): void {
  const size = ctx.state.behaviour.listPageSize;
  const skip = Number(queryString(req, "$skiptoken") ?? "0");
  const page = groups.slice(skip, skip + size);
  const next = skip + size < groups.length ? new URL(req.originalUrl, ctx.urls.arm) : undefined;
  next?.searchParams.set("$skiptoken", String(skip + size));
  res.json({ value: page.map((g) => groupView(g, "list")), ...(next === undefined ? {} : { nextLink: next.toString() }) });
}

function groupId(record: ContainerGroupRecord): string {
  return `/subscriptions/${wellKnown.subscriptionId}/resourceGroups/${record.resourceGroup}/providers/Microsoft.ContainerInstance/containerGroups/${record.name}`;
}

/**
 * The group as ARM returns it. Secrets never come back: secure environment values, secret
 * volume contents and registry passwords are left out.
 */
export function groupView(record: ContainerGroupRecord, form: "created" | "full" | "list"): Record<string, unknown> {
  const properties = structuredClone(record.body.properties ?? {}) as Record<string, unknown>;
  const containers = (properties.containers ?? []) as { name: string; properties: Record<string, unknown> }[];
  for (const container of containers) {
    const env = (container.properties.environmentVariables ?? []) as Record<string, unknown>[];
    for (const variable of env) delete variable.secureValue;
    if (form === "full" && record.containers.has(container.name)) {
      container.properties.instanceView = containerInstanceView(containerState(record, container.name));
    }
  }
  for (const volume of (properties.volumes ?? []) as Record<string, unknown>[]) {
    if (volume.secret !== undefined) volume.secret = {};
  }
  for (const credential of (properties.imageRegistryCredentials ?? []) as Record<string, unknown>[]) delete credential.password;
  properties.provisioningState = record.provisioningState;
  properties.sku ??= "Standard";
  if (properties.standbyPoolProfile !== undefined || properties.containerGroupProfile !== undefined) {
    properties.isCreatedFromStandbyPool = record.createdFromStandbyPool === true;
  }
  if (form !== "list") {
    properties.instanceView = { events: form === "created" ? [] : record.events, state: record.state };
  }
  const identity = record.body.identity as { type?: string } | undefined;
  return {
    id: groupId(record),
    name: record.name,
    type: "Microsoft.ContainerInstance/containerGroups",
    location: record.location,
    tags: record.body.tags ?? {},
    ...(identity === undefined ? {} : { identity: identityView(identity, record) }),
    properties,
  };
}

function containerInstanceView(container: ContainerRuntimeState): Record<string, unknown> {
  const stateOf = (s: ContainerRuntimeState) => ({
    state: s.state,
    ...(s.startTime === undefined ? {} : { startTime: s.startTime }),
    ...(s.exitCode === undefined ? {} : { exitCode: s.exitCode }),
    ...(s.finishTime === undefined ? {} : { finishTime: s.finishTime }),
    detailStatus: s.detailStatus,
  });
  return {
    restartCount: container.restartCount,
    currentState: stateOf(container),
    ...(container.previousState === undefined ? {} : { previousState: stateOf(container.previousState) }),
    events: container.events,
  };
}

function identityView(identity: { type?: string }, record: ContainerGroupRecord): Record<string, unknown> {
  const view: Record<string, unknown> = structuredClone(identity);
  if (identity.type?.includes("SystemAssigned") === true) {
    view.principalId = principalIdOf(record);
    view.tenantId = wellKnown.tenantId;
  }
  return view;
}

function principalIdOf(record: ContainerGroupRecord): string {
  const hex = Buffer.from(`${record.resourceGroup}/${record.name}`).toString("hex").padEnd(32, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function normaliseLocation(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}

function requestedCpu(body: Record<string, unknown>): number {
  const properties = body.properties as { containers?: { properties?: { resources?: { requests?: { cpu?: number } } } }[] } | undefined;
  return (properties?.containers ?? []).reduce((sum, c) => sum + (c.properties?.resources?.requests?.cpu ?? 0), 0);
}

function requestedMemory(body: Record<string, unknown>): number {
  const properties = body.properties as { containers?: { properties?: { resources?: { requests?: { memoryInGB?: number } } } }[] } | undefined;
  return (properties?.containers ?? []).reduce((sum, c) => sum + (c.properties?.resources?.requests?.memoryInGB ?? 0), 0);
}

function shortfallOf(body: Record<string, unknown>, location: string) {
  const properties = body.properties as { osType?: string; subnetIds?: unknown[] } | undefined;
  return {
    location,
    cpu: requestedCpu(body),
    memoryInGB: requestedMemory(body),
    osType: properties?.osType ?? "Linux",
    virtualNetwork: (properties?.subnetIds?.length ?? 0) > 0,
  };
}

