/**
 * Helpers for the integration tests of both tasks: the bundled tasks (tasks/<Task>/dist/main.js)
 * run as child processes with the environment an Azure Pipelines agent gives them
 * (emulator/pipeline.ts), against the in-process emulator. Every step a test runs is recorded, so
 * that the test can check that no secret showed anywhere the run exposes.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startEmulator, type RunningEmulator } from "../../emulator/emulator";
import { runStep, stepEnvironment, type ConnectionScheme, type ReleaseStage, type RunningStep, type StepRun } from "../../emulator/pipeline";
import { containerSpecs, containerState } from "../../emulator/runtime/containerRuntime";
import type { RequestLogEntry } from "../../emulator/state";
import { runTagValue } from "../../src/run/names";
import { OWN_TAGS } from "../../src/run/tags";
import { armClient, containerGroup, control, devops } from "../helpers/emulator";

export type { RunningEmulator, StepRun };

export const repoRoot = resolve(__dirname, "..", "..");
export type TaskFolder = "AciAgentStartV1" | "AciAgentStopV1" | "AciAgentStandbyPoolV1";
const taskFolders: TaskFolder[] = ["AciAgentStartV1", "AciAgentStopV1", "AciAgentStandbyPoolV1"];

// ------------------------------------------------------------------------------------------
// Bundles, the emulator and the steps a test runs.
// ------------------------------------------------------------------------------------------

/** Newest modification time of the files under `path` (a file or a folder). */
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
  /** The run's id: Build.BuildId, or Release.ReleaseId in a classic release. */
  buildId: string;
  tempDirectory: string;
  lines: string[];
  /** Everything the step must not print or send in clear (besides setsecret and secureValue). */
  secrets: string[];
}

const recorded: RecordedStep[] = [];
const tempDirectories: string[] = [];

/**
 * One emulator for the enclosing `describe` (started in `before`, stopped in `after`); after every
 * test its containers are stopped, its state is reset and the steps' temp directories are
 * removed. Builds the bundles if needed.
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

let buildCounter = 7000;

/** A fresh build id per step, so agent and group names never collide between tests. */
export function nextBuildId(): string {
  buildCounter += 1;
  return String(buildCounter);
}

export interface StepOptions {
  /** Default: a fresh one (nextBuildId); in a release, its artifact's build. */
  buildId?: string;
  /** Runs the step in an agent job of this classic release stage. */
  release?: ReleaseStage;
  /** System.JobAttempt (default 1). */
  jobAttempt?: number;
  /** Agent.TempDirectory: another step's, for a step in the same job (default: a job of its own). */
  tempDirectory?: string;
  /** Task inputs; resourceGroup, pool, registrationAuth and registrationToken default to the emulator's. */
  inputs?: Record<string, string>;
  /** Inputs to leave out (e.g. registrationToken). */
  omit?: string[];
  scheme?: ConnectionScheme;
  certificatePem?: string;
  msiClientId?: string;
  environment?: string;
  tfsConnection?: { id: string; token: string };
  env?: Record<string, string>;
}

/** A temp directory for the steps of one job (removed after the test). */
export function newJobDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), "aci-it-"));
  tempDirectories.push(directory);
  return directory;
}

/**
 * Starts a task's bundle as the agent would, each step in its own temp directory (its own job)
 * unless it is given the directory of another step's job;
 * `done` resolves when the process ends.
 */
export function startTaskStep(emu: RunningEmulator, task: TaskFolder, options: StepOptions = {}): RunningStep & { step: RecordedStep } {
  const { info } = emu;
  const tempDirectory = options.tempDirectory ?? newJobDirectory();
  const buildId = options.buildId ?? nextBuildId();
  const inputs: Record<string, string> = {
    resourceGroup: info.resourceGroup,
    pool: info.pool,
    registrationAuth: "pat",
    registrationToken: info.pat,
    ...options.inputs,
  };
  for (const name of options.omit ?? []) Reflect.deleteProperty(inputs, name);
  const env = stepEnvironment(info, {
    inputs,
    scheme: options.scheme ?? "secret",
    ...(options.certificatePem === undefined ? {} : { certificatePem: options.certificatePem }),
    ...(options.msiClientId === undefined ? {} : { msiClientId: options.msiClientId }),
    ...(options.environment === undefined ? {} : { environment: options.environment }),
    ...(options.tfsConnection === undefined ? {} : { tfsConnection: options.tfsConnection }),
    buildId,
    ...(options.release === undefined ? {} : { release: options.release }),
    ...(options.jobAttempt === undefined ? {} : { jobAttempt: options.jobAttempt }),
    tempDirectory,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const secrets = secretsOf(emu);
  const given = inputs.registrationToken;
  if (given !== undefined && given !== "" && !secrets.includes(given)) secrets.push(given);
  if (options.certificatePem !== undefined) secrets.push(...privateKeyLines(options.certificatePem));
  const step: RecordedStep = { task, buildId: options.release?.releaseId ?? buildId, tempDirectory, lines: [], secrets };
  recorded.push(step);
  const running = runStep(repoRoot, task, env, (line) => step.lines.push(line));
  return { ...running, step };
}

export type Run = StepRun & { step: RecordedStep };

/** Runs a task's step to its end. */
export async function runTaskStep(emu: RunningEmulator, task: TaskFolder, options: StepOptions = {}): Promise<Run> {
  const running = startTaskStep(emu, task, options);
  const run = { ...(await running.done), step: running.step };
  // A warning Node prints ("(node:1234) MaxListenersExceededWarning: …") lands in the user's log.
  assert.deepEqual(run.lines.filter((l) => /^\(node:\d+\) \w*Warning\b/.test(l)), [], `Node printed a warning in the step's log\n${plainOutput(run)}`);
  return run;
}

/** A running AciAgentStart step, with what it recorded. */
export type StartStep = RecordedStep & { running: RunningStep };

/** Starts the bundled AciAgentStart as the agent would; `running.done` resolves when the process ends. */
export function startStep(emu: RunningEmulator, options: StepOptions = {}): StartStep {
  const { step, ...running } = startTaskStep(emu, "AciAgentStartV1", options);
  return { ...step, running };
}

/** Runs AciAgentStart to its end. */
export function runStart(emu: RunningEmulator, options: StepOptions = {}): Promise<Run> {
  return runTaskStep(emu, "AciAgentStartV1", options);
}

/** Runs AciAgentStart and insists that it succeeded. */
export async function startAgents(emu: RunningEmulator, buildId: string, agentCount: number, inputs: Record<string, string> = {}): Promise<Run> {
  const run = await runStart(emu, { buildId, inputs: { agentCount: String(agentCount), ...inputs } });
  assert.equal(run.result, "Succeeded", `AciAgentStart failed: ${run.message}\n${plainOutput(run)}`);
  return run;
}

/** Runs AciAgentStop with the given inputs (scope run by default). */
export function stopAgents(emu: RunningEmulator, buildId: string, inputs: Record<string, string> = {}, omit: string[] = []): Promise<Run> {
  return runTaskStep(emu, "AciAgentStopV1", { buildId, inputs, omit });
}

/**
 * Queues a job in the emulator's pool as Azure DevOps does for a job of a pipeline (demands as in
 * YAML) and waits until an agent has run it; answers the name of that agent.
 */
export async function runJob(emu: RunningEmulator, demands: string[], jobName: string, script = 'echo "building on $AZP_AGENT_NAME"'): Promise<string> {
  const queued = await control(emu.info, "POST", "/jobs", { pool: emu.info.pool, demands, jobName, script });
  assert.equal(queued.status, 201, queued.text);
  const { requestId } = queued.json as { requestId: number };
  // Named while it runs the job: an ephemeral agent may be gone from the pool once it is done.
  let agentName: string | undefined;
  await until(`job '${jobName}' to be assigned`, () => {
    const assigned = emu.state.jobRequests.get(requestId)?.assignedAgentId;
    agentName = assigned === undefined ? undefined : emu.state.agents.get(assigned)?.name;
    return agentName !== undefined;
  });
  await until(`job '${jobName}' to finish`, () => emu.state.jobRequests.get(requestId)?.result !== undefined);
  assert.equal(emu.state.jobRequests.get(requestId)?.result, "succeeded", `job '${jobName}' did not succeed`);
  assert.ok(agentName !== undefined);
  return agentName;
}

/** Lines of a step that are neither debug commands nor blank, for failure messages. */
export function plainOutput(run: { lines: readonly string[] }): string {
  return run.lines.filter((l) => !l.startsWith("##vso[task.debug]") && l.trim() !== "").join("\n");
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
// Secrets and writes.
// ------------------------------------------------------------------------------------------

/** The PAT, the service connection's client secret and the job's System.AccessToken. */
export function secretsOf(emu: RunningEmulator): string[] {
  return [emu.info.pat, emu.info.clientSecret, emu.info.systemAccessToken];
}

/**
 * The base64 lines of every private key in a PEM (each long enough to be unambiguous): task-lib
 * masks secrets line by line, so a leak of any one line is a leak of the key.
 */
export function privateKeyLines(pem: string): string[] {
  const keys = pem.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g) ?? [];
  assert.ok(keys.length > 0, "the PEM holds no private key");
  return keys.flatMap((key) =>
    key
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line.length >= 16 && !line.startsWith("-----")),
  );
}

/** ARM writes, and Azure DevOps writes on pools and agents: what must not happen before validation passes. */
export function writeRequests(log: readonly RequestLogEntry[]): RequestLogEntry[] {
  return log.filter((entry) => {
    const method = entry.method.toUpperCase();
    if (entry.service === "arm") return ["PUT", "POST", "DELETE", "PATCH"].includes(method);
    if (entry.service === "devops") return ["PUT", "POST", "DELETE", "PATCH"].includes(method) && /\/_apis\/distributedtask\/pools\//i.test(entry.url);
    return false;
  });
}

export function assertNoWrites(emu: RunningEmulator): void {
  const writes = writeRequests(emu.state.requestLog);
  assert.deepEqual(
    writes.map((w) => `${w.service} ${w.method} ${w.url} -> ${w.status}`),
    [],
    "the step sent write requests although it should have stopped before creating anything",
  );
}

/** A request body with the places a secret may legitimately travel blanked out. */
function bodyWithoutAllowedSecrets(entry: RequestLogEntry, clientSecret: string): string {
  if (entry.service === "arm" && entry.method.toUpperCase() === "PUT" && /\/containerGroups\//i.test(entry.url)) {
    let body: unknown;
    try {
      body = JSON.parse(entry.requestBody) as unknown;
    } catch {
      return entry.requestBody;
    }
    return JSON.stringify(body, (key, value: unknown) => (key === "secureValue" ? "<secure>" : value));
  }
  if (entry.service === "entra" && /\/oauth2\/v2\.0\/token$/i.test(entry.url.split("?")[0] ?? "")) {
    // The client secret credential sends its secret to the token endpoint: that is its purpose.
    const form = new URLSearchParams(entry.requestBody);
    if (form.get("client_secret") === clientSecret) form.set("client_secret", "<client secret>");
    return form.toString();
  }
  return entry.requestBody;
}

function describeSecret(secret: string): string {
  return `${secret.slice(0, 4)}… (${secret.length} characters)`;
}

/** No secret in an output line of `task` other than `##vso[task.setsecret]`. */
function assertLinesHoldNoSecret(task: TaskFolder, lines: readonly string[], secrets: readonly string[]): void {
  for (const line of lines) {
    if (line.startsWith("##vso[task.setsecret]")) continue;
    for (const secret of secrets) {
      assert.ok(!line.includes(secret), `${task} printed a secret (${describeSecret(secret)}) in: ${line.slice(0, 300)}`);
    }
  }
}

/** No secret in any response the emulated services sent. */
function assertResponsesHoldNoSecret(emu: RunningEmulator, secrets: readonly string[]): void {
  for (const entry of emu.state.requestLog) {
    for (const secret of secrets) {
      assert.ok(!entry.responseBody.includes(secret), `a response carried a secret (${describeSecret(secret)}): ${entry.service} ${entry.method} ${entry.url}`);
    }
  }
}

/**
 * Fails when one of the step's secrets shows in an output line other than `##vso[task.setsecret]`,
 * in a request body the emulator logged (other than an ARM secureValue, or the client secret sent
 * to Entra's token endpoint), or in any response body.
 */
function assertStepLeakedNoSecret(emu: RunningEmulator, step: RecordedStep, lines: readonly string[] = step.lines): void {
  const secrets = step.secrets.filter((s) => s.length >= 8);
  assert.ok(secrets.length >= 3, "no secrets to look for");
  assertLinesHoldNoSecret(step.task, lines, secrets);
  for (const entry of emu.state.requestLog) {
    const request = bodyWithoutAllowedSecrets(entry, emu.info.clientSecret);
    for (const secret of secrets) {
      assert.ok(
        !request.includes(secret) && !request.includes(encodeURIComponent(secret)),
        `a request body carried a secret (${describeSecret(secret)}) outside a secureValue: ${entry.service} ${entry.method} ${entry.url}: ${request.slice(0, 400)}`,
      );
    }
  }
  assertResponsesHoldNoSecret(emu, secrets);
}

/**
 * What every AciAgentStart run must satisfy: no secret leaked and, when it failed (unless the test
 * kept the groups on purpose), no container group and no agent registration of the run left behind.
 */
export function assertInvariants(emu: RunningEmulator, run: StepRun & { step: RecordedStep }, options: { keepOnFailure?: boolean } = {}): void {
  assertStepLeakedNoSecret(emu, run.step, run.lines);
  if (run.result !== "Succeeded" && options.keepOnFailure !== true) {
    // A group whose delete ARM accepted is gone once the delete ends (a minute, scaled down here).
    assert.deepEqual(groupsNotBeingDeleted(emu), [], `the failed step left container groups behind (message: ${run.message})`);
    const ours = agentNamesInPool(emu).filter((name) => name.includes(`-${run.step.buildId}-`));
    assert.deepEqual(ours, [], `the failed step left agent registrations behind (message: ${run.message})`);
  }
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

/**
 * No secret of the emulator (secretsOf) in any output line of any step of this test other than
 * `##vso[task.setsecret]`, in any file a step attached to the run (logs and summaries are not
 * masked), or in any response the emulated services sent.
 */
export function assertNoSecretLeaks(emu: RunningEmulator): void {
  const secrets = secretsOf(emu);
  assert.ok(recorded.length > 0, "no step ran in this test");
  for (const step of recorded) {
    assertLinesHoldNoSecret(step.task, step.lines, secrets);
    for (const file of [...uploadedFiles(step), ...summaryFiles(step.lines)]) {
      if (!existsSync(file)) continue;
      const text = readFileSync(file, "utf8");
      for (const secret of secrets) assert.ok(!text.includes(secret), `${step.task} attached ${file}, which holds a secret (${describeSecret(secret)})`);
    }
  }
  assertResponsesHoldNoSecret(emu, secrets);
}

// ------------------------------------------------------------------------------------------
// What is there: container groups and agent registrations.
// ------------------------------------------------------------------------------------------

export function groupNames(emu: RunningEmulator): string[] {
  return [...emu.state.containerGroups.values()].map((g) => g.name).sort();
}

/** Names of the container groups that no delete is removing (they will outlive the deletes under way). */
export function groupsNotBeingDeleted(emu: RunningEmulator): string[] {
  return [...emu.state.containerGroups.values()].filter((g) => g.provisioningState !== "Deleting").map((g) => g.name).sort();
}

export function agentNamesInPool(emu: RunningEmulator): string[] {
  return [...emu.state.agents.values()].map((a) => a.name).sort();
}

/** Names of groups and agents of a build (names contain `-{buildId}-`). */
export function namesOfBuild(names: readonly string[], buildId: string): string[] {
  return names.filter((name) => name.includes(`-${buildId}-`));
}

/** The names a run's agents and container groups get: `{prefix}-{buildId}-{attempt}-{index}` for index 1..count. */
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

// ------------------------------------------------------------------------------------------
// Putting things in place the way someone else would: ARM through the real SDK, agents through
// the Azure DevOps REST API.
// ------------------------------------------------------------------------------------------

/** The tags AciAgentStart puts on a group of `buildId` (fleet `{prefix}-{buildId}`) in the emulated organization and project. */
export function ownTags(emu: RunningEmulator, buildId: string, name: string, expires: string, prefix = "azp"): Record<string, string> {
  return {
    [OWN_TAGS.run]: runTagValue(emu.info.organizationUrl, emu.info.projectId, buildId),
    [OWN_TAGS.fleet]: `${prefix}-${buildId}`,
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
  await armClient(emu.info).containerGroups.beginCreateOrUpdateAndWait(emu.info.resourceGroup, name, {
    ...containerGroup(emu.info, { command: ["sh", "-c", `${script}; exec sleep 3600`] }),
    tags,
  });
}

/** Stops a container group through ARM (its state becomes Stopped). */
export async function stopGroup(emu: RunningEmulator, name: string): Promise<void> {
  await armClient(emu.info).containerGroups.stop(emu.info.resourceGroup, name);
}

/** Registers an agent in the emulator's pool through the REST API (offline: no session). */
export async function registerAgent(emu: RunningEmulator, name: string, options: { online?: boolean } = {}): Promise<void> {
  const pool = emu.state.poolByName(emu.info.pool);
  assert.ok(pool !== undefined, "the emulator has no pool");
  const response = await devops(emu.info, "POST", `_apis/distributedtask/pools/${pool.id}/agents?api-version=7.1`, {
    body: { name, version: "4.264.2", osDescription: "Linux", enabled: true, systemCapabilities: { "Agent.Name": name } },
  });
  assert.equal(response.status, 200, `registering ${name}: ${response.text}`);
  if (options.online === true) {
    // An agent is online while it holds a session; this one's listener is imaginary.
    const agent = emu.state.agentByName(pool.id, name);
    assert.ok(agent !== undefined);
    agent.sessionId = `session-of-${name}`;
  }
}
