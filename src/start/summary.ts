// The Markdown tab AciAgentStart adds to the run's summary page.
import { formatSeconds } from "../core/clock";
import type { StartConfig } from "./inputs";
import { fleetDemand, fleetName } from "../run/names";
import { describePlan } from "./plan";
import type { StartResult } from "./runStart";

export function startSummary(config: StartConfig, result: StartResult): string {
  const standby = config.standbyPool !== undefined;
  const rows = result.agents.map(
    (a) =>
      `| ${a.name} | ${a.location} |${standby ? ` ${a.warm === true ? "warm" : "fresh"} |` : ""} ${optionalSeconds(a.registeredAfterMs)} | ${optionalSeconds(a.provisionedAfterMs)} | ${optionalSeconds(a.onlineAfterMs)} |`,
  );
  const warm = result.agents.filter((a) => a.warm === true).length;
  const fleet = fleetName(config.namePrefix, config.run.runId);
  return [
    `## ACI agents of fleet ${fleet} (run ${config.run.runId}, attempt ${config.run.attempt})`,
    "",
    standby
      ? `${result.agents.length} agent(s) in pool **${config.pool}**, claimed from standby pool **${config.standbyPool ?? ""}**: ${warm} warm, ${result.agents.length - warm} fresh from its profile (the pool had no ready instance for them).`
      : `${result.agents.length} agent(s) in pool **${config.pool}**, image \`${config.image}\` (${config.imageMode}), ${config.cpu} CPU / ${config.memoryGB} GB each.`,
    `Jobs reach them with the demand \`${fleetDemand(fleet)}\`.`,
    "",
    ...(result.plan === undefined
      ? []
      : [`Plan from the Container Instances quota read in pre-flight: ${describePlan(result.plan)}.`, ""]),
    standby ? "| agent | region | standby | registered after | provisioned after | online after |" : "| agent | region | registered after | provisioned after | online after |",
    standby ? "|---|---|---|---|---|---|" : "|---|---|---|---|---|",
    ...rows,
    "",
    "| phase | time |",
    "|---|---|",
    `| pre-flight (pool, permissions, resource group, regions, quota, free names, agent package) | ${formatSeconds(result.phases.preflightMs)} |`,
    `| register, create and wait until online | ${formatSeconds(result.phases.onlineMs)} |`,
    `| total | ${formatSeconds(result.phases.totalMs)} |`,
    "",
    `Requests: ${result.requests.arm} to Azure Resource Manager, ${result.requests.devops} to Azure DevOps.`,
    "",
  ].join("\n");
}

function optionalSeconds(ms: number | undefined): string {
  return ms === undefined ? "–" : formatSeconds(ms);
}
