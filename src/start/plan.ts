// Planning the fleet across regions from the subscription's Container Instances usage, before
// anything is written: agents go to the first region with room for them, then the next, in the
// order of `location` and `fallbackLocations`. Room is what the quota of the step's cores
// (StandardCores for Regular, StandardSpotCores for Spot) and of container groups leaves.
import type { AciUsage } from "../azure/aci";
import { InputError } from "../core/errors";
import type { Priority } from "./inputs";

export const CONTAINER_GROUPS_QUOTA = "ContainerGroups";

/**
 * The usage line of the cores a group of this priority counts against. StandardCores is what
 * ACI's published quota errors name for Regular groups; StandardSpotCores is the quota Microsoft
 * Learn's troubleshooting article "ContainerGroupQuotaReached error when deploying Spot
 * containers" names for Spot groups.
 */
export function coresQuotaOf(priority: Priority): string {
  return priority === "Spot" ? "StandardSpotCores" : "StandardCores";
}

/**
 * The cores one agent's group counts against the quota. [guess] A fractional CPU counts as the
 * next whole core (1.5 counts 2, 0.5 counts 1): the usage listing's currentValue and limit are
 * integers (int32 in the swagger's Usage) and the published quota errors request whole cores;
 * nothing public says how ACI counts 1.5. Rounding up can refuse a fleet that would just fit,
 * never plan one that cannot.
 */
export function coresPerAgent(cpu: number): number {
  return Math.ceil(cpu);
}

export interface RegionUsage {
  region: string;
  usages: readonly AciUsage[];
}

/** What is left of one quota in a region: `left` of `limit`. */
export interface QuotaLeft {
  name: string;
  left: number;
  limit: number;
}

export interface PlannedRegion {
  region: string;
  /** Undefined when the listing does not name the quota: then it does not limit the plan. */
  cores: QuotaLeft | undefined;
  groups: QuotaLeft | undefined;
  /** Agents the region has room for (Infinity when neither quota is listed). */
  room: number;
  /** Agents the plan puts there. */
  agents: number;
}

export interface FleetPlan {
  coresQuota: string;
  coresPerAgent: number;
  /** Every region, in the order tried, with what is left there and the agents planned there. */
  regions: PlannedRegion[];
  /** Each agent's planned region, by the agent's index. */
  placement: string[];
}

export interface PlanRequest {
  agentCount: number;
  cpu: number;
  priority: Priority;
}

/**
 * Puts the agents in the first region with room, then the next. Throws an InputError naming the
 * numbers and the ways out when the whole fleet does not fit.
 */
export function planFleet(request: PlanRequest, usage: readonly RegionUsage[]): FleetPlan {
  const coresQuota = coresQuotaOf(request.priority);
  const perAgent = coresPerAgent(request.cpu);
  let unplaced = request.agentCount;
  const placement: string[] = [];
  const regions = usage.map(({ region, usages }): PlannedRegion => {
    const cores = quotaLeft(usages, coresQuota);
    const groups = quotaLeft(usages, CONTAINER_GROUPS_QUOTA);
    const room = Math.min(cores === undefined ? Infinity : Math.floor(cores.left / perAgent), groups === undefined ? Infinity : groups.left);
    const agents = Math.min(room, unplaced);
    unplaced -= agents;
    for (let i = 0; i < agents; i++) placement.push(region);
    return { region, cores, groups, room, agents };
  });
  if (unplaced > 0) throw new InputError([shortfall(request, coresQuota, perAgent, regions, unplaced)]);
  return { coresQuota, coresPerAgent: perAgent, regions, placement };
}

function quotaLeft(usages: readonly AciUsage[], name: string): QuotaLeft | undefined {
  const line = usages.find((usage) => usage.name.toLowerCase() === name.toLowerCase());
  return line === undefined ? undefined : { name: line.name, left: Math.max(0, line.limit - line.current), limit: line.limit };
}

function shortfall(request: PlanRequest, coresQuota: string, perAgent: number, regions: readonly PlannedRegion[], unplaced: number): string {
  const fits = request.agentCount - unplaced;
  const perRegion = regions.map((r) => `${r.region}: ${leftOf(r.cores, coresQuota)} and ${leftOf(r.groups, CONTAINER_GROUPS_QUOTA)} left, room for ${r.room}`);
  return [
    `agentCount: ${request.agentCount} agent(s) of ${request.cpu} CPU (${perAgent} ${coresQuota} each) need ${request.agentCount * perAgent} ${coresQuota} and ${request.agentCount} ${CONTAINER_GROUPS_QUOTA} in all,`,
    `but the subscription's Container Instances quota leaves room for ${fits} (${perRegion.join("; ")});`,
    `the other ${unplaced} need ${unplaced * perAgent} ${coresQuota} and ${unplaced} ${CONTAINER_GROUPS_QUOTA} more.`,
    `Nothing was created. Lower agentCount or cpu, add regions with room to fallbackLocations, or request more quota on the Azure portal's Quotas page (provider: Container Instances) for ${regions.map((r) => r.region).join(", ")}.`,
  ].join(" ");
}

function leftOf(quota: QuotaLeft | undefined, name: string): string {
  return quota === undefined ? `${name} not listed` : `${quota.left} of ${quota.limit} ${quota.name}`;
}

/** "3 agent(s) in westeurope (6 of 10 StandardCores left), 5 in northeurope (400 of 400 StandardCores left)". */
export function describePlan(plan: FleetPlan): string {
  const used = plan.regions.filter((r) => r.agents > 0);
  return used
    .map((r, i) => `${r.agents}${i === 0 ? " agent(s)" : ""} in ${r.region}${r.cores === undefined ? "" : ` (${r.cores.left} of ${r.cores.limit} ${r.cores.name} left)`}`)
    .join(", ");
}

/**
 * The regions one agent tries, in order: its planned region, the regions after it where the plan
 * found room, then the others (in input order). A create refused there for quota or capacity
 * moves on to the next.
 */
export function regionsOf(plan: FleetPlan, planned: string): string[] {
  const index = plan.regions.findIndex((r) => r.region === planned);
  const withRoom = plan.regions.slice(index + 1).filter((r) => r.room > 0).map((r) => r.region);
  const others = plan.regions.map((r) => r.region).filter((region) => region !== planned && !withRoom.includes(region));
  return [planned, ...withRoom, ...others];
}
