// AciAgentStart@1 over the platform adapter: read the inputs and the service connection, run the
// core (or write the template in a dry run), publish outputs and the summary, set the result once.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemClock, formatSeconds } from "../core/clock";
import { aciFrom, armAccess, inputReader, pipelineVariables, registrationAccess, StepSecrets } from "../composition/pipelineServices";
import type { TaskPlatform } from "../platform/types";
import { agentNames, fleetDemand, fleetName } from "../run/names";
import { makeAgentKey } from "../run/agentIdentity";
import { agentTags } from "../run/tags";
import { armTemplateFor } from "./armTemplate";
import { containerGroupFor } from "./containerGroupSpec";
import { writeImageTemplate } from "./imageTemplate";
import { parseStartInputs, type StartConfig } from "./inputs";
import { runStart, type StartResult } from "./runStart";
import { startSummary } from "./summary";

/** Stands for the registration token in the template; the template turns it into a parameter. */
const DRY_RUN_TOKEN = "dry-run";
const DRY_RUN_NOTE =
  "Written by a dry run of AciAgentStart, which registers nothing: each agent here registers itself with the registrationToken parameter (the documented token path of agent/start.sh). A real run registers every agent itself and gives each container only its own agent's identity files, so that no credential that can register agents enters a container.";

export async function runStartTask(platform: TaskPlatform, bootstrapScript: string, signal: AbortSignal): Promise<void> {
  try {
    const secrets = new StepSecrets(platform);
    const parsed = parseStartInputs(inputReader(platform, secrets), pipelineVariables(platform));
    if (parsed.dryRun) {
      const config = parsed;
      const path = writeDryRunTemplate(platform, config, bootstrapScript);
      setOutputs(platform, config);
      platform.setVariable("armTemplatePath", path, { isOutput: true });
      platform.setResult("succeeded", platform.loc("DryRunSucceeded", path));
      return;
    }
    const arm = armAccess(platform, parsed.serviceConnection, secrets);
    const registration = registrationAccess(platform, parsed.registration, parsed.organizationUrl, arm, secrets);
    const config = { ...parsed, organizationUrl: registration.organizationUrl };
    const aci = aciFrom(arm);
    const result = await runStart(config, {
      aci,
      standby: aci,
      pools: registration.pools,
      log: platform,
      clock: systemClock,
      signal,
      bootstrapScript,
      agentCredential: () => registration.agentCredential(),
      makeKey: makeAgentKey,
      keepSecret: (value) => { secrets.add(value); },
    });
    setOutputs(platform, config);
    publishSummary(platform, config, result);
    platform.setResult("succeeded", platform.loc("StartSucceeded", result.agents.length, config.pool, formatSeconds(result.phases.totalMs), demandOf(config)));
  } catch (error) {
    platform.setResult("failed", error instanceof Error ? error.message : String(error));
  }
}

function setOutputs(platform: TaskPlatform, config: StartConfig): void {
  const names = agentNames(config.namePrefix, config.run.runId, config.run.attempt, config.agentCount).join(",");
  platform.setVariable("agentNames", names, { isOutput: true });
  platform.setVariable("containerGroupNames", names, { isOutput: true });
  platform.setVariable("runId", config.run.runId, { isOutput: true });
  platform.setVariable("demand", demandOf(config), { isOutput: true });
}

/** What a job puts in `demands` to run on this step's agents (and no other fleet's). */
function demandOf(config: StartConfig): string {
  return fleetDemand(fleetName(config.namePrefix, config.run.runId));
}

/**
 * A dry run registers nothing, so its template takes the documented token path, which a person can
 * deploy: each agent registers itself with the token given as the registrationToken parameter.
 */
function writeDryRunTemplate(platform: TaskPlatform, config: StartConfig, bootstrapScript: string): string {
  // Without a location the template deploys to the resource group's, so a dry run needs no Azure access.
  const now = new Date();
  const groups = agentNames(config.namePrefix, config.run.runId, config.run.attempt, config.agentCount).map((name) => ({
    ...containerGroupFor(config, { name, tags: agentTags(config, name, now) }, "", bootstrapScript, { kind: "token", token: DRY_RUN_TOKEN }),
    location: config.location,
  }));
  const { template, parameterNames } = armTemplateFor(groups, DRY_RUN_NOTE);
  const path = join(platform.tempDirectory, `aci-agents-${fleetName(config.namePrefix, config.run.runId)}-${config.run.attempt}.template.json`);
  writeFileSync(path, `${JSON.stringify(template, null, 2)}\n`);
  writeImageTemplate(platform, path.replace(/\.template\.json$/, ".image"), bootstrapScript);
  platform.info(`Dry run: wrote the ARM template for ${groups.length} container group(s) to ${path}.`);
  platform.info(`Deploy it with: az deployment group create -g ${config.resourceGroup} --template-file ${path} --parameters ${parameterNames.map((p) => `${p}=<secret>`).join(" ")}`);
  return path;
}

function publishSummary(platform: TaskPlatform, config: StartConfig, result: StartResult): void {
  const path = join(platform.tempDirectory, `aci-agents-start-${fleetName(config.namePrefix, config.run.runId)}-${config.run.attempt}.md`);
  writeFileSync(path, startSummary(config, result));
  platform.uploadSummary(path);
}
