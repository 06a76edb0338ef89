// The Markdown tab AciAgentStop adds to the run's summary page.
import { fleetName } from "../run/names";
import { EVERY_FLEET, type StopConfig } from "./inputs";
import type { RemovedAgent, StopResult } from "./runStop";
import { consumption, formatLifetime, formatQuantity, formatUsd, LINUX_PRICES, totalConsumption } from "./usage";

/** What the stop removes, for its result and summary: several stops of one run tell apart by it. */
export function scopeLabel(config: StopConfig): string {
  if (config.scope !== "run") return config.scope;
  if (config.namePrefix === EVERY_FLEET) return `run, every fleet of run ${config.run.runId}`;
  return `run, fleet ${fleetName(config.namePrefix, config.run.runId)}`;
}

/** One per stop step, so that two stops in one job keep their summaries apart. */
export function summaryFileName(config: StopConfig): string {
  if (config.scope !== "run") return `aci-agents-stop-${config.run.runId}-${config.scope}.md`;
  if (config.namePrefix === EVERY_FLEET) return `aci-agents-stop-${config.run.runId}-every-fleet.md`;
  return `aci-agents-stop-${fleetName(config.namePrefix, config.run.runId)}.md`;
}

export function stopSummary(config: StopConfig, result: StopResult): string {
  const rows = result.removed.map((a) => {
    const used = a.usage === undefined ? undefined : consumption(a.usage);
    const usage =
      a.usage === undefined || used === undefined
        ? ["–", "–", "–", "–", "–"]
        : [formatLifetime(a.usage.lifetime), `${formatQuantity(a.usage.cpu)} × ${formatQuantity(a.usage.memoryGB)}`, formatQuantity(used.vCpuSeconds), formatQuantity(used.gbSeconds), formatUsd(used.estimatedUsd)];
    const removed = [a.removedGroup ? "container group" : "", a.removedRegistration ? "registration" : ""].filter(Boolean).join(" + ");
    return `| ${[a.name, a.createdAt ?? "–", ...usage, removed, a.logFile === undefined ? "–" : "attached"].join(" | ")} |`;
  });
  const left = result.leftovers.map((l) => `- **${l.name}**: ${l.reason}`);
  return [
    `## ACI agents removed (scope: ${scopeLabel(config)})`,
    "",
    result.removed.length === 0 ? "Nothing was left to remove." : `${result.removed.length} agent(s) removed from resource group **${config.resourceGroup}** and pool **${config.pool}**.`,
    "",
    ...(rows.length === 0 ? [] : [USAGE_HEADER, "|---|---|---|---|---|---|---|---|---|", ...rows, ...totalRow(result.removed), "", ...usageNotes(result.removed), ""]),
    ...(left.length === 0 ? [] : ["### Not removed", "", ...left, ""]),
  ].join("\n");
}

const USAGE_HEADER = "| agent | created | lifetime | vCPU × GB | vCPU-s | GB-s | cost (estimate) | removed | log |";

/** The fleet's total, when any removed agent had a container group. */
function totalRow(removed: readonly RemovedAgent[]): string[] {
  const withGroups = removed.filter((a) => a.hadGroup);
  if (withGroups.length === 0) return [];
  const known = withGroups.map((a) => a.usage).filter((u) => u !== undefined);
  const total = totalConsumption(known);
  const unknown = withGroups.length - known.length;
  const label = `**total** (${known.length} agent(s)${unknown === 0 ? "" : `; ${unknown} not known`})`;
  return [`| ${[label, "", "", "", `**${formatQuantity(total.vCpuSeconds)}**`, `**${formatQuantity(total.gbSeconds)}**`, `**${formatUsd(total.estimatedUsd)}**`, "", ""].join(" | ")} |`];
}

function usageNotes(removed: readonly RemovedAgent[]): string[] {
  if (!removed.some((a) => a.hadGroup)) return [];
  return [
    "Lifetime: from the container's start until it finished or this step deleted its group, as the group's instance view shows it " +
      "(not counted: the image download before the start; \"≥\": the container restarted more often than the instance view shows). " +
      "vCPU-s and GB-s: the group's requested vCPUs and memory × its lifetime, as ACI bills them per second.",
    "",
    `Cost: an **estimate** at the ${LINUX_PRICES.region} Linux pay-as-you-go list prices, US$${LINUX_PRICES.vCpuSecondUsd.toFixed(7)} per vCPU-second and ` +
      `US$${LINUX_PRICES.gbSecondUsd.toFixed(7)} per GB-second, checked on ${LINUX_PRICES.checked} ` +
      `([Container Instances pricing](${LINUX_PRICES.pricingPage}), [Retail Prices API](${encodeURI(LINUX_PRICES.retailPricesApi)})). ` +
      "The bill differs with the region, Spot priority, discounts and price changes.",
  ];
}
