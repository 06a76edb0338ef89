// action apply: the profile (only when its hash tag differs: a profile change drains and refills
// the whole pool), then the pool; action delete: the pool, then the profile.
import type { StandbyArmApi, ArmResource } from "../azure/standby";
import type { Clock } from "../core/clock";
import type { AgentPackages } from "../start/containerGroupSpec";
import type { StandbyConfig } from "./inputs";
import { awaitRunningInstance, type PoolHealth } from "./readiness";
import { POOL_API_VERSION, PROFILE_API_VERSION, PROFILE_HASH_TAG, poolBody, profileBody, profileId, type PoolBody } from "./resources";

export interface StandbyDeps {
  arm: StandbyArmApi;
  /** The resource group's region, asked only when location is not set. */
  resourceGroupLocation(): Promise<string>;
  /** The agent packages of the feed, read only when the profile is put. */
  packages(): Promise<AgentPackages>;
  bootstrapScript: string;
  log: { info(message: string): void };
  clock: Clock;
  signal: AbortSignal;
}

export interface ApplyResult {
  action: "apply";
  profileId: string;
  poolId: string;
  revision: number | undefined;
  profileChanged: boolean;
  poolChanged: boolean;
  /** The pool's instances once one ran (undefined: readyCapacity 0, nothing to wait for). */
  health: PoolHealth | undefined;
}

export interface DeleteResult {
  action: "delete";
  poolRemoved: boolean;
  profileRemoved: boolean;
}

export function poolId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.StandbyPool/standbyContainerGroupPools/${name}`;
}

export async function runStandby(config: StandbyConfig, deps: StandbyDeps): Promise<ApplyResult | DeleteResult> {
  return config.action === "delete" ? deleteStandby(config, deps) : applyStandby(config, deps);
}

async function applyStandby(config: StandbyConfig, deps: StandbyDeps): Promise<ApplyResult> {
  const { arm, signal, log } = deps;
  const location = config.location ?? (await deps.resourceGroupLocation());
  const profile = profileId(arm.subscriptionId, config.resourceGroup, config.standbyPool);
  const pool = poolId(arm.subscriptionId, config.resourceGroup, config.standbyPool);
  const wanted = profileBody(config, location, await deps.packages(), deps.bootstrapScript);
  const current = await arm.get(profile, PROFILE_API_VERSION, { signal });
  const hash = wanted.tags[PROFILE_HASH_TAG];
  let revision = revisionOf(current);
  const profileChanged = current?.tags?.[PROFILE_HASH_TAG] !== hash;
  if (profileChanged) {
    log.info(current === undefined ? `Creating the container group profile ${config.standbyPool}.` : `The container inputs changed: updating the container group profile ${config.standbyPool} (the pool drains and refills).`);
    revision = revisionOf(await arm.put(profile, PROFILE_API_VERSION, wanted, { signal }));
  } else {
    log.info(`The container group profile ${config.standbyPool} is up to date (revision ${String(revision)}).`);
  }
  const wantedPool = poolBody(config, location, { id: profile, revision });
  const currentPool = await arm.get(pool, POOL_API_VERSION, { signal });
  const poolChanged = currentPool === undefined || !samePool(currentPool, wantedPool);
  if (poolChanged) {
    log.info(`${currentPool === undefined ? "Creating" : "Updating"} the standby pool ${config.standbyPool}: ${config.readyCapacity} ready instance(s) of profile revision ${String(revision)}.`);
    await arm.put(pool, POOL_API_VERSION, wantedPool, { signal });
  } else {
    log.info(`The standby pool ${config.standbyPool} is up to date.`);
  }
  const health =
    config.readyCapacity === 0
      ? undefined
      : await awaitRunningInstance({ arm, poolId: pool, poolName: config.standbyPool, resourceGroup: config.resourceGroup, subnetIds: config.subnetIds, timeoutMinutes: config.timeoutMinutes, clock: deps.clock, log, signal });
  if (health === undefined) log.info(`readyCapacity is 0: the pool keeps no instance, so nothing shows yet whether its resource provider can create them.`);
  return { action: "apply", profileId: profile, poolId: pool, revision, profileChanged, poolChanged, health };
}

async function deleteStandby(config: StandbyConfig, deps: StandbyDeps): Promise<DeleteResult> {
  const { arm, signal, log } = deps;
  // The pool first: its instances are made from the profile.
  const poolRemoved = await arm.delete(poolId(arm.subscriptionId, config.resourceGroup, config.standbyPool), POOL_API_VERSION, { signal });
  log.info(poolRemoved ? `Removed the standby pool ${config.standbyPool}.` : `The standby pool ${config.standbyPool} was already gone.`);
  const profileRemoved = await arm.delete(profileId(arm.subscriptionId, config.resourceGroup, config.standbyPool), PROFILE_API_VERSION, { signal });
  log.info(profileRemoved ? `Removed the container group profile ${config.standbyPool}.` : `The container group profile ${config.standbyPool} was already gone.`);
  return { action: "delete", poolRemoved, profileRemoved };
}

function revisionOf(resource: ArmResource | undefined): number | undefined {
  const revision = resource?.properties?.revision;
  return typeof revision === "number" ? revision : undefined;
}

/** What apply sets, compared with what the pool has: capacity, refill, profile and revision, subnets. */
function samePool(current: ArmResource, wanted: PoolBody): boolean {
  const properties = (current.properties ?? {}) as {
    elasticityProfile?: { maxReadyCapacity?: unknown; refillPolicy?: unknown };
    containerGroupProperties?: { containerGroupProfile?: { id?: unknown; revision?: unknown }; subnetIds?: { id?: unknown }[] };
  };
  const want = wanted.properties;
  const profile = properties.containerGroupProperties?.containerGroupProfile;
  const subnets = (properties.containerGroupProperties?.subnetIds ?? []).map((s) => String(s.id).toLowerCase()).sort();
  const wantedSubnets = (want.containerGroupProperties.subnetIds ?? []).map((s) => s.id.toLowerCase()).sort();
  return (
    properties.elasticityProfile?.maxReadyCapacity === want.elasticityProfile.maxReadyCapacity &&
    String(properties.elasticityProfile.refillPolicy).toLowerCase() === "always" &&
    String(profile?.id).toLowerCase() === want.containerGroupProperties.containerGroupProfile.id.toLowerCase() &&
    (want.containerGroupProperties.containerGroupProfile.revision === undefined || profile?.revision === want.containerGroupProperties.containerGroupProfile.revision) &&
    subnets.join("\n") === wantedSubnets.join("\n")
  );
}
