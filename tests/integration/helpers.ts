/**
 * Helpers for the integration tests: the bundled AciAgentStart task (tasks/AciAgentStartV1/dist/main.js)
 * runs as a child process against the in-process emulator, exactly as an Azure Pipelines agent
 * would run it (emulator/pipeline.ts), and every run is checked for leaked secrets.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startEmulator, type RunningEmulator } from "../../emulator/emulator";
import { runStep, stepEnvironment, type ConnectionScheme, type RunningStep, type StepRun } from "../../emulator/pipeline";
import type { RequestLogEntry } from "../../emulator/state";

export type { RunningEmulator, StepRun };

export const repoRoot = resolve(__dirname, "..", "..");
export const startTaskFolder = "AciAgentStartV1";
const bundlePath = join(repoRoot, "tasks", startTaskFolder, "dist", "main.js");

/** Newest modification time of the files under `path` (a file or a folder). */
function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Builds the task bundles when dist/main.js is missing or older than what goes into it. */
export function ensureBundle(): void {
  const sources = Math.max(
    newestMtime(join(repoRoot, "src")),
    newestMtime(join(repoRoot, "tasks", startTaskFolder, "main.ts")),
    newestMtime(join(repoRoot, "agent", "start.sh")),
  );
  if (existsSync(bundlePath) && statSync(bundlePath).mtimeMs >= sources) return;
  execFileSync(process.execPath, [join(repoRoot, "scripts", "bundle.mjs")], { cwd: repoRoot, stdio: "pipe" });
  assert.ok(existsSync(bundlePath), `scripts/bundle.mjs did not produce ${bundlePath}`);
}

/**
 * One emulator for the enclosing `describe` (started in `before`, stopped in `after`); after every
 * test its containers are stopped and its state is reset. Also builds the bundle if needed.
 */
export function useEmulator(): () => RunningEmulator {
  let running: RunningEmulator | undefined;
  before(async function () {
    this.timeout(180_000);
    ensureBundle();
    running = await startEmulator();
  });
  afterEach(async function () {
    this.timeout(60_000);
    if (running === undefined) return;
    await running.context.runtime.stopAll();
    running.state.reset();
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

export interface StartStepOptions {
  /** Task inputs; resourceGroup, pool, registrationAuth and registrationToken default to the emulator's. */
  inputs?: Record<string, string>;
  /** Inputs to leave out (e.g. registrationToken). */
  omit?: string[];
  scheme?: ConnectionScheme;
  certificatePem?: string;
  buildId?: string;
  env?: Record<string, string>;
}

export interface StartStep {
  running: RunningStep;
  lines: string[];
  tempDirectory: string;
  buildId: string;
  /** Everything the step must not print or send in clear (besides setsecret and secureValue). */
  secrets: string[];
}

let buildCounter = 7000;

/** A fresh build id per step, so agent and group names never collide between tests. */
export function nextBuildId(): string {
  buildCounter += 1;
  return String(buildCounter);
}

const tempDirectories: string[] = [];

after(function () {
  for (const dir of tempDirectories.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts the bundled AciAgentStart as the agent would; `done` resolves when the process ends. */
export function startStep(emu: RunningEmulator, options: StartStepOptions = {}): StartStep {
  const { info } = emu;
  const tempDirectory = mkdtempSync(join(tmpdir(), "aci-it-"));
  tempDirectories.push(tempDirectory);
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
    buildId,
    tempDirectory,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const secrets = [info.pat, info.clientSecret, info.systemAccessToken];
  const given = inputs.registrationToken;
  if (given !== undefined && given !== "" && !secrets.includes(given)) secrets.push(given);
  if (options.certificatePem !== undefined) secrets.push(...privateKeyLines(options.certificatePem));
  const lines: string[] = [];
  const running = runStep(repoRoot, startTaskFolder, env, (line) => lines.push(line));
  return { running, lines, tempDirectory, buildId, secrets };
}

/** Runs the step to its end. */
export async function runStart(emu: RunningEmulator, options: StartStepOptions = {}): Promise<StepRun & { step: StartStep }> {
  const step = startStep(emu, options);
  const run = await step.running.done;
  return { ...run, step };
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

/**
 * Fails when a secret shows in an output line other than `##vso[task.setsecret]`, in a request
 * body the emulator logged (other than an ARM secureValue, or the client secret sent to Entra's
 * token endpoint), or in any response body.
 */
export function assertNoSecretLeaks(emu: RunningEmulator, step: StartStep, lines: readonly string[] = step.lines): void {
  const secrets = step.secrets.filter((s) => s.length >= 8);
  assert.ok(secrets.length >= 3, "no secrets to look for");
  for (const line of lines) {
    if (line.startsWith("##vso[task.setsecret]")) continue;
    for (const secret of secrets) {
      assert.ok(!line.includes(secret), `the step printed a secret (${describeSecret(secret)}) in: ${line.slice(0, 300)}`);
    }
  }
  for (const entry of emu.state.requestLog) {
    const request = bodyWithoutAllowedSecrets(entry, emu.info.clientSecret);
    for (const secret of secrets) {
      assert.ok(
        !request.includes(secret) && !request.includes(encodeURIComponent(secret)),
        `a request body carried a secret (${describeSecret(secret)}) outside a secureValue: ${entry.service} ${entry.method} ${entry.url}: ${request.slice(0, 400)}`,
      );
      assert.ok(
        !entry.responseBody.includes(secret),
        `a response body carried a secret (${describeSecret(secret)}): ${entry.service} ${entry.method} ${entry.url}`,
      );
    }
  }
}

function describeSecret(secret: string): string {
  return `${secret.slice(0, 4)}… (${secret.length} characters)`;
}

/** The names this run's agents and container groups get. */
export function namesOf(buildId: string, count: number, prefix = "azp", attempt = 1): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${buildId}-${attempt}-${i + 1}`);
}

export function groupNames(emu: RunningEmulator): string[] {
  return [...emu.state.containerGroups.values()].map((g) => g.name).sort();
}

export function agentNamesInPool(emu: RunningEmulator): string[] {
  return [...emu.state.agents.values()].map((a) => a.name).sort();
}

/**
 * What every run must satisfy: no secret leaked and, when it failed (unless the test kept the
 * groups on purpose), no container group and no agent registration of the run left behind.
 */
export function assertInvariants(emu: RunningEmulator, run: StepRun & { step: StartStep }, options: { keepOnFailure?: boolean } = {}): void {
  assertNoSecretLeaks(emu, run.step, run.lines);
  if (run.result !== "Succeeded" && options.keepOnFailure !== true) {
    assert.deepEqual(groupNames(emu), [], `the failed step left container groups behind (message: ${run.message})`);
    const ours = agentNamesInPool(emu).filter((name) => name.includes(`-${run.step.buildId}-`));
    assert.deepEqual(ours, [], `the failed step left agent registrations behind (message: ${run.message})`);
  }
}

/** Polls `probe` until it is true (a guard against hanging, not a timing assertion). */
export async function until(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Lines of the step that are neither logging commands nor blank, for failure messages. */
export function plainOutput(lines: readonly string[]): string {
  return lines.filter((l) => !l.startsWith("##vso[task.debug]") && l.trim() !== "").join("\n");
}
