// Microsoft.ContainerInstance/containerGroupProfiles (api-version 2024-05-01-preview and later;
// CI-2025-09-01): a synchronous PUT (201 new, 200 update), GET, list, tags-only PATCH, DELETE
// (200, or 204 when absent), and the revisions: `properties.revision` is a read-only integer the
// service sets, 1 for a new profile, raised by each PUT that changes the properties.
import { Router, type Request, type Response } from "express";
import type { EmulatorContext } from "../context";
import { jsonBody, param, queryString } from "../http";
import { wellKnown, type ContainerGroupProfileRecord, type EmulatorState } from "../state";
import { invalidRequestContent, locationRequired, resourceMoved, resourceNotFound, unreadableRequestContent, type ArmError } from "./errors";
import { resolveTarget, type ResourceTarget } from "./resourceGroups";
import { sendArmError } from "./respond";
import { hasStandbyFields, validateContainerGroupPut } from "./validation";

export const profileType = "Microsoft.ContainerInstance/containerGroupProfiles";
const profilesPath = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/Microsoft.ContainerInstance/containerGroupProfiles";
const profilePath = `${profilesPath}/:name`;

/** CI-2025-09-01, parameter containerGroupProfileName. */
const profileName = /^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$/;

/** Members of ContainerGroupProfileProperties (CI-2025-09-01); a group's others (subnetIds, identity, ...) are unknown here. */
const profileMembers = new Set([
  "sku", "encryptionProperties", "containers", "initContainers", "extensions", "imageRegistryCredentials", "restartPolicy",
  "shutdownGracePeriod", "ipAddress", "timeToLive", "osType", "volumes", "diagnostics", "priority",
  "confidentialComputeProperties", "securityContext", "revision", "registeredRevisions", "useKrypton",
]);
const readOnlyMembers = ["revision", "registeredRevisions"];
/** Profile members the 2023-05-01 group schema does not know; not checked, not passed to groups [emulator limit]. */
const profileOnlyMembers = ["shutdownGracePeriod", "timeToLive", "useKrypton", "securityContext"];

function omit(source: Record<string, unknown>, members: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(source).filter(([key]) => !members.includes(key)));
}
const topMembers = new Set(["location", "tags", "zones", "properties", "id", "name", "type", "systemData"]);

export function containerGroupProfileRoutes(ctx: EmulatorContext): Router {
  const router = Router();
  const { state } = ctx;

  router.put(profilePath, (req, res) => {
    const target = resolve(ctx, req, res);
    if (target === undefined) return;
    if (!profileName.test(target.name)) {
      // [guess] code and message (the pattern is the spec's).
      sendArmError(res, { status: 400, code: "InvalidResourceName", message: `The resource name '${target.name}' is invalid. It must match the pattern '${profileName.source}'.` });
      return;
    }
    const body = jsonBody(req);
    const invalid = validateProfile(target.name, body, queryString(req, "api-version") ?? "", state.behaviour.strict);
    if (invalid !== undefined) {
      sendArmError(res, invalid);
      return;
    }
    const wire = body as Record<string, unknown>;
    const location = String(wire.location).replace(/\s+/g, "").toLowerCase();
    const properties = omit(structuredClone(wire.properties) as Record<string, unknown>, readOnlyMembers);
    const key = state.groupKey(target.resourceGroup, target.name);
    const existing = state.containerGroupProfiles.get(key);
    if (existing !== undefined && existing.location !== location) {
      sendArmError(res, resourceMoved(target.name, existing.location, target.resourceGroupName, location));
      return;
    }
    const tags = (wire.tags ?? {}) as Record<string, string>;
    const zones = Array.isArray(wire.zones) ? (wire.zones as string[]) : undefined;
    if (existing === undefined) {
      const record: ContainerGroupProfileRecord = { name: target.name, resourceGroup: target.resourceGroupName, location, tags, revision: 1, revisions: new Map([[1, properties]]) };
      if (zones !== undefined) record.zones = zones;
      state.containerGroupProfiles.set(key, record);
      res.status(201).json(profileView(record, 1));
      return;
    }
    existing.tags = tags;
    if (zones !== undefined) existing.zones = zones;
    // A revision is added only when the properties change (tags, zones and an identical PUT do not).
    if (canonicalJson(existing.revisions.get(existing.revision)) !== canonicalJson(properties)) {
      existing.revision++;
      existing.revisions.set(existing.revision, properties);
    }
    res.status(200).json(profileView(existing, existing.revision));
  });

  router.get(profilePath, (req, res) => {
    const record = find(ctx, req, res);
    if (record !== undefined) res.json(profileView(record, record.revision));
  });

  router.patch(profilePath, (req, res) => {
    const record = find(ctx, req, res);
    if (record === undefined) return;
    const body = jsonBody(req);
    const tags = (body as { tags?: unknown } | undefined)?.tags;
    if (tags !== undefined && !isStringMap(tags)) {
      sendArmError(res, invalidRequestContent("The tags must be an object of strings.", "tags"));
      return;
    }
    if (tags !== undefined) record.tags = tags;
    res.json(profileView(record, record.revision));
  });

  router.delete(profilePath, (req, res) => {
    const target = resolve(ctx, req, res);
    if (target === undefined) return;
    const key = state.groupKey(target.resourceGroup, target.name);
    if (!state.containerGroupProfiles.delete(key)) {
      res.status(204).end();
      return;
    }
    res.status(200).end();
  });

  router.get(`${profilePath}/revisions`, (req, res) => {
    const record = find(ctx, req, res);
    if (record === undefined) return;
    res.json({ value: [...record.revisions.keys()].sort((a, b) => a - b).map((n) => profileView(record, n)) });
  });

  router.get(`${profilePath}/revisions/:revision`, (req, res) => {
    const record = find(ctx, req, res);
    if (record === undefined) return;
    const revision = Number(param(req, "revision"));
    if (!record.revisions.has(revision)) {
      // [guess] code and message.
      sendArmError(res, { status: 404, code: "ResourceNotFound", message: `The revision '${param(req, "revision")}' of container group profile '${record.name}' was not found.` });
      return;
    }
    res.json(profileView(record, revision));
  });

  router.get(profilesPath, (req, res) => {
    const target = resolve(ctx, req, res, false);
    if (target === undefined) return;
    const profiles = [...state.containerGroupProfiles.values()].filter((p) => p.resourceGroup.toLowerCase() === target.resourceGroup);
    res.json({ value: profiles.map((p) => profileView(p, p.revision)) });
  });

  return router;
}

function resolve(ctx: EmulatorContext, req: Request, res: Response, withName = true): ResourceTarget | undefined {
  return resolveTarget(ctx, req, res, { withName, type: "containerGroupProfiles", hasVersion: hasStandbyFields });
}

function find(ctx: EmulatorContext, req: Request, res: Response): ContainerGroupProfileRecord | undefined {
  const target = resolve(ctx, req, res);
  if (target === undefined) return undefined;
  const record = ctx.state.containerGroupProfiles.get(ctx.state.groupKey(target.resourceGroup, target.name));
  if (record === undefined) sendArmError(res, resourceNotFound(profileType, target.name, target.resourceGroupName));
  return record;
}

/**
 * A profile PUT body: the ARM envelope, then the members a profile has (a group's subnetIds,
 * dnsConfig, identity, ... are unknown members, CI-2025-09-01), then the container group rules
 * (schema and semantics, without the group name's) on its properties.
 */
function validateProfile(name: string, body: unknown, apiVersion: string, strict: boolean): ArmError | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return unreadableRequestContent();
  const wire = body as Record<string, unknown>;
  if (typeof wire.location !== "string" || wire.location.trim() === "") return locationRequired();
  if (!strict) return undefined;
  for (const member of Object.keys(wire)) {
    // [guess] the type name ACI's deserializer would print.
    if (!topMembers.has(member)) return invalidRequestContent(`Could not find member '${member}' on object of type 'ContainerGroupProfile'. Path '${member}', line 1, position 1.`, member);
  }
  if (wire.tags !== undefined && !isStringMap(wire.tags)) return invalidRequestContent("The tags must be an object of strings.", "tags");
  const properties = wire.properties;
  if (properties === null || typeof properties !== "object" || Array.isArray(properties)) {
    return invalidRequestContent("Required property 'properties' not found in JSON. Path '', line 1, position 1.");
  }
  for (const member of Object.keys(properties)) {
    if (!profileMembers.has(member)) {
      return invalidRequestContent(`Could not find member '${member}' on object of type 'ContainerGroupProfileProperties'. Path 'properties.${member}', line 1, position 1.`, `properties.${member}`);
    }
  }
  const asGroup = omit(properties as Record<string, unknown>, [...readOnlyMembers, ...profileOnlyMembers]);
  return validateContainerGroupPut(name, { location: wire.location, properties: asGroup }, apiVersion, false, "profile");
}

function profileId(record: ContainerGroupProfileRecord): string {
  return `/subscriptions/${wellKnown.subscriptionId}/resourceGroups/${record.resourceGroup}/providers/${profileType}/${record.name}`;
}

/** The profile at a revision as ARM returns it: secrets left out (CI-EX ContainerGroupProfilesCreateOrUpdate.json). */
export function profileView(record: ContainerGroupProfileRecord, revision: number): Record<string, unknown> {
  const properties = withoutSecrets(record.revisions.get(revision) ?? {});
  properties.sku ??= "Standard";
  properties.revision = revision;
  properties.registeredRevisions = [...record.revisions.keys()].sort((a, b) => a - b);
  return {
    id: profileId(record),
    name: record.name,
    type: profileType,
    location: record.location,
    tags: record.tags,
    ...(record.zones === undefined ? {} : { zones: record.zones }),
    properties,
  };
}

/** A copy of a group's (or profile's) properties without the values ARM never returns. */
export function withoutSecrets(source: Record<string, unknown>): Record<string, unknown> {
  const properties = structuredClone(source);
  for (const container of (properties.containers ?? []) as { properties?: Record<string, unknown> }[]) {
    for (const variable of (container.properties?.environmentVariables ?? []) as Record<string, unknown>[]) delete variable.secureValue;
  }
  for (const volume of (properties.volumes ?? []) as Record<string, unknown>[]) {
    if (volume.secret !== undefined) volume.secret = {};
    const azureFile = volume.azureFile as Record<string, unknown> | undefined;
    if (azureFile !== undefined) delete azureFile.storageAccountKey;
  }
  for (const credential of (properties.imageRegistryCredentials ?? []) as Record<string, unknown>[]) delete credential.password;
  const logAnalytics = (properties.diagnostics as { logAnalytics?: Record<string, unknown> } | undefined)?.logAnalytics;
  if (logAnalytics !== undefined) delete logAnalytics.workspaceKey;
  return properties;
}

/** The profile an ARM id names, if it exists. */
export function profileById(state: EmulatorState, id: string): ContainerGroupProfileRecord | undefined {
  const match = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerInstance\/containerGroupProfiles\/([^/]+)$/i.exec(id);
  if (match?.[1]?.toLowerCase() !== wellKnown.subscriptionId || match[2] === undefined || match[3] === undefined) return undefined;
  return state.containerGroupProfiles.get(state.groupKey(match[2], match[3]));
}

/** The container group body a profile's revision makes (with its reference), as a pool's instance or a claim's fresh group has it. */
export function groupBodyFromProfile(record: ContainerGroupProfileRecord, revision: number): Record<string, unknown> | undefined {
  const properties = record.revisions.get(revision);
  if (properties === undefined) return undefined;
  const copy = omit(structuredClone(properties), profileOnlyMembers);
  return { location: record.location, properties: { ...copy, containerGroupProfile: { id: profileId(record), revision } } };
}

function isStringMap(value: unknown): value is Record<string, string> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string");
}

/** JSON with object members in sorted order, to compare bodies. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
