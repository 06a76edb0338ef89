// The container group profile and the standby pool AciAgentStandbyPool puts, in the REST shape.
import { createHash } from "node:crypto";
import type { EnvironmentVariable as ContainerEnvironmentVariable } from "@azure/arm-containerinstance";
import { AGENT_WORK_FOLDER, bootstrapCommand, type AgentPackages } from "../start/containerGroupSpec";
import { STANDBY_CONTAINER } from "../run/names";
import type { StandbyConfig } from "./inputs";

/** Profiles and the claim: Microsoft.ContainerInstance's first stable version with them. */
export const PROFILE_API_VERSION = "2025-09-01";
/** Microsoft.StandbyPool's newest stable version. */
export const POOL_API_VERSION = "2026-04-01";
/** sha256 of the profile as put: secure values cannot be read back, so a change is seen by this tag. */
export const PROFILE_HASH_TAG = "aci-agents-profile-hash";

export interface ProfileContainer {
  name: string;
  properties: {
    image: string;
    command?: string[];
    resources: { requests: { cpu: number; memoryInGB: number } };
    environmentVariables: ContainerEnvironmentVariable[];
  };
}

export interface ProfileBody {
  location: string;
  tags: Record<string, string>;
  properties: {
    osType: "Linux";
    restartPolicy: "Never";
    containers: ProfileContainer[];
    imageRegistryCredentials?: { server: string; username: string; password: string }[];
  };
}

export interface PoolBody {
  location: string;
  properties: {
    elasticityProfile: { maxReadyCapacity: number; refillPolicy: "always" };
    containerGroupProperties: {
      containerGroupProfile: { id: string; revision?: number };
      subnetIds?: { id: string }[];
    };
  };
}

/**
 * The profile: restart policy Never, since a restart loses the key the container made inside;
 * the agent package from the feed, so the container prepares it before any claim.
 */
export function profileBody(config: StandbyConfig, location: string, packages: AgentPackages, bootstrapScript: string): ProfileBody {
  const properties: ProfileBody["properties"] = {
    osType: "Linux",
    restartPolicy: "Never",
    containers: [
      {
        name: STANDBY_CONTAINER,
        properties: {
          image: config.image,
          ...(config.imageMode === "bootstrap" ? { command: bootstrapCommand(bootstrapScript) } : {}),
          resources: { requests: { cpu: config.cpu, memoryInGB: config.memoryGB } },
          environmentVariables: standbyEnvironment(config, packages),
        },
      },
    ],
    ...(config.registry === undefined
      ? {}
      : { imageRegistryCredentials: [{ server: config.registry.server, username: config.registry.username, password: config.registry.password }] }),
  };
  return { location, tags: { [PROFILE_HASH_TAG]: profileHash(location, properties) }, properties };
}

function standbyEnvironment(config: StandbyConfig, packages: AgentPackages): ContainerEnvironmentVariable[] {
  return [
    { name: "AZP_STANDBY", value: "true" },
    { name: "AZP_CONTAINER_NAME", value: STANDBY_CONTAINER },
    { name: "AZP_AGENT_PACKAGE_URL", value: packages.glibc.downloadUrl },
    { name: "AZP_AGENT_PACKAGE_SHA256", value: packages.glibc.hashValue },
    ...(packages.musl === undefined
      ? []
      : [
          { name: "AZP_AGENT_MUSL_PACKAGE_URL", value: packages.musl.downloadUrl },
          { name: "AZP_AGENT_MUSL_PACKAGE_SHA256", value: packages.musl.hashValue },
        ]),
    { name: "AZP_WORK", value: AGENT_WORK_FOLDER },
    ...(config.startupScript === undefined ? [] : [{ name: "AZP_STARTUP_SCRIPT", secureValue: config.startupScript }]),
    ...config.environmentVariables.map(({ name, value }) => ({ name, value })),
  ];
}

/**
 * sha256 (hex) of the canonical JSON of what the profile is made of: every container input,
 * secure values included, and what the task adds (bootstrap script, agent package). Only its hex
 * digest is stored, in a tag, so no secret is readable from it.
 */
export function profileHash(location: string, properties: ProfileBody["properties"]): string {
  return createHash("sha256").update(canonicalJson({ location, properties })).digest("hex");
}

/** JSON with every object's keys sorted, so that equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, entry]) => entry !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function profileId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerInstance/containerGroupProfiles/${name}`;
}

/** The pool: refill always, the profile's revision, the subnets (a profile has none). */
export function poolBody(config: StandbyConfig, location: string, profile: { id: string; revision: number | undefined }): PoolBody {
  return {
    location,
    properties: {
      elasticityProfile: { maxReadyCapacity: config.readyCapacity, refillPolicy: "always" },
      containerGroupProperties: {
        containerGroupProfile: { id: profile.id, ...(profile.revision === undefined ? {} : { revision: profile.revision }) },
        ...(config.subnetIds.length === 0 ? {} : { subnetIds: config.subnetIds.map((id) => ({ id })) }),
      },
    },
  };
}
