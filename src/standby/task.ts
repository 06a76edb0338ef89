// AciAgentStandbyPool@1 over the platform adapter: read the inputs and the service connection,
// apply or delete the profile and the pool (or write the template in a dry run), set the result once.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SdkStandbyArm } from "../azure/standby";
import { systemClock } from "../core/clock";
import { aciFrom, armAccess, inputReader, pipelineVariables, registrationAccess, StepSecrets } from "../composition/pipelineServices";
import type { TaskPlatform } from "../platform/types";
import type { AgentPackages } from "../start/containerGroupSpec";
import { standbyTemplateFor } from "./armTemplate";
import { parseStandbyInputs, type StandbyConfig } from "./inputs";
import { runStandby } from "./runStandby";

const DRY_RUN_NOTE =
  "Written by a dry run of AciAgentStandbyPool: a container group profile and a standby pool that keeps ready agent containers. Give the agent package of your organization's feed as agentPackageUrl and agentPackageSha256, and secure values as parameters. The Standby Pool Resource Provider needs roles on the profile, subnet and registry (see the task's help).";

export async function runStandbyPoolTask(platform: TaskPlatform, bootstrapScript: string, signal: AbortSignal): Promise<void> {
  try {
    const secrets = new StepSecrets(platform);
    const config = parseStandbyInputs(inputReader(platform, secrets), pipelineVariables(platform));
    if (config.dryRun && config.action === "delete") {
      platform.info(`Dry run: would remove the standby pool ${config.standbyPool}, then the container group profile ${config.standbyPool}, in ${config.resourceGroup}.`);
      platform.setResult("succeeded", platform.loc("DryRunDelete", config.standbyPool));
      return;
    }
    if (config.dryRun) {
      const path = writeDryRunTemplate(platform, config, bootstrapScript);
      platform.setVariable("armTemplatePath", path, { isOutput: true });
      platform.setResult("succeeded", platform.loc("DryRunSucceeded", path));
      return;
    }
    const arm = armAccess(platform, config.serviceConnection, secrets);
    const result = await runStandby(config, {
      arm: new SdkStandbyArm(arm.connection, arm.credential),
      resourceGroupLocation: () => aciFrom(arm).resourceGroupLocation(config.resourceGroup, { signal }),
      packages: () => agentPackages(registrationAccess(platform, config.registration, config.organizationUrl, arm, secrets).pools, signal),
      bootstrapScript,
      log: platform,
      clock: systemClock,
      signal,
    });
    if (result.action === "delete") {
      platform.setResult("succeeded", platform.loc("DeleteSucceeded", config.standbyPool, config.resourceGroup));
      return;
    }
    platform.setVariable("containerGroupProfileId", result.profileId, { isOutput: true });
    platform.setVariable("standbyPoolId", result.poolId, { isOutput: true });
    platform.setVariable("profileRevision", String(result.revision ?? ""), { isOutput: true });
    const revision = String(result.revision ?? "");
    const message =
      result.profileChanged || result.poolChanged
        ? platform.loc("ApplySucceeded", config.standbyPool, config.readyCapacity, revision)
        : platform.loc("ApplyUnchanged", config.standbyPool, config.readyCapacity, revision);
    platform.setResult("succeeded", message);
  } catch (error) {
    platform.setResult("failed", error instanceof Error ? error.message : String(error));
  }
}

async function agentPackages(
  pools: { agentPackage(platform: string, signal?: AbortSignal): Promise<AgentPackages["glibc"] | undefined> },
  signal: AbortSignal,
): Promise<AgentPackages> {
  const [glibc, musl] = await Promise.all([pools.agentPackage("linux-x64", signal), pools.agentPackage("linux-musl-x64", signal)]);
  if (glibc === undefined) throw new Error("Azure DevOps names no linux-x64 agent package (_apis/distributedtask/packages/agent)");
  return { glibc, musl };
}

function writeDryRunTemplate(platform: TaskPlatform, config: StandbyConfig, bootstrapScript: string): string {
  const { template, parameterNames } = standbyTemplateFor(config, bootstrapScript, DRY_RUN_NOTE);
  const path = join(platform.tempDirectory, `aci-agents-standby-${config.standbyPool}.template.json`);
  writeFileSync(path, `${JSON.stringify(template, null, 2)}\n`);
  platform.info(`Dry run: wrote the ARM template of the container group profile and standby pool ${config.standbyPool} to ${path}.`);
  platform.info(`Deploy it with: az deployment group create -g ${config.resourceGroup} --template-file ${path} --parameters ${parameterNames.map((p) => `${p}=<value>`).join(" ")}`);
  return path;
}
