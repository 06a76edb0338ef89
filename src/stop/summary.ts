// The Markdown tab AciAgentStop adds to the run's summary page.
import { formatSeconds } from "../core/clock";
import { fleetName } from "../run/names";
import { EVERY_FLEET, type StopConfig } from "./inputs";
import type { StopResult } from "./runStop";

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
  const rows = result.removed.map(
    (a) =>
      `| ${a.name} | ${a.createdAt ?? "–"} | ${a.lifetimeMs === undefined ? "–" : formatSeconds(a.lifetimeMs)} | ${[a.removedGroup ? "container group" : "", a.removedRegistration ? "registration" : ""].filter(Boolean).join(" + ")} | ${a.logFile === undefined ? "–" : "attached"} |`,
  );
  const left = result.leftovers.map((l) => `- **${l.name}**: ${l.reason}`);
  return [
    `## ACI agents removed (scope: ${scopeLabel(config)})`,
    "",
    result.removed.length === 0 ? "Nothing was left to remove." : `${result.removed.length} agent(s) removed from resource group **${config.resourceGroup}** and pool **${config.pool}**.`,
    "",
    ...(rows.length === 0 ? [] : ["| agent | created | lifetime | removed | log |", "|---|---|---|---|---|", ...rows, ""]),
    ...(left.length === 0 ? [] : ["### Not removed", "", ...left, ""]),
  ].join("\n");
}
