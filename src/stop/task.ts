// AciAgentStop@1 over the platform adapter: read the inputs and the service connection, remove
// what the scope selects, publish removedCount and the summary, set the result once.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemClock } from "../core/clock";
import { aciFromConnection, devopsClient, inputReader, pipelineVariables, registrationToken } from "../composition/pipelineServices";
import type { TaskPlatform } from "../platform/types";
import { parseStopInputs } from "./inputs";
import { leftoverMessage, runStop } from "./runStop";
import { scopeLabel, stopSummary, summaryFileName } from "./summary";

export async function runStopTask(platform: TaskPlatform): Promise<void> {
  try {
    const config = parseStopInputs(inputReader(platform), pipelineVariables(platform));
    const token = registrationToken(platform, config.registration);
    const logDirectory = join(platform.tempDirectory, `aci-agents-logs-${config.run.runId}`);
    mkdirSync(logDirectory, { recursive: true });
    const result = await runStop(config, {
      aci: aciFromConnection(platform, config.serviceConnection),
      pools: devopsClient(config.organizationUrl, config.registration, token),
      log: platform,
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
