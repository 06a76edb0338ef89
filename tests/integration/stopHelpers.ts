/**
 * Helpers for the AciAgentStop integration tests: the bundled tasks (tasks/<Task>/dist/main.js)
 * run as child processes with the environment an Azure Pipelines agent gives them
 * (emulator/pipeline.ts), against the in-process emulator. Every step a test runs is recorded so
 * that the test can check, at its end, that no secret showed anywhere the run exposes.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
import { ClientSecretCredential } from "@azure/identity";
import { startEmulator, type RunningEmulator } from "../../emulator/emulator";
import { runStep, stepEnvironment, type RunningStep, type StepRun } from "../../emulator/pipeline";
import { containerSpecs, containerState } from "../../emulator/runtime/containerRuntime";
import type { RequestLogEntry } from "../../emulator/state";
import { runTagValue } from "../../src/start/names";
import { OWN_TAGS } from "../../src/start/tags";

export type { RunningEmulator, StepRun };

export const repoRoot = resolve(__dirname, "..", "..");
export type TaskFolder = "AciAgentStartV1" | "AciAgentStopV1";
const taskFolders: TaskFolder[] = ["AciAgentStartV1", "AciAgentStopV1"];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Builds the task bundles when one is missing or older than what goes into it. */
export function ensureBundles(): void {
  const sources = Math.max(
    newestMtime(join(repoRoot, "src")),
    newestMtime(join(repoRoot, "agent", "start.sh")),
    ...taskFolders.map((task) => newestMtime(join(repoRoot, "tasks", task, "main.ts"))),
  );
  const bundles = taskFolders.map((task) => join(repoRoot, "tasks", task, "dist", "main.js"));
  if (bundles.every((bundle) => existsSync(bundle) && statSync(bundle).mtimeMs >= sources)) return;
  execFileSync(process.execPath, [join(repoRoot, "scripts", "bundle.mjs")], { cwd: repoRoot, stdio: "pipe" });
  for (const bundle of bundles) assert.ok(existsSync(bundle), `scripts/bundle.mjs did not produce ${bundle}`);
}

/** A step that ran (or runs) in the current test. */
export interface RecordedStep {
  task: TaskFolder;
  buildId: string;
  tempDirectory: string;
  lines: string[];
}

const recorded: RecordedStep[] = [];
const tempDirectories: string[] = [];

/**
 * One emulator for the enclosing `describe`; after every test its containers are stopped and its
 * state is reset. Builds the bundles if needed.
 */
export function useEmulator(): () => RunningEmulator {
  let running: RunningEmulator | undefined;
  before(async function () {
    this.timeout(180_000);
    ensureBundles();
    running = await startEmulator();
  });
  beforeEach(function () {
    recorded.splice(0);
  });
  afterEach(async function () {
    this.timeout(60_000);
    if (running !== undefined) {
      await running.context.runtime.stopAll();
      running.state.reset();
    }
    for (const dir of tempDirectories.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  after(async function () {
    this.timeout(60_000);
    await running?.stop();
    running = undefined;
  });
  return () => {
    if (running === undefined) throw new Error("the emulator is not running");
    return running;
  };
}

let buildCounter = 52_000;

/** A fresh build id, so that names never collide between tests. */
export function nextBuildId(): string {
  buildCounter += 1;
  return String(buildCounter);
}

export interface StepOptions {
  buildId: string;
  /** Task inputs; resourceGroup, pool, registrationAuth and registrationToken default to the emulator's. */
  inputs?: Record<string, string>;
  /** Inputs to leave out. */
  omit?: string[];
}

/** Starts a task's bundle as the agent would, each step in its own temp directory (its own job). */
export function startTaskStep(emu: RunningEmulator, task: TaskFolder, options: StepOptions): RunningStep & { step: RecordedStep } {
  const tempDirectory = mkdtempSync(join(tmpdir(), "aci-stop-it-"));
  tempDirectories.push(tempDirectory);
  const inputs: Record<string, string> = {
    resourceGroup: emu.info.resourceGroup,
    pool: emu.info.pool,
    registrationAuth: "pat",
    registrationToken: emu.info.pat,
    ...options.inputs,
  };
  for (const name of options.omit ?? []) Reflect.deleteProperty(inputs, name);
  const step: RecordedStep = { task, buildId: options.buildId, tempDirectory, lines: [] };
  recorded.push(step);
  const env = stepEnvironment(emu.info, { inputs, buildId: options.buildId, tempDirectory });
  const running = runStep(repoRoot, task, env, (line) => step.lines.push(line));
  return { ...running, step };
}

export type Run = StepRun & { step: RecordedStep };

export async function runTaskStep(emu: RunningEmulator, task: TaskFolder, options: StepOptions): Promise<Run> {
  const running = startTaskStep(emu, task, options);
  return { ...(await running.done), step: running.step };
}

/** Lines of a step that are neither debug commands nor blank, for failure messages. */
export function plainOutput(run: { lines: readonly string[] }): string {
  return run.lines.filter((l) => !l.startsWith("##vso[task.debug]") && l.trim() !== "").join("\n");
}

/** Runs AciAgentStart and insists that it succeeded. */
export async function startAgents(emu: RunningEmulator, buildId: string, agentCount: number, inputs: Record<string, string> = {}): Promise<Run> {
  const run = await runTaskStep(emu, "AciAgentStartV1", { buildId, inputs: { agentCount: String(agentCount), ...inputs } });
  assert.equal(run.result, "Succeeded", `AciAgentStart failed: ${run.message}\n${plainOutput(run)}`);
  return run;
}

/** Runs AciAgentStop with the given inputs (scope run by default). */
export function stopAgents(emu: RunningEmulator, buildId: string, inputs: Record<string, string> = {}, omit: string[] = []): Promise<Run> {
  return runTaskStep(emu, "AciAgentStopV1", { buildId, inputs, omit });
}

/** The files a step attached to the run (`##vso[task.uploadfile]`). */
export function uploadedFiles(run: { lines: readonly string[] }): string[] {
  return run.lines.flatMap((line) => {
    const match = /^##vso\[task\.uploadfile\](.+)$/.exec(line);
    return match?.[1] === undefined ? [] : [match[1].trim()];
  });
}

function summaryFiles(lines: readonly string[]): string[] {
  return lines.flatMap((line) => {
    const match = /^##vso\[task\.uploadsummary\](.+)$/.exec(line);
    return match?.[1] === undefined ? [] : [match[1].trim()];
  });
}

/** The PAT, the service connection's client secret and the job's System.AccessToken. */
export function secretsOf(emu: RunningEmulator): string[] {
  return [emu.info.pat, emu.info.clientSecret, emu.info.systemAccessToken];
}

function describeSecret(secret: string): string {
  return `${secret.slice(0, 4)}… (${secret.length} characters)`;
}

/**
 * No secret in any output line of any step of this test other than `##vso[task.setsecret]`, in
 * any file a step attached to the run (logs and summaries are not masked), or in any response
 * the emulated services sent.
 */
export function assertNoSecretLeaks(emu: RunningEmulator): void {
  const secrets = secretsOf(emu);
  assert.ok(recorded.length > 0, "no step ran in this test");
  for (const step of recorded) {
    for (const line of step.lines) {
      if (line.startsWith("##vso[task.setsecret]")) continue;
      for (const secret of secrets) {
        assert.ok(!line.includes(secret), `${step.task} printed a secret (${describeSecret(secret)}) in: ${line.slice(0, 300)}`);
      }
    }
    for (const file of [...uploadedFiles(step), ...summaryFiles(step.lines)]) {
      if (!existsSync(file)) continue;
      const text = readFileSync(file, "utf8");
      for (const secret of secrets) assert.ok(!text.includes(secret), `${step.task} attached ${file}, which holds a secret (${describeSecret(secret)})`);
    }
  }
  for (const entry of emu.state.requestLog) {
    for (const secret of secrets) {
      assert.ok(!entry.responseBody.includes(secret), `a response carried a secret (${describeSecret(secret)}): ${entry.service} ${entry.method} ${entry.url}`);
    }
  }
}

// ------------------------------------------------------------------------------------------
// What is there: container groups and agent registrations.
// ------------------------------------------------------------------------------------------

export function groupNames(emu: RunningEmulator): string[] {
  return [...emu.state.containerGroups.values()].map((g) => g.name).sort();
}

export function agentNamesInPool(emu: RunningEmulator): string[] {
  return [...emu.state.agents.values()].map((a) => a.name).sort();
}

/** Names of groups and agents of a build (names contain `-{buildId}-`). */
export function namesOfBuild(names: readonly string[], buildId: string): string[] {
  return names.filter((name) => name.includes(`-${buildId}-`));
}

/** `{prefix}-{buildId}-{attempt}-{index}` for index 1..count. */
export function namesOf(buildId: string, count: number, prefix = "azp", attempt = 1): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${buildId}-${attempt}-${i + 1}`);
}

/** The text of a container group's first container's log, as the emulator holds it. */
export function containerLogText(emu: RunningEmulator, groupName: string): string {
  const record = [...emu.state.containerGroups.values()].find((g) => g.name === groupName);
  assert.ok(record !== undefined, `no container group ${groupName}`);
  const spec = containerSpecs(record)[0];
  assert.ok(spec !== undefined, `${groupName} has no container`);
  return containerState(record, spec.name).log.map((line) => line.text).join("\n");
}

/** Requests of one service and method whose path matches. */
export function requests(emu: RunningEmulator, service: string, method: string, path: RegExp): RequestLogEntry[] {
  return emu.state.requestLog.filter((e) => e.service === service && e.method.toUpperCase() === method && path.test(e.url.split("?")[0] ?? ""));
}

/** Polls `probe` until it is true (a guard against hanging, not a timing assertion). */
export async function until(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// ------------------------------------------------------------------------------------------
// Putting things in place the way someone else would: ARM through the real SDK, agents through
// the Azure DevOps REST API.
// ------------------------------------------------------------------------------------------

function caOf(emu: RunningEmulator): string {
  return readFileSync(emu.info.caFile, "utf8");
}

export function armClient(emu: RunningEmulator): ContainerInstanceManagementClient {
  const { info } = emu;
  const ca = caOf(emu);
  const credential = new ClientSecretCredential(info.tenantId, info.clientId, info.clientSecret, {
    authorityHost: info.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca },
  });
  return new ContainerInstanceManagementClient(credential, info.subscriptionId, {
    endpoint: info.armUrl,
    credentialScopes: [`${info.armUrl}.default`],
    tlsOptions: { ca },
  });
}

/** The tags AciAgentStart puts on a group of `buildId` in the emulated organization and project. */
export function ownTags(emu: RunningEmulator, buildId: string, name: string, expires: string): Record<string, string> {
  return {
    [OWN_TAGS.run]: runTagValue(emu.info.organizationUrl, emu.info.projectId, buildId),
    [OWN_TAGS.pool]: emu.info.pool,
    [OWN_TAGS.agent]: name,
    [OWN_TAGS.created]: "2026-01-01T00:00:00Z",
    [OWN_TAGS.expires]: expires,
  };
}

/**
 * Creates a container group through ARM with the SDK; its one container runs `script` (by default
 * it prints a line) and then idles.
 */
export async function putGroup(emu: RunningEmulator, name: string, tags: Record<string, string>, script = `echo "hello from ${name}"`): Promise<void> {
  await armClient(emu).containerGroups.beginCreateOrUpdateAndWait(emu.info.resourceGroup, name, {
    location: emu.info.location,
    osType: "Linux",
    restartPolicy: "Never",
    tags,
    containers: [
      {
        name: "main",
        image: "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04",
        command: ["sh", "-c", `${script}; exec sleep 3600`],
        resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
      },
    ],
  });
}

/** Stops a container group through ARM (its state becomes Stopped). */
export async function stopGroup(emu: RunningEmulator, name: string): Promise<void> {
  await armClient(emu).containerGroups.stop(emu.info.resourceGroup, name);
}

function devopsPost(emu: RunningEmulator, path: string, body: unknown): Promise<{ status: number; text: string }> {
  const url = new URL(path, emu.info.organizationUrl);
  const data = JSON.stringify(body);
  return new Promise((done, fail) => {
    const req = httpsRequest(
      url,
      {
        method: "POST",
        ca: caOf(emu),
        headers: {
          Authorization: `Basic ${Buffer.from(`:${emu.info.pat}`).toString("base64")}`,
          "Content-Type": "application/json",
          Accept: "application/json;api-version=7.1",
          "Content-Length": Buffer.byteLength(data),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => { done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }); });
      },
    );
    req.on("error", fail);
    req.end(data);
  });
}

/** Registers an agent in the emulator's pool through the REST API (offline: no session). */
export async function registerAgent(emu: RunningEmulator, name: string, options: { online?: boolean } = {}): Promise<void> {
  const pool = emu.state.poolByName(emu.info.pool);
  assert.ok(pool !== undefined, "the emulator has no pool");
  const response = await devopsPost(emu, `_apis/distributedtask/pools/${pool.id}/agents?api-version=7.1`, {
    name,
    version: "4.264.2",
    osDescription: "Linux",
    enabled: true,
    systemCapabilities: { "Agent.Name": name },
  });
  assert.equal(response.status, 200, `registering ${name}: ${response.text}`);
  if (options.online === true) {
    // An agent is online while it holds a session; this one's listener is imaginary.
    const agent = emu.state.agentByName(pool.id, name);
    assert.ok(agent !== undefined);
    agent.sessionId = `session-of-${name}`;
  }
}
