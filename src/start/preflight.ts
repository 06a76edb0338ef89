// Everything checked before anything is created; each problem names the input it is about.
import { AzureError, regionKey, type AciApi, type AciUsage, type ProfileInfo, type StandbyApi, type StandbyPoolInfo } from "../azure/aci";
import { RequestTimeout, sharedByReads } from "../core/deadline";
import { InputError } from "../core/errors";
import { DevOpsError, NOT_AZURE_DEVOPS, type AgentPool } from "../devops/client";
import { STANDBY_CONTAINER } from "../run/names";
import { namingRegistrationInput, type AgentRegistry } from "../run/pools";
import type { AgentPackages } from "./containerGroupSpec";
import { describe } from "./failures";
import type { StandbyTarget } from "./context";
import type { InFlight } from "./inFlight";
import type { StartConfig } from "./inputs";
import { planFleet, type FleetPlan } from "./plan";

/**
 * What pre-flight found: the pool, the first region and every region in the order tried, the
 * fleet's plan across them (unless the usage could not be read), and (for agents the step
 * registers) the agent packages.
 */
export interface Preflight {
  pool: AgentPool;
  location: string;
  regions: string[];
  plan: FleetPlan | undefined;
  packages: AgentPackages | undefined;
  /** The standby pool and its profile (standbyPool). */
  standby: StandbyTarget | undefined;
}

/** One region's usage, or why it could not be read. */
interface UsageRead {
  region: string;
  usages: AciUsage[] | undefined;
  error: unknown;
}

/** What pre-flight reads with: the step's inputs and services, the agents' names, and the step's end. */
export interface PreflightRun {
  config: StartConfig;
  services: { aci: AciApi; standby?: StandbyApi; pools: AgentRegistry; log: { warning(message: string): void } };
  names: string[];
  /** Ends at timeoutMinutes and on cancel. */
  signal: AbortSignal;
  inFlight: InFlight;
}

/**
 * What pre-flight may read at once, each listening to the step's signal: the agent pool, its
 * permissions and agents, two agent packages, the resource group, its groups, the regions, the
 * standby pool, the profile named like it and the one it names, and the sign-in's two; and one
 * usage per region.
 */
const readsBesideUsages = 13;

export async function preflight(run: PreflightRun): Promise<Preflight> {
  const { config, services, names, signal, inFlight } = run;
  const { aci, pools } = services;
  const registersAgents = config.osType === "Linux";
  sharedByReads(signal, readsBesideUsages + 1 + config.fallbackLocations.length);
  const readingResourceGroup = inFlight.track(`ARM to read resource group '${config.resourceGroup}'`, aci.resourceGroupLocation(config.resourceGroup, { signal })).catch((error: unknown) => {
    throw namingResourceGroup(error, config.resourceGroup);
  });
  const readingStandbyPool = config.standbyPool === undefined ? Promise.resolve(undefined) : standbyPool(run, config.standbyPool);
  const readingLikeNamedProfile: ProfileRead = config.standbyPool === undefined ? Promise.resolve({ profile: undefined }) : profileNamedLikePool(run, config.standbyPool);
  const readingStandby = readingStandbyPool.then((found) => (found === undefined ? undefined : standbyTarget(run, found, readingLikeNamedProfile)));
  // A standby start's agents are all in the pool's region (fallbackLocations is refused with it),
  // and only those beyond what the pool keeps ready need room there: its usage is read for them alone.
  const readingUsage =
    config.standbyPool !== undefined
      ? readingStandbyPool.then((found) => (found === undefined || freshAgents(config, found) === 0 ? [] : regionUsages(run, Promise.resolve(found.location))))
      : regionUsages(run, config.location === undefined ? readingResourceGroup.then(regionKey) : Promise.resolve(config.location));
  const findingPool = inFlight.track(`Azure DevOps to find pool '${config.pool}'`, pools.findPool(config.pool, signal)).catch((error: unknown) => {
    throw namingOrganizationUrl(namingRegistrationInput(error, config.registration), config.organizationUrl);
  });
  // The agent pool's own checks need only the pool: they are read while ARM is, and judged after
  // ARM's problems (settled, so that an earlier problem leaves no rejection unhandled).
  const checkingPool = findingPool.then((found) => checkedPool(run, found)).then(
    (pool) => ({ pool }),
    (error: unknown) => ({ error }),
  );
  // The pool's finding fails before ARM's problems are judged (a wrong organizationUrl comes first).
  const [, resourceGroupLocation, existing, regions, packages, usage, standby] = await Promise.all([
    findingPool,
    readingResourceGroup,
    inFlight.track(`ARM to list the container groups of '${config.resourceGroup}'`, aci.list(config.resourceGroup, { signal })).catch((error: unknown) => {
      // The step's end (timeout, cancel) is not the check's failure.
      if (signal.aborted) throw error;
      const named = namingResourceGroup(error, config.resourceGroup);
      if (named instanceof InputError) throw named;
      throw new Error(`Pre-flight could not check that the names ${names.join(", ")} are free in resource group '${config.resourceGroup}': ${describe(error)}`);
    }),
    inFlight.track("ARM to read the regions of Microsoft.ContainerInstance", containerGroupRegions(aci, signal, services.log)),
    registersAgents ? inFlight.track("Azure DevOps to name the agent packages", agentPackages(pools, config, signal)) : Promise.resolve(undefined),
    readingUsage,
    readingStandby,
  ]);
  const taken = names.filter((name) => existing.some((group) => group.name.toLowerCase() === name));
  const location = standby?.pool.location ?? config.location ?? regionKey(resourceGroupLocation);
  const problems = [
    ...(taken.length === 0
      ? []
      : [
          `namePrefix: ${taken.join(", ")} already exist${taken.length === 1 ? "s" : ""} in resource group '${config.resourceGroup}' (another start step of this run, or one kept by keepOnFailure); give each start step its own namePrefix, or remove them with AciAgentStop`,
        ]),
  ];
  const badRegions = regionProblems(config, location, regions);
  if (standby !== undefined && config.location !== undefined && regionKey(config.location) !== standby.pool.location) {
    badRegions.push(`location: '${config.location}' is not the region of standby pool '${standby.pool.name}' (${standby.pool.location}), where its agents are claimed; leave location out or set it to ${standby.pool.location}`);
  }
  problems.push(...badRegions);
  // A region ACI does not offer has no usage to plan by: its input is the problem.
  let plan: FleetPlan | undefined;
  if (badRegions.length === 0) {
    try {
      if (standby === undefined) plan = planFrom(config, usage, signal, services.log);
      else checkStandbyQuota(run, standby, usage);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  const checked = await checkingPool;
  if ("error" in checked) throw checked.error;
  const { pool } = checked;
  return { pool, location, regions: standby === undefined ? usage.map((read) => read.region) : [location], plan, packages, standby };
}

/** The standby pool named by standbyPool; an InputError naming standbyPool when there is no such pool. */
async function standbyPool({ config, services, signal, inFlight }: PreflightRun, name: string): Promise<StandbyPoolInfo> {
  const pool = await inFlight.track(`ARM to read standby pool '${name}'`, standbyApi(services).standbyPool(config.resourceGroup, name, { signal })).catch((error: unknown) => {
    if (error instanceof AzureError && error.code === "AuthorizationFailed") throw new InputError([`standbyPool: the service connection may not read standby pool '${name}': ${error.message}`]);
    throw error;
  });
  if (pool === undefined) {
    throw new InputError([`standbyPool: there is no standby pool '${name}' in resource group '${config.resourceGroup}' (make it with AciAgentStandbyPool@1, or give its resource id)`]);
  }
  return pool;
}

/**
 * The standby pool with its profile: the read of the profile named like the pool when the pool
 * names that one (its answer or its failure, as if read now), else the profile it names, read now;
 * an InputError naming standbyPool when it has none.
 */
async function standbyTarget(run: PreflightRun, pool: StandbyPoolInfo, likeNamed: ProfileRead): Promise<StandbyTarget> {
  if (pool.profileId === "") throw new InputError([`standbyPool: the standby pool '${pool.name}' names no container group profile`]);
  let profile: ProfileInfo | undefined;
  if (profileIdBeside(pool.id).toLowerCase() === pool.profileId.toLowerCase()) {
    const read = await likeNamed;
    if ("error" in read) throw read.error;
    profile = read.profile;
  } else {
    profile = await readProfile(run, pool.profileId);
  }
  if (profile === undefined) throw new InputError([`standbyPool: the container group profile ${pool.profileId} of standby pool '${pool.name}' does not exist`]);
  if (!profile.containerNames.includes(STANDBY_CONTAINER)) {
    const has = profile.containerNames.length === 0 ? "none" : profile.containerNames.map((name) => `'${name}'`).join(", ");
    throw new InputError([
      `standbyPool: the container group profile ${pool.profileId} of standby pool '${pool.name}' has no container named '${STANDBY_CONTAINER}' (it has ${has}): ACI would drop each claim's config map, and no agent could start; make the pool and its profile with AciAgentStandbyPool@1`,
    ]);
  }
  return { pool, profile };
}

/** A profile's read, settled: a pool that names another profile leaves its failure to no one. */
type ProfileRead = Promise<{ profile: ProfileInfo | undefined } | { error: unknown }>;

/**
 * The profile named like the pool, beside it, as AciAgentStandbyPool@1 makes them, read with the
 * pool rather than after it: a round trip less whenever the pool names it.
 */
async function profileNamedLikePool(run: PreflightRun, poolNameOrId: string): ProfileRead {
  try {
    return { profile: await readProfile(run, profileIdBeside(poolNameOrId)) };
  } catch (error) {
    return { error };
  }
}

function readProfile({ config, services, signal, inFlight }: PreflightRun, nameOrId: string): Promise<ProfileInfo | undefined> {
  return inFlight.track(`ARM to read container group profile ${nameOrId}`, standbyApi(services).containerGroupProfile(config.resourceGroup, nameOrId, { signal }));
}

/** The profile named like a pool, in the pool's resource group: its id from the pool's (a name stays a name). */
function profileIdBeside(poolNameOrId: string): string {
  return poolNameOrId.replace(/\/providers\/Microsoft\.StandbyPool\/standbyContainerGroupPools\//i, "/providers/Microsoft.ContainerInstance/containerGroupProfiles/");
}

/** The agents of a standby start beyond what its pool keeps ready: fresh groups from the profile when the pool runs dry. */
function freshAgents(config: StartConfig, pool: StandbyPoolInfo): number {
  return Math.max(0, config.agentCount - pool.maxReadyCapacity);
}

function standbyApi(services: PreflightRun["services"]): StandbyApi {
  if (services.standby === undefined) throw new Error("standbyPool: this step was given no way to claim from a standby pool");
  return services.standby;
}

/**
 * The agent pool, checked: it exists and is self-hosted, the registering identity may manage it,
 * and none of the agents' names is registered in it yet; an InputError naming the input otherwise.
 */
async function checkedPool({ config, services, names, signal, inFlight }: PreflightRun, pool: AgentPool | undefined): Promise<AgentPool> {
  if (pool === undefined) {
    throw new InputError([`pool: there is no agent pool '${config.pool}' in ${config.organizationUrl} that the registering identity can see`]);
  }
  if (pool.isHosted) {
    throw new InputError([`pool: '${config.pool}' is a Microsoft-hosted pool; name a self-hosted pool`]);
  }
  const [mayManage, registered] = await Promise.all([
    inFlight.track(`Azure DevOps to check the permissions on pool '${pool.name}'`, services.pools.canManagePool(pool.id, signal)),
    inFlight.track(`Azure DevOps to list the agents of pool '${pool.name}'`, services.pools.listAgents(pool.id, signal)),
  ]);
  if (!mayManage) {
    throw new InputError([
      `registrationAuth: the identity of registrationAuth ${config.registration.auth} lacks the Administrator role (Manage) on pool '${pool.name}', which registering and removing agents need`,
    ]);
  }
  const registeredNames = names.filter((name) => registered.some((agent) => agent.name.toLowerCase() === name));
  if (registeredNames.length > 0) {
    throw new InputError([
      `namePrefix: ${registeredNames.join(", ")} ${registeredNames.length === 1 ? "is" : "are"} already registered in pool '${pool.name}' (another start step of this run, or left by one); give each start step its own namePrefix, or remove them with AciAgentStop`,
    ]);
  }
  return pool;
}

/**
 * A standby start's quota check, in the pool's region only: the pool's ready instances already
 * hold their cores and a claim hands one over without taking more, so only the agents beyond
 * maxReadyCapacity (fresh groups from the profile, when the pool runs dry) need room. The pool
 * refilling what was claimed takes cores too, but that is the pool's to wait for, not the step's.
 * No plan comes of it: every agent goes to the pool's region.
 */
function checkStandbyQuota({ config, services, signal }: PreflightRun, standby: StandbyTarget, usage: readonly UsageRead[]): void {
  const fresh = freshAgents(config, standby.pool);
  if (fresh === 0 || standby.profile === undefined) return;
  planFrom({ ...config, agentCount: fresh, cpu: standby.profile.cpu, priority: "Regular" }, usage, signal, services.log);
}

/**
 * Reads the usage of `location` and of each fallback region at once: the fallbacks' at the
 * start, the first region's once it is known (the resource group's, when `location` is not set).
 */
async function regionUsages({ config, services, signal, inFlight }: PreflightRun, firstRegion: Promise<string>): Promise<UsageRead[]> {
  const read = (region: string): Promise<UsageRead> =>
    inFlight.track(`ARM to read the Container Instances usage of ${region}`, services.aci.usages(region, { signal })).then(
      (usages) => ({ region, usages, error: undefined }),
      (error: unknown) => ({ region, usages: undefined, error }),
    );
  const fallbacks = new Map<string, Promise<UsageRead>>();
  for (const region of config.fallbackLocations) if (!fallbacks.has(region)) fallbacks.set(region, read(region));
  const location = await firstRegion;
  const first = fallbacks.get(location) ?? read(location);
  fallbacks.delete(location);
  return Promise.all([first, ...fallbacks.values()]);
}

/**
 * The fleet's plan across the regions; an InputError when it does not fit. Undefined, with one
 * warning, when the identity may not read the usage of a region: then ARM judges each create.
 */
function planFrom(config: StartConfig, usage: readonly UsageRead[], signal: AbortSignal, log: { warning(message: string): void }): FleetPlan | undefined {
  const refused = usage.filter(({ error }) => error instanceof AzureError && error.code === "AuthorizationFailed");
  if (refused.length > 0) {
    const [first] = refused;
    log.warning(
      `The service connection may not read the Container Instances usage of ${refused.map((r) => r.region).join(", ")} (Microsoft.ContainerInstance/locations/usages/read), so the fleet is not planned by quota before the create: ${first?.error instanceof Error ? first.error.message : ""}`,
    );
    return undefined;
  }
  const failed = usage.find(({ error }) => error !== undefined);
  if (failed !== undefined) {
    // The step's end (timeout, cancel) is not the read's failure.
    if (signal.aborted) throw failed.error;
    throw new Error(`Pre-flight could not read the Container Instances usage of ${failed.region}: ${describe(failed.error)}`);
  }
  return planFleet(config, usage.map(({ region, usages }) => ({ region, usages: usages ?? [] })));
}

/** The glibc package every Linux agent needs, and the musl one when the feed has it (for Alpine images). */
async function agentPackages(pools: AgentRegistry, config: StartConfig, signal: AbortSignal): Promise<AgentPackages> {
  const [glibc, musl] = await Promise.all([pools.agentPackage("linux-x64", signal), pools.agentPackage("linux-musl-x64", signal)]).catch((error: unknown) => {
    throw namingOrganizationUrl(namingRegistrationInput(error, config.registration), config.organizationUrl);
  });
  if (glibc === undefined) throw new Error(`Azure DevOps at ${config.organizationUrl} names no linux-x64 agent package (_apis/distributedtask/packages/agent)`);
  return { glibc, musl };
}

/** Regions named in the inputs (or the resource group's, when `location` is not set) where ACI cannot create groups. */
export function regionProblems(config: Pick<StartConfig, "location" | "fallbackLocations">, location: string, regions: readonly string[] | undefined): string[] {
  if (regions === undefined) return [];
  const offered = new Set(regions);
  const problems: string[] = [];
  if (!offered.has(location)) {
    problems.push(
      config.location === undefined
        ? `location: not set, and the resource group's region ${location} does not offer Azure Container Instances to this subscription; set location`
        : `location: '${location}' is not a region where this subscription can create container groups`,
    );
  }
  const unknown = config.fallbackLocations.filter((region) => !offered.has(region));
  if (unknown.length > 0) problems.push(`fallbackLocations: ${unknown.map((r) => `'${r}'`).join(", ")} ${unknown.length === 1 ? "is not a region" : "are not regions"} where this subscription can create container groups`);
  return problems;
}

/** The regions, or undefined when the identity may not read the resource provider (then ARM judges the region at create). */
async function containerGroupRegions(aci: AciApi, signal: AbortSignal, log: { warning(message: string): void }): Promise<string[] | undefined> {
  try {
    return await aci.containerGroupRegions({ signal });
  } catch (error) {
    if (error instanceof AzureError && error.code === "AuthorizationFailed") {
      log.warning(`The service connection may not read the Microsoft.ContainerInstance resource provider, so the regions are not checked before the create: ${error.message}`);
      return undefined;
    }
    throw error;
  }
}

function namingResourceGroup(error: unknown, resourceGroup: string): unknown {
  if (error instanceof AzureError && error.code === "ResourceGroupNotFound") {
    return new InputError([`resourceGroup: the resource group '${resourceGroup}' does not exist in the service connection's subscription`]);
  }
  if (error instanceof AzureError && error.code === "AuthorizationFailed") {
    return new InputError([`azureSubscription: the service connection may not read resource group '${resourceGroup}': ${error.message}`]);
  }
  return error;
}

/** A URL that does not lead to Azure DevOps (nothing answers, or something else does) is the organizationUrl input's problem. */
function namingOrganizationUrl(error: unknown, organizationUrl: string): unknown {
  const notAzureDevOps = error instanceof DevOpsError && (error.status === 404 || error.typeKey === NOT_AZURE_DEVOPS);
  if (!notAzureDevOps && !isUnreachable(error)) return error;
  return new InputError([`organizationUrl: ${organizationUrl} does not answer as an Azure DevOps organization (${describe(error)})`]);
}

/** No answer at all: the host does not resolve, refuses, fails TLS, or hangs. */
function isUnreachable(error: unknown): boolean {
  if (error instanceof RequestTimeout) return true;
  const rest = error as { name?: unknown; statusCode?: unknown };
  return rest.name === "RestError" && rest.statusCode === undefined;
}
