// `npm run demo`: the emulator, then AciAgentStart and AciAgentStop run from their bundles the way
// an Azure Pipelines agent runs them, with a job in between on the new agents, and a timeline.
// Exits non-zero unless the agents came online, ran the jobs, and the stop step left nothing.
// The steps' summary tabs (Markdown) are kept in dist/demo/ (scripts/render-images.mjs draws
// the listing's summary picture from them).
// `npm run demo -- --registration-auth entraToken` registers with an Entra token of a workload
// identity federation connection instead of a PAT (also: accessToken).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startEmulator, type RunningEmulator } from "../emulator/emulator";
import { runStep, stepEnvironment, type ConnectionScheme, type StepRun } from "../emulator/pipeline";
import { containerState } from "../emulator/runtime/containerRuntime";

const root = resolve(__dirname, "..");
const { values: options } = parseArgs({ options: { "registration-auth": { type: "string", default: "pat" } } });
const registrationAuth = options["registration-auth"];
const buildId = "1001";
const agentCount = 2;
const summaryDirectory = join(root, "dist", "demo");

interface TimelineEntry {
  at: number;
  source: string;
  text: string;
}

async function main(): Promise<void> {
  const started = Date.now();
  const timeline: TimelineEntry[] = [];
  const note = (source: string, text: string, at = Date.now()) => {
    process.stdout.write(`${clock(at - started)}  ${source.padEnd(14)} ${text}\n`);
  };

  const emulator = await startEmulator();
  const temp = mkdtempSync(join(tmpdir(), "aci-demo-"));
  try {
    // Make the emulated Azure take a moment, as the real one does (ACI: tens of seconds).
    emulator.state.delays.provisionMs = 2000;
    emulator.state.delays.pullMs = 1000;
    emulator.state.delays.registrationMs = 500;
    note("emulator", `Azure at ${emulator.info.armUrl}, Azure DevOps at ${emulator.info.organizationUrl}`);

    const start = await step(emulator, "AciAgentStartV1", {
      resourceGroup: emulator.info.resourceGroup,
      pool: emulator.info.pool,
      agentCount: String(agentCount),
      ...registrationInputs(emulator),
      timeoutMinutes: "5",
    }, temp, note);
    if (start.result !== "Succeeded") throw new Error(`AciAgentStart failed: ${start.message}`);
    note("pipeline", `outputs: agentNames=${start.outputs.agentNames ?? ""} demand="${start.outputs.demand ?? ""}"`);

    for (const agent of emulator.state.agents.values()) note("azure devops", `agent ${agent.name}: ${agent.sessionId === undefined ? "offline" : "online"}`);
    const demand = start.outputs.demand ?? "";
    const jobs = Array.from({ length: agentCount }, (_, index) => {
      const requestId = emulator.state.newId();
      emulator.state.jobRequests.set(requestId, {
        requestId,
        poolId: [...emulator.state.pools.values()][0]?.id ?? 0,
        demands: [demand],
        jobName: `build ${index + 1}`,
        script: 'echo "building on $AZP_AGENT_NAME"; uname -sm',
        queueTime: new Date().toISOString(),
      });
      return requestId;
    });
    note("pipeline", `queued ${jobs.length} job(s) demanding ${demand}`);
    await waitFor(() => jobs.every((id) => emulator.state.jobRequests.get(id)?.result !== undefined), 60_000);
    for (const id of jobs) {
      const job = emulator.state.jobRequests.get(id);
      const agent = job?.assignedAgentId === undefined ? undefined : emulator.state.agents.get(job.assignedAgentId);
      note("azure devops", `${job?.jobName ?? id} ran on ${agent?.name ?? "?"}: ${job?.result ?? "?"}`);
    }

    collectContainerPhases(emulator, timeline);

    const stop = await step(emulator, "AciAgentStopV1", {
      resourceGroup: emulator.info.resourceGroup,
      pool: emulator.info.pool,
      ...registrationInputs(emulator),
      scope: "run",
    }, temp, note);
    note("pipeline", `AciAgentStop: ${stop.result ?? "no result"}: ${stop.message}`);
    note("emulator", `left behind: ${emulator.state.containerGroups.size} container group(s), ${emulator.state.agents.size} agent registration(s)`);

    process.stdout.write("\nInside the containers (start.sh phases from their logs):\n");
    for (const entry of timeline.sort((a, b) => a.at - b.at)) {
      process.stdout.write(`  ${clock(entry.at - started)}  ${entry.source.padEnd(14)} ${entry.text}\n`);
    }
    process.stdout.write(`\nThe steps' summary tabs: ${summaryDirectory}\n`);
    if (stop.result !== "Succeeded" || emulator.state.containerGroups.size > 0 || emulator.state.agents.size > 0) {
      throw new Error("AciAgentStop did not remove everything AciAgentStart created");
    }
  } finally {
    await emulator.stop();
    rmSync(temp, { recursive: true, force: true });
  }
}

/** The registration inputs of both steps: a PAT, or none at all. */
function registrationInputs(emulator: RunningEmulator): Record<string, string> {
  if (!["pat", "accessToken", "entraToken"].includes(registrationAuth)) {
    throw new Error(`--registration-auth: pat, accessToken or entraToken, not '${registrationAuth}'`);
  }
  return registrationAuth === "pat" ? { registrationAuth, registrationToken: emulator.info.pat } : { registrationAuth };
}

/** entraToken shows the case with no stored secret at all: a workload identity federation connection. */
function connectionScheme(): ConnectionScheme {
  return registrationAuth === "entraToken" ? "workloadIdentity" : "secret";
}

async function step(
  emulator: RunningEmulator,
  task: string,
  inputs: Record<string, string>,
  temp: string,
  note: (source: string, text: string) => void,
): Promise<StepRun> {
  note("pipeline", `running ${task} (dist/main.js, as the agent runs it)`);
  const env = stepEnvironment(emulator.info, { inputs, buildId, tempDirectory: temp, scheme: connectionScheme() });
  const run = runStep(root, task, env, (line) => {
    const summary = /^##vso\[task\.uploadsummary\](.+)$/.exec(line)?.[1];
    if (summary !== undefined) {
      mkdirSync(summaryDirectory, { recursive: true });
      copyFileSync(summary, join(summaryDirectory, `${task}.md`));
    }
    // Logging commands are for the agent, not for a reader (the agent does not show them either).
    if (!line.startsWith("##vso[") && line.trim() !== "") note(task.replace(/V1$/, ""), line);
  });
  return run.done;
}

/** start.sh prints `... phase=<name> ...` lines; they show where a container's time went. */
function collectContainerPhases(emulator: RunningEmulator, timeline: TimelineEntry[]): void {
  for (const group of emulator.state.containerGroups.values()) {
    const log = containerState(group, group.name).log;
    for (const line of log.filter((l) => l.text.includes("phase="))) {
      timeline.push({ at: Date.parse(line.at), source: group.name, text: line.text.replace(/^\S+\s+/, "") });
    }
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the jobs");
    await new Promise((r) => setTimeout(r, 100));
  }
}

function clock(ms: number): string {
  return `+${(ms / 1000).toFixed(1).padStart(5)}s`;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
