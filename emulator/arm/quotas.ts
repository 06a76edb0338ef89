// ACI's quotas per region and its create and delete rates per subscription. Usage follows the
// stored container groups (a group counts from its accepted PUT until its delete has finished);
// a PUT that would take a region past a limit is refused with ACI's published quota error, and
// creates and deletes beyond the documented rates are refused with 429 and Retry-After. What is
// documented and what is guessed is in emulator/README.md ("Quotas and rates").
import type { ContainerGroupRecord, EmulatorState, RateLimits, UsageName } from "../state";
import { usageNames } from "../state";
import type { ArmError } from "./errors";

/** `name.localizedValue` of each usage, as ACI's usage list words them. */
const localizedNames: Record<UsageName, string> = {
  ContainerGroups: "Container Groups",
  StandardCores: "Standard SKU cores",
  StandardSpotCores: "Standard spot SKU cores",
  StandardK80Cores: "Standard K80 GPU cores",
  StandardP100Cores: "Standard P100 GPU cores",
  StandardV100Cores: "Standard V100 GPU cores",
  DedicatedContainerGroups: "Dedicated container groups",
};

interface WireContainer {
  properties?: { resources?: { requests?: { cpu?: number; gpu?: { sku?: string } } } };
}

interface WireProperties {
  containers?: WireContainer[];
  sku?: string;
  priority?: string;
}

/**
 * What one container group takes of its region's quotas: one group (Dedicated groups in
 * DedicatedContainerGroups, all others in ContainerGroups) and its cores, rounded up to a whole
 * core for the group [guess, from ACI's billing], in the cores quota of its kind: StandardSpotCores
 * for priority Spot, Standard{K80,P100,V100}Cores for a group with GPUs, StandardCores otherwise.
 */
export function demandOf(body: Record<string, unknown>): Partial<Record<UsageName, number>> {
  const properties = (body.properties ?? {}) as WireProperties;
  const containers = properties.containers ?? [];
  const cpu = containers.reduce((sum, c) => sum + (c.properties?.resources?.requests?.cpu ?? 0), 0);
  // A whole core per started one, without counting float noise (0.1 + 0.2) as a core.
  const cores = Math.ceil(cpu - 1e-9);
  const gpuSku = containers.map((c) => c.properties?.resources?.requests?.gpu?.sku?.toUpperCase()).find((sku) => sku !== undefined);
  const coresName: UsageName =
    properties.priority?.toLowerCase() === "spot"
      ? "StandardSpotCores"
      : gpuSku === "K80"
        ? "StandardK80Cores"
        : gpuSku === "P100"
          ? "StandardP100Cores"
          : gpuSku === "V100"
            ? "StandardV100Cores"
            : "StandardCores";
  const groupsName: UsageName = properties.sku?.toLowerCase() === "dedicated" ? "DedicatedContainerGroups" : "ContainerGroups";
  return { [groupsName]: 1, [coresName]: cores };
}

/** What the region's stored groups use (a group being deleted counts until it is gone). */
export function usageOf(state: EmulatorState, location: string, except?: ContainerGroupRecord): Record<UsageName, number> {
  const usage = Object.fromEntries(usageNames.map((name) => [name, 0])) as Record<UsageName, number>;
  // A standby pool's instances take quota too (Learn, standby pool FAQ: insufficient quota makes
  // the pool's creates fail).
  for (const group of [...state.containerGroups.values(), ...state.standbyInstances]) {
    if (group.location !== location || group === except) continue;
    for (const [name, amount] of Object.entries(demandOf(group.body)) as [UsageName, number][]) usage[name] += amount;
  }
  return usage;
}

/** The region's limits: its own (`quotas`) over the default ones. */
export function limitsOf(state: EmulatorState, location: string): Record<UsageName, number> {
  return { ...state.behaviour.defaultQuota, ...state.behaviour.quotas.get(location) };
}

/**
 * The quota error for a group that would take `location` past a limit, or undefined when it fits.
 * `existing` is the group a PUT replaces: its own use does not count against it.
 */
export function quotaExceeded(state: EmulatorState, location: string, body: Record<string, unknown>, existing?: ContainerGroupRecord): ArmError | undefined {
  const usage = usageOf(state, location, existing);
  const limits = limitsOf(state, location);
  const demand = demandOf(body);
  for (const name of usageNames) {
    const requested = demand[name] ?? 0;
    if (requested === 0 || usage[name] + requested <= limits[name]) continue;
    // Status, code and message as ACI answers them (README, "Quotas and rates").
    return {
      status: 400,
      code: "ContainerGroupQuotaReached",
      message: `Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota '${name}' exceeded in region '${location}'. Limit: '${limits[name]}', Usage: '${usage[name]}' Requested: '${requested}'.`,
    };
  }
  return undefined;
}

/** The usage list of a region, in the shape of Location_ListUsage. */
export function usageList(state: EmulatorState, subscriptionId: string, location: string): Record<string, unknown>[] {
  const usage = usageOf(state, location);
  const limits = limitsOf(state, location);
  return usageNames.map((name) => ({
    id: `/subscriptions/${subscriptionId}/providers/Microsoft.ContainerInstance/locations/${location}/usages/${name}`,
    unit: "Count",
    currentValue: usage[name],
    limit: limits[name],
    name: { value: name, localizedValue: localizedNames[name] },
  }));
}

export type RateKind = "creates" | "deletes";

const fiveMinutesMs = 5 * 60_000;
const hourMs = 60 * 60_000;

/**
 * Whether one more container group create (or delete) of `subscription` is within ACI's rates
 * (100 in any 5 minutes, 300 in any hour, by default). When it is not: the 429 to answer, with
 * Retry-After in whole seconds until enough counted ones have left the window.
 */
export function rateExceeded(state: EmulatorState, subscription: string, kind: RateKind): { error: ArmError; retryAfterSeconds: number } | undefined {
  const limits: RateLimits = kind === "creates" ? state.behaviour.createRateLimits : state.behaviour.deleteRateLimits;
  const scale = state.behaviour.rateWindowScale;
  const now = Date.now();
  const times = countedTimes(state, subscription, kind, now);
  let waitMs = 0;
  let refused: { limit: number; windowMs: number } | undefined;
  for (const [limit, windowMs] of [
    [limits.perFiveMinutes, fiveMinutesMs * scale],
    [limits.perHour, hourMs * scale],
  ] as const) {
    const inWindow = times.filter((at) => at > now - windowMs);
    if (inWindow.length < limit) continue;
    // The one that must leave the window before one more fits (all of them when the limit is 0).
    const leaving = inWindow[inWindow.length - limit] ?? now;
    const wait = leaving + windowMs - now;
    if (wait >= waitMs) {
      waitMs = wait;
      refused = { limit, windowMs };
    }
  }
  if (refused === undefined) return undefined;
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  const what = kind === "creates" ? "create" : "delete";
  return {
    retryAfterSeconds,
    // [guess] code and message: ARM's form for a resource provider's own request limit.
    error: {
      status: 429,
      code: "ResourceRequestsThrottled",
      message: `Number of container group ${what} requests for subscription '${subscription}' exceeded the limit of '${refused.limit}' for time interval '${interval(refused.windowMs)}'. Please try again after '${retryAfterSeconds}' seconds.`,
    },
  };
}

/** Counts one accepted create (or delete) of `subscription`. */
export function countRate(state: EmulatorState, subscription: string, kind: RateKind): void {
  const now = Date.now();
  countedTimes(state, subscription, kind, now).push(now);
}

/** The counted times still within the longest window (older ones are dropped). */
function countedTimes(state: EmulatorState, subscription: string, kind: RateKind, now: number): number[] {
  const key = `${subscription.toLowerCase()}/${kind}`;
  const horizon = now - Math.max(fiveMinutesMs, hourMs) * state.behaviour.rateWindowScale;
  const times = (state.rateCounts.get(key) ?? []).filter((at) => at > horizon);
  state.rateCounts.set(key, times);
  return times;
}

/** A window as .NET prints a TimeSpan: hh:mm:ss (with fractions of a second when scaled). */
function interval(ms: number): string {
  const seconds = ms / 1000;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const pad = (n: number) => String(Math.floor(n)).padStart(2, "0");
  const fraction = Number.isInteger(s) ? "" : `.${(s % 1).toFixed(3).slice(2)}`;
  return `${pad(h)}:${pad(m)}:${pad(s)}${fraction}`;
}
