// What a removed agent used: its container group's lifetime as the group's instance view shows it
// (not the creation tag), the vCPU-seconds and GB-seconds it requested for that time, and an
// estimate of their cost at ACI's per-second Linux pay-as-you-go prices.
import type { ContainerSnapshot, GroupSnapshot } from "../azure/aci";
import { formatSeconds } from "../core/clock";

/**
 * The prices of the estimate, in this one place (the README's "What it costs" quotes them).
 * Linux pay-as-you-go list prices of East US. On the day below, the search tool returned neither
 * the pricing page's figures nor the Retail Prices API's own answer, so these are the figures the
 * README gave before, kept as they were; public records of the Retail Prices API's East US answer
 * (Standard vCPU Duration US$0.0405 an hour, Standard Memory Duration US$0.00445 a GB-hour, i.e.
 * US$0.00001125 and US$0.00000124 a second) agree with them to their rounding.
 */
export interface PriceList {
  vCpuSecondUsd: number;
  gbSecondUsd: number;
  region: string;
  /** When the figures were last checked against the sources (YYYY-MM-DD). */
  checked: string;
  pricingPage: string;
  retailPricesApi: string;
}

export const LINUX_PRICES: PriceList = {
  vCpuSecondUsd: 0.0000113,
  gbSecondUsd: 0.0000012,
  region: "East US",
  checked: "2026-12-06",
  pricingPage: "https://azure.microsoft.com/pricing/details/container-instances/",
  retailPricesApi: "https://prices.azure.com/api/retail/prices?$filter=serviceName eq 'Container Instances' and armRegionName eq 'eastus'",
};

export type Prices = Pick<PriceList, "vCpuSecondUsd" | "gbSecondUsd">;

export interface Lifetime {
  /** The earliest start the instance view shows. */
  startedAt: string;
  ms: number;
  /** A container had not finished when the group was read: counted until the stop deleted it. */
  running: boolean;
  /**
   * A container restarted more than once: the instance view shows only its current and previous
   * runs, so the group lived at least this long.
   */
  atLeast: boolean;
}

/**
 * How long the group ran, from its containers' instance views: from the earliest start shown
 * (the previous run's, after a restart) until the latest finish, or until `stoppedAt` for a
 * container that has not finished. The time between a run and its restart counts: the group stays
 * allocated (and billed) meanwhile. Not counted: the image download before the first start, and
 * runs before the previous one. Undefined when no container has started (nothing ran).
 */
export function groupLifetime(group: GroupSnapshot, stoppedAt: number): Lifetime | undefined {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  let running = false;
  let atLeast = false;
  for (const container of group.containers) {
    const span = containerSpan(container, stoppedAt);
    if (span === undefined) continue;
    start = Math.min(start, span.start);
    end = Math.max(end, span.end);
    running ||= span.running;
    atLeast ||= container.restartCount > 1;
  }
  if (start === Number.POSITIVE_INFINITY) return undefined;
  return { startedAt: new Date(start).toISOString(), ms: Math.max(0, end - start), running, atLeast };
}

function containerSpan(container: ContainerSnapshot, stoppedAt: number): { start: number; end: number; running: boolean } | undefined {
  const current = { start: time(container.startTime), finish: time(container.finishTime) };
  const previous = { start: time(container.previousState?.startTime), finish: time(container.previousState?.finishTime) };
  const start = current.start ?? previous.start;
  if (start === undefined) return undefined;
  const earliest = previous.start === undefined ? start : Math.min(start, previous.start);
  // A current run without a finish is still running; a container waiting to restart (no current
  // start) ended its last run when the previous state says.
  if (current.start !== undefined && current.finish === undefined) return { start: earliest, end: Math.max(earliest, stoppedAt), running: true };
  const end = current.finish ?? previous.finish ?? earliest;
  return { start: earliest, end, running: false };
}

function time(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? undefined : at;
}

/** What the group requested: the sum of its containers' requests, undefined when none says. */
export function groupRequests(group: GroupSnapshot): { cpu: number; memoryGB: number } | undefined {
  const requests = group.containers.map((c) => c.requests).filter((r) => r !== undefined);
  if (requests.length === 0) return undefined;
  return { cpu: sum(requests.map((r) => r.cpu)), memoryGB: sum(requests.map((r) => r.memoryInGB)) };
}

export interface GroupUsage {
  /** Undefined when no container started: nothing ran, nothing is counted. */
  lifetime: Lifetime | undefined;
  cpu: number;
  memoryGB: number;
}

/** The group's usage when the instance view shows what it requested; undefined otherwise. */
export function groupUsage(group: GroupSnapshot, stoppedAt: number): GroupUsage | undefined {
  const requests = groupRequests(group);
  return requests === undefined ? undefined : { lifetime: groupLifetime(group, stoppedAt), ...requests };
}

export interface Consumption {
  vCpuSeconds: number;
  gbSeconds: number;
  /** At the per-second prices: an estimate. */
  estimatedUsd: number;
}

export function consumption(usage: GroupUsage, prices: Prices = LINUX_PRICES): Consumption {
  const seconds = (usage.lifetime?.ms ?? 0) / 1000;
  return priced(usage.cpu * seconds, usage.memoryGB * seconds, prices);
}

/** The fleet's total over the agents whose usage is known. */
export function totalConsumption(usages: readonly GroupUsage[], prices: Prices = LINUX_PRICES): Consumption {
  const each = usages.map((u) => consumption(u, prices));
  return priced(sum(each.map((c) => c.vCpuSeconds)), sum(each.map((c) => c.gbSeconds)), prices);
}

function priced(vCpuSeconds: number, gbSeconds: number, prices: Prices): Consumption {
  return { vCpuSeconds, gbSeconds, estimatedUsd: vCpuSeconds * prices.vCpuSecondUsd + gbSeconds * prices.gbSecondUsd };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** 2849.16 → "2,849.2". */
export function formatQuantity(value: number): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: 1 });
}

/** Dollars with enough digits for a run's cents: US$0.0195, US$17.36, <US$0.0001. */
export function formatUsd(value: number): string {
  if (value >= 1) return `US$${value.toFixed(2)}`;
  if (value > 0 && value < 0.00005) return "<US$0.0001";
  return `US$${value.toFixed(4)}`;
}

/** "712.3 s", "≥ 712.3 s" when earlier runs are not shown, "0 s" when nothing ran. */
export function formatLifetime(lifetime: Lifetime | undefined): string {
  if (lifetime === undefined) return "0 s (never started)";
  return `${lifetime.atLeast ? "≥ " : ""}${formatSeconds(lifetime.ms)}`;
}

/** The log line of one removed agent's usage. */
export function usageLine(name: string, usage: GroupUsage | undefined, prices: Prices = LINUX_PRICES): string {
  if (usage === undefined) return `Used by ${name}: not known (its container group's instance view could not be read)`;
  const used = consumption(usage, prices);
  return (
    `Used by ${name}: ${formatQuantity(usage.cpu)} vCPU and ${formatQuantity(usage.memoryGB)} GB for ${formatLifetime(usage.lifetime)}` +
    ` = ${formatQuantity(used.vCpuSeconds)} vCPU-s and ${formatQuantity(used.gbSeconds)} GB-s, estimated cost ${formatUsd(used.estimatedUsd)}`
  );
}

/** The log line of the fleet's total; `unknown` agents are left out of it and counted. */
export function totalLine(usages: readonly GroupUsage[], unknown: number, prices: PriceList = LINUX_PRICES): string {
  const total = totalConsumption(usages, prices);
  return (
    `Used in total by ${usages.length} agent(s)${unknown === 0 ? "" : ` (${unknown} more not known)`}: ` +
    `${formatQuantity(total.vCpuSeconds)} vCPU-s and ${formatQuantity(total.gbSeconds)} GB-s, estimated cost ${formatUsd(total.estimatedUsd)} ` +
    `(estimate at ${priceNote(prices)})`
  );
}

/** Where the estimate's prices come from, for the log and the summary. */
export function priceNote(prices: PriceList = LINUX_PRICES): string {
  return (
    `${prices.region} Linux pay-as-you-go list prices, US$${prices.vCpuSecondUsd.toFixed(7)} per vCPU-s and US$${prices.gbSecondUsd.toFixed(7)} per GB-s, ` +
    `checked ${prices.checked}: ${prices.pricingPage}`
  );
}
