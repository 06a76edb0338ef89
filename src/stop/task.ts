// AciAgentStop@1 over the platform adapter: read the inputs and the service connection, remove
// what the scope selects, publish removedCount and the summary, set the result once.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemClock } from "../core/clock";
import { aciFrom, armAccess, inputReader, pipelineVariables, registrationAccess, StepSecrets } from "../composition/pipelineServices";
import type { TaskPlatform } from "../platform/types";
import { parseStopInputs } from "./inputs";
import { leftoverMessage, runStop } from "./runStop";
import { scopeLabel, stopSummary, summaryFileName } from "./summary";

export async function runStopTask(platform: TaskPlatform): Promise<void> {
  try {
    const secrets = new StepSecrets(platform);
    const parsed = parseStopInputs(inputReader(platform, secrets), pipelineVariables(platform));
    const arm = armAccess(platform, parsed.serviceConnection, secrets);
    const registration = registrationAccess(platform, parsed.registration, parsed.organizationUrl, arm, secrets);
    const config = { ...parsed, organizationUrl: registration.organizationUrl };
    const logDirectory = join(platform.tempDirectory, `aci-agents-logs-${config.run.runId}`);
    mkdirSync(logDirectory, { recursive: true });
    const result = await runStop(config, {
      aci: aciFrom(arm),
      pools: registration.pools,
      log: platform,
      maskSecrets: (text) => secrets.mask(text),
      clock: systemClock,
      logDirectory,
    });
    platform.setVariable("removedCount", String(result.removed.length), { isOutput: true });
    const summary = join(platform.tempDirectory, summaryFileName(config));
    writeFileSync(summary, stopSummary(config, result));
    platform.uploadSummary(summary);
    if (result.leftovers.length > 0) {
      platform.setResult("failed", leftoverMessage(config, result.leftovers));
      return;
    }
    platform.setResult("succeeded", platform.loc("StopSucceeded", result.removed.length, scopeLabel(config)));
  } catch (error) {
    platform.setResult("failed", error instanceof Error ? error.message : String(error));
  }
}
