// agent/start.sh as the emulator runs it: the container's command (bootstrap mode) or an
// image's entrypoint (prebuilt mode), spawned as a local process with the container's
// environment, talking HTTPS to the emulated Azure DevOps and running the emulated agent.
import { strict as assert } from "node:assert";
import { createPrivateKey, randomUUID } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
// The task's own container command for bootstrap mode: the test runs what the product sends.
import { bootstrapCommand } from "../../src/start/containerGroupSpec";
import {
  armClient,
  containerGroup,
  control,
  devops,
  eventually,
  poolId,
  requestLog,
  setBehaviour,
  useEmulator,
  type AgentJson,
  type EmulatorInfo,
} from "../helpers/emulator";
import { agentFiles, rsaParametersOf, type RegisteredAgent } from "../../src/run/agentIdentity";
import { agentPackage, identityConfigMap, registerAgent, writeIdentity } from "./identity";
import { assertHuntFoundNothing, huntReport, secretHuntJob } from "./secretHunt";

const startScriptPath = resolve(__dirname, "..", "..", "agent", "start.sh");
const startScript = readFileSync(startScriptPath, "utf8");
const prebuiltImage = "aciagents.example.azurecr.io/azp-agent:test";

interface EnvironmentVariable {
  name: string;
  value?: string;
  secureValue?: string;
}

interface AgentRun {
  name: string;
  runId: string;
  /** PAT used to register; the well-known one unless given. */
  pat?: string;
  /** Pass the PAT in AZP_TOKEN (default) or in a file named by AZP_TOKEN_FILE. */
  tokenFile?: string;
  once?: boolean;
  lifetimeMinutes?: string;
  startupScript?: string;
  /** Prebuilt mode: no command, the registered image's entrypoint runs start.sh. */
  prebuilt?: boolean;
  /** Bootstrap mode from another (registered) image than debian:bookworm-slim. */
  image?: string;
  restartPolicy?: "Always" | "OnFailure" | "Never";
  extraEnvironment?: EnvironmentVariable[];
  /** The identity path: the agent's files and the package, instead of a token. */
  identity?: IdentityRun;
  /** Standby mode: made by a standby pool, claimed later through its config map. */
  standby?: StandbyRun;
}

interface StandbyRun {
  /** AZP_CONFIGMAP_DIR: where the test writes the config map files, as ACI mounts them. */
  configMapDir: string;
  packageUrl: string;
  packageSha256: string;
}

interface IdentityRun {
  /** AZP_IDENTITY_DIR: the three files as AciAgentStart mounts them. */
  dir: string;
  packageUrl: string;
  packageSha256: string;
  /** AZP_EXPIRES_AT; none when undefined. */
  expiresAt?: string;
}

function environment(info: EmulatorInfo, run: AgentRun): EnvironmentVariable[] {
  const all =
    run.standby !== undefined ? standbyEnvironment(run, run.standby) : run.identity !== undefined ? identityEnvironment(info, run, run.identity) : tokenEnvironment(info, run);
  // A variable of extraEnvironment replaces the one of the contract (ARM refuses a name twice).
  const extra = new Set((run.extraEnvironment ?? []).map((variable) => variable.name));
  return [...all.filter((variable) => !extra.has(variable.name)), ...(run.extraEnvironment ?? [])];
}

function tokenEnvironment(info: EmulatorInfo, run: AgentRun): EnvironmentVariable[] {
  const pat = run.pat ?? info.pat;
  const variables: EnvironmentVariable[] = [
    { name: "AZP_URL", value: info.organizationUrl },
    { name: "AZP_POOL", value: info.pool },
    { name: "AZP_AGENT_NAME", value: run.name },
    { name: "AZP_AUTH", value: "PAT" },
    { name: "AZP_WORK", value: "_work" },
    { name: "AZP_ONCE", value: String(run.once ?? true) },
    { name: "AZP_MAX_LIFETIME_MINUTES", value: run.lifetimeMinutes ?? "0" },
    { name: "ACI_RUN_ID", value: run.runId },
  ];
  if (run.tokenFile === undefined) variables.push({ name: "AZP_TOKEN", secureValue: pat });
  else variables.push({ name: "AZP_TOKEN_FILE", value: run.tokenFile });
  if (run.startupScript !== undefined) variables.push({ name: "AZP_STARTUP_SCRIPT", secureValue: run.startupScript });
  return variables;
}

/** The container contract of the identity path, as AciAgentStart sets it. */
function identityEnvironment(info: EmulatorInfo, run: AgentRun, identity: IdentityRun): EnvironmentVariable[] {
  const variables: EnvironmentVariable[] = [
    { name: "AZP_IDENTITY_DIR", value: identity.dir },
    { name: "AZP_AGENT_PACKAGE_URL", value: identity.packageUrl },
    { name: "AZP_AGENT_PACKAGE_SHA256", value: identity.packageSha256 },
    { name: "AZP_URL", value: info.organizationUrl },
    { name: "AZP_POOL", value: info.pool },
    { name: "AZP_AGENT_NAME", value: run.name },
    { name: "AZP_WORK", value: "_work" },
    { name: "AZP_ONCE", value: String(run.once ?? true) },
    { name: "ACI_RUN_ID", value: run.runId },
    { name: "ACI_FLEET", value: `azp-${run.runId}` },
  ];
  if (identity.expiresAt !== undefined) variables.push({ name: "AZP_EXPIRES_AT", value: identity.expiresAt });
  if (run.startupScript !== undefined) variables.push({ name: "AZP_STARTUP_SCRIPT", secureValue: run.startupScript });
  return variables;
}

/** A standby container's environment, as a container group profile gives it: nothing of any run. */
function standbyEnvironment(run: AgentRun, standby: StandbyRun): EnvironmentVariable[] {
  const variables: EnvironmentVariable[] = [
    { name: "AZP_STANDBY", value: "true" },
    { name: "AZP_CONTAINER_NAME", value: "main" },
    { name: "AZP_CONFIGMAP_DIR", value: standby.configMapDir },
    { name: "AZP_AGENT_PACKAGE_URL", value: standby.packageUrl },
    { name: "AZP_AGENT_PACKAGE_SHA256", value: standby.packageSha256 },
    { name: "AZP_WORK", value: "_work" },
  ];
  if (run.startupScript !== undefined) variables.push({ name: "AZP_STARTUP_SCRIPT", secureValue: run.startupScript });
  return variables;
}

/** An ISO 8601 UTC time `seconds` from now, as the task writes it (JavaScript's toISOString). */
function isoIn(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString();
}

class Harness {
  readonly client: ContainerInstanceManagementClient;

  constructor(readonly info: EmulatorInfo) {
    this.client = armClient(info);
  }

  async start(run: AgentRun): Promise<void> {
    const group = containerGroup(this.info, {
      ...(run.prebuilt === true ? { image: prebuiltImage } : { image: run.image ?? "debian:bookworm-slim", command: bootstrapCommand(startScript) }),
      environmentVariables: environment(this.info, run),
      ...(run.restartPolicy === undefined ? {} : { restartPolicy: run.restartPolicy }),
    });
    await this.client.containerGroups.beginCreateOrUpdateAndWait(this.info.resourceGroup, run.name, group, { updateIntervalInMs: 50 });
  }

  /** The container's exit code once it has terminated. */
  async exitCode(name: string, timeoutMs = 45_000): Promise<number> {
    return eventually(
      `container ${name} to terminate`,
      async () => {
        const group = await this.client.containerGroups.get(this.info.resourceGroup, name);
        const state = group.containers[0]?.instanceView?.currentState;
        return state?.state === "Terminated" ? (state.exitCode ?? -1) : undefined;
      },
      timeoutMs,
    );
  }

  /** The container's current state (its finish time once terminated). */
  async currentState(name: string): Promise<{ state?: string; exitCode?: number; finishTime?: Date }> {
    const group = await this.client.containerGroups.get(this.info.resourceGroup, name);
    return group.containers[0]?.instanceView?.currentState ?? {};
  }

  async restartCount(name: string): Promise<number> {
    const group = await this.client.containerGroups.get(this.info.resourceGroup, name);
    return group.containers[0]?.instanceView?.restartCount ?? 0;
  }

  /** Waits until the container log matches `pattern` (e.g. a job has started). */
  async logMatching(name: string, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return eventually(`the log of ${name} to match ${String(pattern)}`, async () => {
      const log = await this.logs(name);
      return pattern.test(log) ? log : undefined;
    }, timeoutMs);
  }

  async sessionsCreated(name: string): Promise<Record<string, string>[]> {
    const pool = await poolId(this.info);
    const agentId = (await this.agentJson(name))?.id;
    return (await requestLog(this.info))
      .filter((entry) => entry.method === "POST" && entry.url.split("?")[0]?.endsWith(`/pools/${pool}/sessions`) === true && entry.status === 200)
      .map((entry) => JSON.parse(entry.requestBody) as { agent: { id: number }; systemCapabilities?: Record<string, string> })
      .filter((body) => body.agent.id === agentId)
      .map((body) => body.systemCapabilities ?? {});
  }

  async agentJson(name: string): Promise<{ id: number; status: string } | undefined> {
    const pool = await poolId(this.info);
    const res = await devops(this.info, "GET", `_apis/distributedtask/pools/${pool}/agents?agentName=${encodeURIComponent(name)}`);
    assert.equal(res.status, 200, res.text);
    return (res.json as { value: { id: number; status: string }[] }).value[0];
  }

  async waitOnline(name: string): Promise<void> {
    await eventually(`${name} to come online`, async () => ((await this.agentStatus(name)) === "online" ? true : undefined), 30_000);
  }

  async logs(name: string): Promise<string> {
    return (await this.client.containers.listLogs(this.info.resourceGroup, name, "main")).content ?? "";
  }

  async agentStatus(name: string): Promise<string | undefined> {
    const pool = await poolId(this.info);
    const res = await devops(this.info, "GET", `_apis/distributedtask/pools/${pool}/agents?agentName=${encodeURIComponent(name)}`);
    assert.equal(res.status, 200, res.text);
    return (res.json as { value: { status: string }[] }).value[0]?.status;
  }

  async queueJob(runId: string, jobName: string, script: string): Promise<number> {
    const res = await control(this.info, "POST", "/jobs", { pool: this.info.pool, demands: [`ACI_RUN_ID -equals ${runId}`], jobName, script });
    assert.equal(res.status, 201, res.text);
    return (res.json as { requestId: number }).requestId;
  }

  async jobResult(requestId: number, timeoutMs = 30_000): Promise<string> {
    return eventually(
      `job ${requestId} to finish`,
      async () => {
        const res = await control(this.info, "GET", `/jobs/${requestId}`);
        return (res.json as { result?: string } | undefined)?.result;
      },
      timeoutMs,
    );
  }
}

/** The value of `key=` on the start.sh log line of `phase`. */
function phaseLine(log: string, phase: string, contains = ""): string | undefined {
  return log.split("\n").find((line) => line.includes(`[aci-agent] phase=${phase} `) && line.includes(contains));
}

/**
 * A bash script that collects everything a job (or the startup script) can read about its
 * process tree: its environment, the environ and cmdline of each ancestor and of every process
 * it can read on the machine, the token file, and the files of the container's folders.
 */
function spyScript(out: string, tokenFile: string): string {
  return `
out='${out}'
mkdir -p "$out"
env > "$out/env"
pid=$$
n=0
while [ -n "$pid" ] && [ "$pid" -gt 1 ] && [ "$n" -lt 40 ]; do
  if cat "/proc/$pid/environ" > "$out/ancestor-environ.$n" 2>/dev/null; then state=readable; else state=unreadable; fi
  printf '%s %s %s\\n' "$pid" "$state" "$(tr '\\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | head -c 200)" >> "$out/ancestors"
  pid=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)
  n=$((n + 1))
done
for p in /proc/[0-9]*; do
  cat "$p/environ" "$p/cmdline" 2>/dev/null
done > "$out/all-processes"
if cat '${tokenFile}' > "$out/token-file" 2>/dev/null; then echo present; else echo absent; fi > "$out/token-file-state"
for d in "\${AZP_HOME:-/azp}" "\${HOME:-/root}" "\${TMPDIR:-/tmp}"; do
  find "$d" -type f -size -2048k 2>/dev/null
done | while IFS= read -r f; do cat "$f" 2>/dev/null; done > "$out/files"
echo "spy done: $(wc -l < "$out/ancestors") ancestors"
`;
}

/** Every file under `dir`, recursively, as one string. */
function readTree(dir: string): string {
  if (!existsSync(dir)) return "";
  let text = "";
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat?.isDirectory() === true) text += readTree(path);
    else if (stat?.isFile() === true) text += readFileSync(path, "latin1");
  }
  return text;
}

describe("agent/start.sh in an emulated container", function () {
  this.timeout(120_000);
  const emulator = useEmulator();
  let harness: Harness;
  let scratch: string;

  beforeEach(async function () {
    harness = new Harness(emulator().info);
    scratch = mkdtempSync(join(tmpdir(), "aci-start-sh-"));
    await setBehaviour(emulator().info, { images: { [prebuiltImage]: { entrypoint: ["/bin/sh", startScriptPath], agentPreinstalled: true } } });
  });

  afterEach(function () {
    rmSync(scratch, { recursive: true, force: true });
  });

  it("fresh image: skips the dependency step, downloads and verifies the agent, comes online; a stop ends it and leaves the registration to AciAgentStop", async function () {
    const run: AgentRun = { name: "azp-fresh-1", runId: "101", once: false };
    await harness.start(run);
    await eventually("the agent to come online", async () => ((await harness.agentStatus(run.name)) === "online" ? true : undefined), 30_000);

    // The listener prints its line after its session is open (online): the log may lag a moment.
    let log = await harness.logMatching(run.name, /Listening for Jobs/);
    assert.ok(phaseLine(log, "dependencies", "result=skipped reason=all-present"), log);
    assert.ok(phaseLine(log, "download", "platform=linux-x64"), log);
    assert.ok(phaseLine(log, "extract", "sha256=verified"), log);
    assert.match(log, /Listening for Jobs/);
    assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[aci-agent\] phase=start elapsed=\d+s /m);

    await harness.client.containerGroups.stop(emulator().info.resourceGroup, run.name);
    assert.equal(await harness.exitCode(run.name), 143);
    log = await harness.logs(run.name);
    assert.doesNotMatch(log, /phase=deregister/);
    assert.ok(phaseLine(log, "exit", "code=143"), log);
    assert.equal(await harness.agentStatus(run.name), "offline", "the container removed its own registration (AciAgentStop does that, from outside)");
  });

  it("--once: runs one job and exits 0, without deregistering itself", async function () {
    const run: AgentRun = { name: "azp-once-1", runId: "102", once: true };
    await harness.start(run);
    const requestId = await harness.queueJob(run.runId, "build", "echo building in $(pwd)");
    assert.equal(await harness.jobResult(requestId), "succeeded");
    assert.equal(await harness.exitCode(run.name), 0);

    const log = await harness.logs(run.name);
    assert.match(log, /Running job: build/);
    assert.match(log, /building in .*\/_work\/1\/s/);
    assert.match(log, /Job build completed with result: Succeeded/);
    assert.ok(phaseLine(log, "run", "once=true"), log);
    assert.doesNotMatch(log, /phase=deregister/);
    assert.ok(phaseLine(log, "exit", "code=0"), log);
    assert.equal(await harness.agentStatus(run.name), "offline", "the container removed its own registration (AciAgentStop does that, from outside)");
  });

  it("prebuilt image: the agent is already there, so nothing is downloaded", async function () {
    const run: AgentRun = { name: "azp-prebuilt-1", runId: "103", once: true, prebuilt: true };
    await harness.start(run);
    const requestId = await harness.queueJob(run.runId, "prebuilt-job", "echo prebuilt ok");
    assert.equal(await harness.jobResult(requestId), "succeeded");
    assert.equal(await harness.exitCode(run.name), 0);

    const log = await harness.logs(run.name);
    assert.ok(phaseLine(log, "download", "result=skipped reason=agent-already-in-image"), log);
    assert.equal(phaseLine(log, "extract"), undefined, log);
    const downloads = (await requestLog(emulator().info)).filter((entry) => /packages\/agent|_agentcdn/.test(entry.url));
    assert.deepEqual(downloads, [], "the prebuilt container asked for the agent package");
  });

  it("AZP_MAX_LIFETIME_MINUTES: the agent is stopped and the container exits 0, a planned end", async function () {
    const run: AgentRun = { name: "azp-lifetime-1", runId: "104", once: false, lifetimeMinutes: "0.05" };
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 0);

    const log = await harness.logs(run.name);
    assert.ok(phaseLine(log, "setup", "max_lifetime_s=3"), log);
    assert.match(log, /phase=lifetime result=reached/);
    assert.match(log, /phase=stop agent_pid=\d+ signal=TERM/);
    // The listener itself got the signal and closed its session; nothing removes the agent from inside.
    assert.match(log, /Received SIGTERM: shutting down/);
    const requests = (await requestLog(emulator().info)).map((entry) => `${entry.method} ${entry.url.split("?")[0] ?? ""}`);
    assert.ok(requests.some((line) => /^DELETE .*\/sessions\//.test(line)), `the session was not closed:\n${requests.join("\n")}`);
    assert.deepEqual(requests.filter((line) => /^DELETE .*\/agents\/\d+$/.test(line)), []);
    assert.doesNotMatch(log, /phase=deregister/);
    assert.ok(phaseLine(log, "exit", "code=0 reason='AZP_MAX_LIFETIME_MINUTES reached'"), log);
    assert.equal(await harness.agentStatus(run.name), "offline", "the container removed its own registration (AciAgentStop does that, from outside)");
  });

  it("a stop during a job reaches the listener and the job: the job is canceled, exit 143", async function () {
    const run: AgentRun = { name: "azp-sigterm-1", runId: "109", once: false };
    await harness.start(run);
    const requestId = await harness.queueJob(
      run.runId,
      "long",
      "trap 'echo \"job saw SIGTERM\"; exit 143' TERM\necho job started\nfor i in $(seq 1 600); do sleep 0.1; done\necho job ran to the end",
    );
    await harness.logMatching(run.name, /job started/);
    await harness.client.containerGroups.stop(emulator().info.resourceGroup, run.name);
    assert.equal(await harness.exitCode(run.name), 143);

    const log = await harness.logs(run.name);
    assert.match(log, /Received SIGTERM: shutting down/);
    assert.match(log, /job saw SIGTERM/);
    assert.doesNotMatch(log, /job ran to the end/);
    assert.equal(await harness.jobResult(requestId), "canceled");
    assert.doesNotMatch(log, /phase=deregister/);
    assert.equal(await harness.agentStatus(run.name), "offline", "the container removed its own registration (AciAgentStop does that, from outside)");
  });

  it("an agent update (listener exit 3) starts the listener again: the container keeps running and takes the next job", async function () {
    const run: AgentRun = { name: "azp-update-3", runId: "110", once: false, restartPolicy: "OnFailure" };
    await harness.start(run);
    await harness.waitOnline(run.name);
    const update = await control(emulator().info, "POST", `/agents/${run.name}/update`, { targetVersion: "4.266.0" });
    assert.equal(update.status, 202, update.text);
    await harness.logMatching(run.name, /phase=update elapsed=\d+s agent_exit=3 action=restart/);
    await eventually("a second session", async () => ((await harness.sessionsCreated(run.name)).length >= 2 ? true : undefined), 30_000);

    const requestId = await harness.queueJob(run.runId, "after-update", "echo after the update");
    assert.equal(await harness.jobResult(requestId), "succeeded");
    assert.equal(await harness.restartCount(run.name), 0, "the container was restarted instead of the agent");
    // Each session carries the capabilities, scanned again.
    const sessions = await harness.sessionsCreated(run.name);
    assert.ok(sessions.length >= 2);
    for (const capabilities of sessions) assert.equal(capabilities.ACI_RUN_ID, run.runId);

    await harness.client.containerGroups.stop(emulator().info.resourceGroup, run.name);
    assert.equal(await harness.exitCode(run.name), 143);
    assert.doesNotMatch(await harness.logs(run.name), /phase=deregister/);
  });

  it("an agent update of a run-once agent (listener exit 4) starts it again, and a stop still reaches the new listener", async function () {
    const run: AgentRun = { name: "azp-update-4", runId: "111", once: true };
    await harness.start(run);
    await harness.waitOnline(run.name);
    const update = await control(emulator().info, "POST", `/agents/${run.name}/update`, {});
    assert.equal(update.status, 202, update.text);
    await eventually("a second session", async () => ((await harness.sessionsCreated(run.name)).length >= 2 ? true : undefined), 30_000);
    await harness.waitOnline(run.name);

    await harness.client.containerGroups.stop(emulator().info.resourceGroup, run.name);
    assert.equal(await harness.exitCode(run.name), 143);
    const log = await harness.logs(run.name);
    const afterUpdate = log.slice(log.indexOf("Agent update to"));
    assert.match(afterUpdate, /Received SIGTERM: shutting down/, "the restarted listener never heard of the stop");
    assert.match(afterUpdate, /phase=update elapsed=\d+s agent_exit=4 action=restart/);
    assert.equal(await harness.agentStatus(run.name), "offline", "the container removed its own registration (AciAgentStop does that, from outside)");
  });

  it("a restarted container discards the agent folder its jobs could have rewritten and configures a freshly downloaded one", async function () {
    const run: AgentRun = { name: "azp-restart-1", runId: "112", once: false, restartPolicy: "OnFailure" };
    await harness.start(run);
    // The job rewrites config.sh, then ends the container with a failure, so that its restart
    // policy starts it again with the secret.
    const requestId = await harness.queueJob(
      run.runId,
      "rewrite-and-crash",
      [
        'sed -i \'1a echo "REWRITTEN-CONFIG-RAN $*"; env | sed "s/^/REWRITTEN-CONFIG-ENV /"\' "$AGENT_HOMEDIRECTORY/config.sh"',
        "main=$(sed -n 's/^PPid:[[:space:]]*//p' \"/proc/$PPID/status\")",
        'tr "\\0" " " <"/proc/$main/cmdline" | grep -q start.sh && kill -TERM "$main"',
        "sleep 30",
      ].join("\n"),
    );
    assert.equal(await harness.jobResult(requestId), "canceled");
    await eventually("the container to be restarted", async () => ((await harness.restartCount(run.name)) >= 1 ? true : undefined), 30_000);
    await harness.logMatching(run.name, /note=container-ran-before action=discard-agent-folder/);
    await eventually("the restarted agent to come online", async () => ((await harness.sessionsCreated(run.name)).length >= 2 ? true : undefined), 30_000);

    const log = await harness.logs(run.name);
    assert.equal(log.split("\n").filter((line) => line.includes("[aci-agent] phase=extract ") && line.includes("sha256=verified")).length, 2, log);
    assert.doesNotMatch(log, /REWRITTEN-CONFIG-RAN/, "the restarted container ran the config.sh a job had rewritten");
    assert.ok(!log.includes(emulator().info.pat), "the token is in the container log");
    // Each configuration registers a fresh 2048-bit key (the emulated agent's key, see
    // emulator/agent-package/README.md; it repeats an earlier one once in 32,640 draws).
    const keys = (await requestLog(emulator().info))
      .filter((r) => r.service === "devops" && (r.method === "POST" || r.method === "PUT") && /\/agents(\/\d+)?$/.test(r.url.split("?")[0] ?? ""))
      .map((r) => JSON.parse(r.requestBody) as { name: string; authorization: { publicKey: { exponent: string; modulus: string } } })
      .filter((body) => body.name === run.name)
      .map((body) => body.authorization.publicKey);
    assert.equal(keys.length, 2, "two registrations of the agent");
    for (const key of keys) {
      assert.equal(Buffer.from(key.modulus, "base64").length, 256);
      assert.equal(key.exponent, "AQAB");
    }
    assert.notEqual(keys[0]?.modulus, keys[1]?.modulus, "the restarted agent registered the key of its first run");
    await harness.client.containerGroups.stop(emulator().info.resourceGroup, run.name);
  });

  for (const invariant of [true, false]) {
    it(`an image without libicu${invariant ? " and DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1" : ""}: exit 19 before config.sh, with the reason`, async function () {
      // The image's ldconfig cache has no libicu and its apt repository does not offer one.
      await setBehaviour(emulator().info, {
        images: {
          "example.azurecr.io/no-icu:1": {
            entrypoint: ["sleep", "infinity"],
            agentPreinstalled: false,
            programs: {
              ldconfig: "#!/bin/sh\n/sbin/ldconfig \"$@\" 2>&1 | grep -v libicu\n",
              "apt-get": "#!/bin/sh\necho 'E: Unable to locate package libicu' >&2\nexit 100\n",
              "apt-cache": "#!/bin/sh\nexit 0\n",
            },
          },
        },
      });
      const run: AgentRun = {
        name: `azp-icu-${invariant ? "invariant" : "plain"}`,
        runId: invariant ? "112" : "113",
        image: "example.azurecr.io/no-icu:1",
        extraEnvironment: invariant ? [{ name: "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", value: "1" }] : [],
      };
      await harness.start(run);
      assert.equal(await harness.exitCode(run.name), 19);
      const log = await harness.logs(run.name);
      const errors = log.split("\n").filter((line) => line.includes("[aci-agent] error:"));
      assert.equal(errors.length, 1, log);
      assert.match(errors[0] ?? "", /libicu .*config\.sh .*DOTNET_SYSTEM_GLOBALIZATION_INVARIANT.*exit=19/);
      assert.equal(phaseLine(log, "configure"), undefined, log);
      assert.equal(await harness.agentStatus(run.name), undefined);
    });
  }

  it("a musl image whose feed entry names the glibc package: exit 20 with the reason, nothing downloaded", async function () {
    await setBehaviour(emulator().info, {
      muslFeedServesGlibc: true,
      images: {
        "example.azurecr.io/musl:1": {
          entrypoint: ["sleep", "infinity"],
          agentPreinstalled: false,
          // musl's ldd, as on Alpine: it names itself on --version and exits 1.
          programs: { ldd: "#!/bin/sh\necho 'musl libc (x86_64)' >&2\necho 'Version 1.2.5' >&2\nexit 1\n" },
        },
      },
    });
    const run: AgentRun = { name: "azp-musl-1", runId: "117", image: "example.azurecr.io/musl:1" };
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 20);
    const log = await harness.logs(run.name);
    assert.ok(phaseLine(log, "download", "platform=linux-musl-x64"), log);
    const errors = log.split("\n").filter((line) => line.includes("[aci-agent] error:"));
    assert.equal(errors.length, 1, log);
    assert.match(errors[0] ?? "", /musl image .*linux-musl-x64 entry points at a glibc package .*vsts-agent-linux-x64-.*exit=20/);
    const downloads = (await requestLog(emulator().info)).filter((entry) => entry.url.includes("_agentcdn"));
    assert.deepEqual(downloads, [], "the glibc package was downloaded");
  });

  it("the package hash is compared as the agent does: case and hyphens do not matter", async function () {
    const packages = await devops(emulator().info, "GET", "_apis/distributedtask/packages/agent?platform=linux-x64&top=1");
    const hash = (packages.json as { value: { hashValue: string }[] }).value[0]?.hashValue ?? "";
    assert.match(hash, /^[0-9a-f]{64}$/);
    await setBehaviour(emulator().info, { agentPackageHash: hash.toUpperCase().replace(/(.{8})(?!$)/g, "$1-") });
    const run: AgentRun = { name: "azp-hash-2", runId: "114" };
    await harness.start(run);
    const requestId = await harness.queueJob(run.runId, "hash", "echo ok");
    assert.equal(await harness.jobResult(requestId), "succeeded");
    assert.equal(await harness.exitCode(run.name), 0);
    assert.ok(phaseLine(await harness.logs(run.name), "extract", "sha256=verified"));
  });

  it("a package without a hash is refused with exit 15, as the agent's own updater refuses it", async function () {
    await setBehaviour(emulator().info, { agentPackageHash: "" });
    const run: AgentRun = { name: "azp-hash-3", runId: "115" };
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 15);
    const log = await harness.logs(run.name);
    assert.match(log, /error: phase=download .*no hashValue.*exit=15/);
    assert.equal(phaseLine(log, "extract"), undefined, log);
  });

  it("capabilities follow the agent's filter: fixed ignore list, VSO_AGENT_IGNORE case-sensitive, values of 1024+ characters dropped", async function () {
    const run: AgentRun = {
      name: "azp-capabilities-1",
      runId: "116",
      extraEnvironment: [
        { name: "TERM", value: "xterm" },
        { name: "VSO_AGENT_IGNORE", value: " Custom_Hidden ,SECOND_HIDDEN" },
        { name: "Custom_Hidden", value: "a" },
        { name: "CUSTOM_HIDDEN", value: "b" },
        { name: "SECOND_HIDDEN", value: "c" },
        { name: "VALUE_1023", value: "x".repeat(1023) },
        { name: "VALUE_1024", value: "x".repeat(1024) },
      ],
    };
    await harness.start(run);
    await harness.waitOnline(run.name);
    const [capabilities] = await harness.sessionsCreated(run.name);
    assert.ok(capabilities !== undefined);
    assert.equal(capabilities.TERM, undefined);
    assert.equal(capabilities.Custom_Hidden, undefined);
    assert.equal(capabilities.SECOND_HIDDEN, undefined);
    assert.equal(capabilities.CUSTOM_HIDDEN, "b");
    assert.equal(capabilities.VALUE_1023?.length, 1023);
    assert.equal(capabilities.VALUE_1024, undefined);
    assert.equal(capabilities.ACI_RUN_ID, run.runId);
    await harness.client.containerGroups.stop(emulator().info.resourceGroup, run.name);
    assert.equal(await harness.exitCode(run.name), 143);
  });

  it("a failing AZP_STARTUP_SCRIPT stops the start with exit 17 and one clear line; nothing is registered", async function () {
    const run: AgentRun = { name: "azp-startup-1", runId: "105", startupScript: "echo installing tools; exit 3" };
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 17);

    const log = await harness.logs(run.name);
    assert.match(log, /installing tools/);
    const errors = log.split("\n").filter((line) => line.includes("[aci-agent] error:"));
    assert.equal(errors.length, 1, log);
    assert.match(errors[0] ?? "", /phase=startup-script AZP_STARTUP_SCRIPT exited with 3 .*exit=17/);
    assert.equal(phaseLine(log, "configure"), undefined, log);
    assert.equal(await harness.agentStatus(run.name), undefined);
  });

  it("a package whose sha256 does not match is refused with exit 15: nothing is extracted or run", async function () {
    await setBehaviour(emulator().info, { agentPackageHash: "0".repeat(64) });
    const run: AgentRun = { name: "azp-hash-1", runId: "106" };
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 15);

    const log = await harness.logs(run.name);
    const errors = log.split("\n").filter((line) => line.includes("[aci-agent] error:"));
    assert.equal(errors.length, 1, log);
    assert.match(errors[0] ?? "", /sha256 mismatch .*expected 0{64}, got [0-9a-f]{64}; nothing was run; exit=15/);
    assert.equal(phaseLine(log, "extract"), undefined, log);
    assert.equal(phaseLine(log, "configure"), undefined, log);
    const home = /home=(\S+)/.exec(phaseLine(log, "setup") ?? "")?.[1];
    assert.ok(home !== undefined, log);
    assert.equal(existsSync(join(home, "agent")), false, "the agent was extracted");
    assert.equal(existsSync(join(home, "agent.tar.gz")), false, "the refused package was left behind");
    assert.equal(await harness.agentStatus(run.name), undefined);
  });

  it("AZP_AUTH=SP (registration with a client secret) is no longer supported: exit 10 with the reason, nothing registered", async function () {
    const run: AgentRun = { name: "azp-sp-1", runId: "118", extraEnvironment: [{ name: "AZP_AUTH", value: "SP" }, { name: "AZP_CLIENT_ID", value: "x" }, { name: "AZP_TENANT_ID", value: "y" }] };
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 10);
    const log = await harness.logs(run.name);
    assert.match(log, /error: phase=setup AZP_AUTH=SP .*no longer supported.*exit=10/);
    assert.equal(await harness.agentStatus(run.name), undefined);
  });

  for (const via of ["AZP_TOKEN", "AZP_TOKEN_FILE"] as const) {
    it(`secret in ${via}: neither the startup script nor a job can find the token`, async function () {
      const info = emulator().info;
      const created = await control(info, "POST", "/pats", {});
      const pat = (created.json as { pat: string }).pat;
      // The spy looks for the token file in both cases; only the AZP_TOKEN_FILE run has one.
      const tokenFile = join(scratch, "token");
      if (via === "AZP_TOKEN_FILE") writeFileSync(tokenFile, `${pat}\n`, { mode: 0o600 });
      const run: AgentRun = {
        name: `azp-secret-${via === "AZP_TOKEN" ? "env" : "file"}`,
        runId: via === "AZP_TOKEN" ? "107" : "108",
        pat,
        once: true,
        startupScript: spyScript(join(scratch, "startup"), tokenFile),
        ...(via === "AZP_TOKEN_FILE" ? { tokenFile } : {}),
      };
      await harness.start(run);
      const requestId = await harness.queueJob(run.runId, "spy", spyScript(join(scratch, "job"), tokenFile));
      assert.equal(await harness.jobResult(requestId), "succeeded");
      assert.equal(await harness.exitCode(run.name), 0);

      const log = await harness.logs(run.name);
      assert.match(log, /spy done/);
      assert.equal(existsSync(tokenFile), false, "AZP_TOKEN_FILE was not deleted");
      for (const who of ["startup", "job"]) {
        const seen = join(scratch, who);
        // The spy really read its ancestors, start.sh included: the check is not vacuous.
        const ancestors = readFileSync(join(seen, "ancestors"), "utf8");
        assert.match(ancestors, /^\d+ readable .*start\.sh/m, `${who}: start.sh is not among the readable ancestors:\n${ancestors}`);
        const env = readFileSync(join(seen, "env"), "utf8");
        assert.match(env, /^AZP_POOL=/m);
        assert.doesNotMatch(env, /^(AZP_TOKEN|AZP_TOKEN_FILE|AZP_STARTUP_SCRIPT|VSTS_AGENT_INPUT_\w+)=/m);
        assert.equal(readFileSync(join(seen, "token-file-state"), "utf8").trim(), "absent", `${who} read the token file`);
        const leaks = readdirSync(seen).filter((file) => readFileSync(join(seen, file), "latin1").includes(pat));
        assert.deepEqual(leaks, [], `${who} found the token in: ${leaks.join(", ")}`);
      }
      assert.ok(!log.includes(pat), "the token is in the container log");
      const registration = (await requestLog(info)).find((entry) => entry.method === "POST" && /\/pools\/\d+\/agents$/.test(entry.url.split("?")[0] ?? ""));
      assert.ok(registration !== undefined, "no agent registration was recorded");
      const capabilities = (JSON.parse(registration.requestBody) as { systemCapabilities: Record<string, string> }).systemCapabilities;
      assert.equal(capabilities.ACI_RUN_ID, run.runId);
      for (const name of ["AZP_TOKEN", "AZP_TOKEN_FILE", "AZP_STARTUP_SCRIPT", "VSTS_AGENT_INPUT_TOKEN"]) {
        assert.equal(capabilities[name], undefined, `${name} is a capability`);
      }
      const home = /home=(\S+)/.exec(phaseLine(log, "setup") ?? "")?.[1];
      assert.ok(home !== undefined, log);
      assert.ok(!readTree(dirname(home)).includes(pat), "the token is in a file of the container");
    });
  }
});

describe("agent/start.sh on the identity path (AZP_IDENTITY_DIR: registered from outside, never config.sh)", function () {
  this.timeout(120_000);
  const emulator = useEmulator();
  let harness: Harness;
  let scratch: string;

  beforeEach(function () {
    harness = new Harness(emulator().info);
    scratch = mkdtempSync(join(tmpdir(), "aci-start-sh-identity-"));
  });

  afterEach(function () {
    rmSync(scratch, { recursive: true, force: true });
  });

  async function identityRun(name: string, runId: string, options: Partial<AgentRun> & { expiresAt?: string; sha256?: string } = {}): Promise<AgentRun & { identity: IdentityRun; agent: AgentJson }> {
    const info = emulator().info;
    const { dir, agent } = await writeIdentity(info, scratch, name);
    const found = await agentPackage(info);
    const { expiresAt, sha256, ...rest } = options;
    return {
      name,
      runId,
      once: false,
      ...rest,
      agent,
      identity: { dir, packageUrl: found.downloadUrl, packageSha256: sha256 ?? found.hashValue, ...(expiresAt === undefined ? {} : { expiresAt }) },
    };
  }

  /** Requests the container made (the test's own carry no User-Agent), as "METHOD path". */
  async function containerRequests(): Promise<string[]> {
    return (await requestLog(emulator().info))
      .filter((entry) => entry.service === "devops" && (entry as { userAgent?: string }).userAgent !== "")
      .map((entry) => `${entry.method} ${entry.url.split("?")[0] ?? ""}`);
  }

  function homeOf(log: string): string {
    const home = /home=(\S+)/.exec(phaseLine(log, "setup") ?? "")?.[1];
    assert.ok(home !== undefined, log);
    return home;
  }

  it("comes online and runs a job without config.sh: the container asks for nothing but the package and what its agent's own token may do", async function () {
    const run = await identityRun("azp-identity-1", "201", { once: true });
    await harness.start(run);
    await harness.waitOnline(run.name);
    const requestId = await harness.queueJob(run.runId, "identity-job", 'echo "identity job in $(pwd) as agent $AGENT_ID"');
    assert.equal(await harness.jobResult(requestId), "succeeded");
    assert.equal(await harness.exitCode(run.name), 0);

    const log = await harness.logs(run.name);
    assert.match(log, new RegExp(`identity job in .*/_work/1/s as agent ${run.agent.id}`));
    assert.ok(phaseLine(log, "secrets", "source=identity"), log);
    assert.ok(phaseLine(log, "setup", "mode=identity"), log);
    assert.ok(phaseLine(log, "download", "source=AZP_AGENT_PACKAGE_URL"), log);
    assert.ok(phaseLine(log, "extract", "sha256=verified"), log);
    assert.ok(phaseLine(log, "identity", `agent_id=${run.agent.id}`), log);
    assert.equal(phaseLine(log, "configure"), undefined, log);
    assert.doesNotMatch(log, /Successfully added the agent|Settings Saved/, "config.sh ran");
    assert.ok(phaseLine(log, "exit", "code=0 reason='the agent ran its one job'"), log);

    const requests = await containerRequests();
    assert.ok(requests.some((r) => /^POST .*\/_apis\/oauth2\/token$/.test(r)), `the agent took no token of its own:\n${requests.join("\n")}`);
    assert.ok(requests.some((r) => /^POST .*\/pools\/\d+\/sessions$/.test(r)), `the agent opened no session:\n${requests.join("\n")}`);
    // Nothing config.sh asks (connectionData, pools, agents) and nothing a PAT is needed for.
    const agentOnly = /^(GET \/_agentcdn\/|POST .*\/_apis\/oauth2\/token$|(POST|DELETE) .*\/pools\/\d+\/sessions(\/[^/]+)?$|(GET|DELETE) .*\/pools\/\d+\/messages(\/\d+)?$|PATCH .*\/pools\/\d+\/jobrequests\/\d+$)/;
    assert.deepEqual(requests.filter((r) => !agentOnly.test(r)), [], "the container made a request its agent's own token is not for");
    const sessions = (await requestLog(emulator().info))
      .filter((e) => e.method === "POST" && /\/sessions$/.test(e.url.split("?")[0] ?? "") && e.status === 200)
      .map((e) => (JSON.parse(e.requestBody) as { agent: { id: number } }).agent.id);
    assert.deepEqual(sessions, [run.agent.id]);
  });

  it("copies the three files into the agent folder, mode 0600, as copies of the mounted ones", async function () {
    const run = await identityRun("azp-identity-files", "202");
    await harness.start(run);
    await harness.waitOnline(run.name);
    const agentDir = join(homeOf(await harness.logs(run.name)), "agent");
    for (const file of ["agent", "credentials", "credentials_rsaparams"]) {
      const copy = join(agentDir, `.${file}`);
      const stat = lstatSync(copy);
      assert.ok(stat.isFile(), `.${file} is not a regular file (a link?)`);
      assert.equal(stat.mode & 0o777, 0o600, `.${file} has mode ${(stat.mode & 0o777).toString(8)}`);
      assert.notEqual(stat.ino, statSync(join(run.identity.dir, file)).ino, `.${file} is a hard link to the mounted file`);
      assert.equal(readFileSync(copy, "utf8"), readFileSync(join(run.identity.dir, file), "utf8"));
    }
    await harness.client.containerGroups.stop(emulator().info.resourceGroup, run.name);
    assert.equal(await harness.exitCode(run.name), 143);
  });

  it("AZP_EXPIRES_AT already past: exit 0 at once, nothing downloaded and no session", async function () {
    const run = await identityRun("azp-identity-expired", "203", { expiresAt: isoIn(-60) });
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name, 15_000), 0);
    const log = await harness.logs(run.name);
    assert.match(log, /phase=lifetime result=passed expires_at=\S+ action=exit/);
    assert.ok(phaseLine(log, "exit", "code=0 reason='AZP_EXPIRES_AT reached'"), log);
    assert.equal(phaseLine(log, "download"), undefined, log);
    assert.deepEqual(await containerRequests(), []);
  });

  it("AZP_EXPIRES_AT a few seconds ahead: the listener is stopped then and the container exits 0", async function () {
    const expiresAt = isoIn(8);
    const run = await identityRun("azp-identity-expiring", "204", { expiresAt });
    await harness.start(run);
    await harness.waitOnline(run.name);
    assert.equal(await harness.exitCode(run.name, 30_000), 0);
    const finished = (await harness.currentState(run.name)).finishTime;
    assert.ok(finished !== undefined);
    assert.ok(finished.getTime() >= Date.parse(expiresAt) - 1000, `ended at ${finished.toISOString()}, before ${expiresAt}`);
    const log = await harness.logs(run.name);
    assert.ok(phaseLine(log, "setup", `expires_at=${expiresAt}`), log);
    assert.match(log, /phase=lifetime result=reached expires_at=/);
    assert.match(log, /phase=stop agent_pid=\d+ signal=TERM/);
    // The listener itself got the signal, and its last line still reached the log through awk.
    assert.match(log, /Received SIGTERM: shutting down/);
    assert.ok(phaseLine(log, "exit", "code=0 reason='AZP_EXPIRES_AT reached'"), log);
  });

  it("restart policy OnFailure: a container that failed comes back as the same agent, downloaded afresh, without the startup script, with its original expiry", async function () {
    const expiresAt = isoIn(25);
    const run = await identityRun("azp-identity-restart", "205", { expiresAt, restartPolicy: "OnFailure", startupScript: "echo STARTUP-SCRIPT-RAN" });
    await harness.start(run);
    await harness.waitOnline(run.name);
    const first = await harness.logs(run.name);
    // SIGTERM to the main process: the listener closes its session, start.sh exits 143, a
    // failure. (A listener killed with SIGKILL leaves its session open, and the emulated service,
    // which never expires a session, would refuse the restarted one with 409 for good.)
    const main = Number(/phase=start elapsed=\d+s pid=(\d+)/.exec(first)?.[1]);
    assert.ok(main > 1, first);
    process.kill(main, "SIGTERM");

    await eventually("the container to be restarted", async () => ((await harness.restartCount(run.name)) >= 1 ? true : undefined), 30_000);
    await eventually("the restarted agent to come online", async () => ((await harness.sessionsCreated(run.name)).length >= 2 ? true : undefined), 30_000)
      .catch(async (error: unknown) => { throw new Error(`${String(error)}\n${await harness.logs(run.name)}`); });
    await harness.waitOnline(run.name);
    const sessions = (await requestLog(emulator().info))
      .filter((e) => e.method === "POST" && /\/sessions$/.test(e.url.split("?")[0] ?? "") && e.status === 200)
      .map((e) => (JSON.parse(e.requestBody) as { agent: { id: number } }).agent.id);
    assert.deepEqual(sessions, [run.agent.id, run.agent.id], "the restarted container is another agent");
    assert.equal((await harness.agentJson(run.name))?.id, run.agent.id);

    // The expiry is absolute: the restarted container still ends at the first one's end.
    assert.equal(await harness.exitCode(run.name, 40_000), 0);
    const finished = (await harness.currentState(run.name)).finishTime;
    assert.ok(finished !== undefined);
    assert.ok(Math.abs(finished.getTime() - Date.parse(expiresAt)) < 5000, `ended at ${finished.toISOString()}, expiry ${expiresAt}`);
    assert.equal(await harness.restartCount(run.name), 1);

    const log = await harness.logs(run.name);
    assert.equal(log.split("\n").filter((line) => line.includes(`[aci-agent] phase=setup `) && line.includes(`expires_at=${expiresAt}`)).length, 2, log);
    assert.match(log, /note=container-ran-before action=discard-agent-folder/);
    assert.equal(log.split("\n").filter((line) => line.includes("[aci-agent] phase=extract ") && line.includes("sha256=verified")).length, 2, log);
    assert.equal(log.split("\n").filter((line) => line.includes("STARTUP-SCRIPT-RAN")).length, 1, "the startup script ran again");
    assert.ok(phaseLine(log, "startup-script", "result=skipped reason=container-ran-before"), log);
    assert.ok(phaseLine(log, "exit", "code=0 reason='AZP_EXPIRES_AT reached'"), log);
  });

  for (const line of [
    "The agent no longer exists on the server. Please reconfigure the agent.",
    "Failed to create session. VS30063: You are not authorized to access https://dev.azure.com.",
  ]) {
    it(`a listener that prints "${line.slice(0, 40)}…" and exits 1: exit 0, not restarted by OnFailure`, async function () {
      // The startup script (it runs after the download) puts a listener in place that says what
      // the real one says once its registration is deleted (MessageListener.cs) and exits 1.
      const fake = `#!/bin/sh\necho "listener starting"\necho '${line}' >&2\nexit 1\n`;
      const startupScript = `cat > agent/bin/Agent.Listener <<'FAKE'\n${fake}FAKE\nchmod +x agent/bin/Agent.Listener`;
      const run = await identityRun(`azp-identity-gone-${line.startsWith("The") ? "missing" : "vs30063"}`, "206", { restartPolicy: "OnFailure", startupScript });
      await harness.start(run);
      assert.equal(await harness.exitCode(run.name), 0);
      const log = await harness.logs(run.name);
      assert.ok(log.includes(line), `the listener's line did not reach the log:\n${log}`);
      assert.match(log, /phase=run agent_exit=1 note=registration-gone action=exit-0/);
      assert.ok(phaseLine(log, "exit", "code=0 reason='the agent registration is gone'"), log);
      assert.equal(await harness.restartCount(run.name), 0);
    });
  }

  it("a listener that fails without saying its registration is gone: its exit code, as on the token path", async function () {
    const startupScript = "printf '#!/bin/sh\\necho \"something else went wrong\"\\nexit 1\\n' > agent/bin/Agent.Listener";
    const run = await identityRun("azp-identity-fails", "207", { startupScript });
    await harness.start(run);
    const code = await harness.exitCode(run.name);
    const log = await harness.logs(run.name);
    assert.equal(code, 1, log);
    assert.match(log, /something else went wrong/);
    assert.ok(phaseLine(log, "exit", "code=1 reason='the agent failed with exit code 1'"), log);
  });

  it("a listener whose token request is refused as invalid_client retries for ever: the container stops it and exits 0, not restarted", async function () {
    // The real listener retries a 400 invalid_client token answer every 30 s and never exits
    // (MessageListener.IsSessionCreationExceptionRetriable); this one says what it says, then waits.
    const fake = "#!/bin/sh\necho 'Agent connect error: The client is not valid. Retrying until reconnected.' >&2\nexec sleep 600\n";
    const startupScript = `cat > agent/bin/Agent.Listener <<'FAKE'\n${fake}FAKE\nchmod +x agent/bin/Agent.Listener`;
    const run = await identityRun("azp-identity-gone-invalid-client", "211", { restartPolicy: "OnFailure", startupScript });
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name, 30_000), 0);
    const log = await harness.logs(run.name);
    assert.match(log, /phase=run note=registration-gone action=stop-agent/);
    assert.ok(phaseLine(log, "exit", "code=0 reason='the agent registration is gone'"), log);
    assert.equal(await harness.restartCount(run.name), 0);
  });

  it("deleting the agent's registration through the REST API ends the container with exit 0, without a restart loop", async function () {
    const run = await identityRun("azp-identity-deleted", "208", { restartPolicy: "OnFailure" });
    await harness.start(run);
    await harness.waitOnline(run.name);
    const pool = await poolId(emulator().info);
    const deleted = await devops(emulator().info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${run.agent.id}`);
    assert.equal(deleted.status, 204, deleted.text);
    const code = await harness.exitCode(run.name, 60_000).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${await harness.logs(run.name)}`);
    });
    const log = await harness.logs(run.name);
    assert.equal(code, 0, log);
    assert.ok(phaseLine(log, "exit", "code=0 reason='the agent registration is gone'"), log);
    assert.equal(await harness.restartCount(run.name), 0, log);
  });

  it("the startup script and a token given as well are in no process, file or log a job can read (secret hunt)", async function () {
    const info = emulator().info;
    const canary = `STARTUP-CANARY-${randomUUID()}`;
    const pat = ((await control(info, "POST", "/pats", {})).json as { pat: string }).pat;
    const run = await identityRun("azp-identity-hunt", "209", {
      once: true,
      startupScript: `startup_secret='${canary}'\necho "startup script ran ($\{#startup_secret} characters)"`,
      extraEnvironment: [{ name: "AZP_TOKEN", secureValue: pat }],
    });
    await harness.start(run);
    const requestId = await harness.queueJob(run.runId, "secret hunt", secretHuntJob([canary, pat], run.name));
    assert.equal(await harness.jobResult(requestId, 120_000), "succeeded", await harness.logs(run.name));
    assert.equal(await harness.exitCode(run.name), 0);
    const log = await harness.logs(run.name);
    assert.match(log, /startup script ran \(\d+ characters\)/);
    assertHuntFoundNothing(huntReport(log), log, [canary, pat], /start\.sh/);
  });

  it("a package whose sha256 does not match is refused with exit 15: nothing extracted, no files copied, no session", async function () {
    const run = await identityRun("azp-identity-hash", "210", { sha256: "0".repeat(64) });
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 15);
    const log = await harness.logs(run.name);
    const errors = log.split("\n").filter((line) => line.includes("[aci-agent] error:"));
    assert.equal(errors.length, 1, log);
    assert.match(errors[0] ?? "", /sha256 mismatch .*expected 0{64}, got [0-9a-f]{64}; nothing was run; exit=15/);
    assert.equal(phaseLine(log, "extract"), undefined, log);
    assert.equal(phaseLine(log, "identity"), undefined, log);
    assert.equal(existsSync(join(homeOf(log), "agent")), false, "the agent was extracted");
    assert.deepEqual((await containerRequests()).filter((r) => !r.includes("/_agentcdn/")), []);
  });

  it("a package given without its sha256 is refused with exit 15 before the download", async function () {
    const run = await identityRun("azp-identity-nohash", "211", { sha256: "" });
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 15);
    const log = await harness.logs(run.name);
    assert.match(log, /error: phase=download AZP_AGENT_PACKAGE_SHA256 is not set.*exit=15/);
    assert.deepEqual(await containerRequests(), []);
  });

  it("an identity folder without one of the three files: exit 11 before anything runs", async function () {
    const run = await identityRun("azp-identity-incomplete", "212");
    rmSync(join(run.identity.dir, "credentials_rsaparams"));
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 11);
    const log = await harness.logs(run.name);
    assert.match(log, /error: phase=setup AZP_IDENTITY_DIR '.*' has no readable file 'credentials_rsaparams'.*exit=11/);
    assert.deepEqual(await containerRequests(), []);
  });
});

describe("agent/start.sh in standby mode (AZP_STANDBY: made by a standby pool, claimed through its config map)", function () {
  this.timeout(120_000);
  const emulator = useEmulator();
  let harness: Harness;
  let scratch: string;

  beforeEach(function () {
    harness = new Harness(emulator().info);
    scratch = mkdtempSync(join(tmpdir(), "aci-start-sh-standby-"));
  });

  afterEach(function () {
    rmSync(scratch, { recursive: true, force: true });
  });

  async function standbyRun(name: string, runId: string, options: Partial<AgentRun> = {}): Promise<AgentRun & { standby: StandbyRun }> {
    const found = await agentPackage(emulator().info);
    return { ...options, name, runId, standby: { configMapDir: join(scratch, `configmap-${name}`), packageUrl: found.downloadUrl, packageSha256: found.hashValue } };
  }

  /** The config map as AciAgentStart completes a claim: what the agent needs that is not secret. */
  function claimValues(registered: RegisteredAgent, runId: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...identityConfigMap(registered),
      ACI_RUN_ID: runId,
      ACI_FLEET: `azp-${runId}`,
      once: "true",
      expiresAt: isoIn(600),
      ...extra,
    };
  }

  function writeConfigMap(dir: string, values: Record<string, string>): void {
    mkdirSync(dir, { recursive: true });
    for (const [key, value] of Object.entries(values)) writeFileSync(join(dir, key), value);
  }

  /** Requests the container made (the test's own carry no User-Agent), as "METHOD path". */
  async function containerRequests(): Promise<string[]> {
    return (await requestLog(emulator().info))
      .filter((entry) => entry.service === "devops" && (entry as { userAgent?: string }).userAgent !== "")
      .map((entry) => `${entry.method} ${entry.url.split("?")[0] ?? ""}`);
  }

  function homeOf(log: string): string {
    const home = /home=(\S+)/.exec(phaseLine(log, "setup") ?? "")?.[1];
    assert.ok(home !== undefined, log);
    return home;
  }

  /** Waits for the container's key line, registers an agent with that key and completes the claim. */
  async function claim(run: AgentRun & { standby: StandbyRun }, extra: Record<string, string> = {}): Promise<{ agent: AgentJson; registered: RegisteredAgent }> {
    const registration = await registerPrintedKey(run);
    writeConfigMap(run.standby.configMapDir, claimValues(registration.registered, run.runId, extra));
    return registration;
  }

  /** Waits for the container's key line and registers an agent with that key. */
  async function registerPrintedKey(run: AgentRun): Promise<{ agent: AgentJson; registered: RegisteredAgent }> {
    const log = await harness.logMatching(run.name, /phase=claim-wait /);
    const printed = /^aci-agent-public-key exponent=(\S+) modulus=(\S+)$/m.exec(log);
    assert.ok(printed !== null, log);
    return registerAgent(emulator().info, run.name, { exponent: printed[1] ?? "", modulus: printed[2] ?? "" });
  }

  /** Waits for the container to exit 0 at expiresAt (not before) and answers its log, which says why. */
  async function endedAtExpiry(run: AgentRun, expiresAt: string): Promise<string> {
    assert.equal(await harness.exitCode(run.name, 30_000), 0);
    const finished = (await harness.currentState(run.name)).finishTime;
    assert.ok(finished !== undefined && finished.getTime() >= Date.parse(expiresAt) - 1000, `ended at ${String(finished?.toISOString())}, before ${expiresAt}`);
    const log = await harness.logs(run.name);
    assert.ok(phaseLine(log, "exit", "code=0 reason='AZP_EXPIRES_AT reached'"), log);
    return log;
  }

  it("prepares, prints one public key line and waits; claimed, it writes the files agentFiles would, comes online and runs a job; its private key is in no log line", async function () {
    const info = emulator().info;
    const run = await standbyRun("azp-standby-1", "301");
    await harness.start(run);
    const waiting = await harness.logMatching(run.name, /phase=claim-wait /);
    const keyLines = waiting.split("\n").filter((line) => line.includes("aci-agent-public-key"));
    assert.equal(keyLines.length, 1, waiting);
    const printed = /^aci-agent-public-key exponent=([A-Za-z0-9+/]+=*) modulus=([A-Za-z0-9+/]+=*)$/.exec(keyLines[0] ?? "");
    assert.ok(printed !== null, `not the key line: ${keyLines[0] ?? ""}`);
    const publicKey = { exponent: printed[1] ?? "", modulus: printed[2] ?? "" };
    assert.equal(publicKey.exponent, "AQAB");
    assert.equal(Buffer.from(publicKey.modulus, "base64").length, 256);
    assert.ok(phaseLine(waiting, "setup", "mode=standby"), waiting);
    assert.ok(phaseLine(waiting, "extract", "sha256=verified"), waiting);

    // It waits: no registration, no session, nothing asked of Azure DevOps but the package.
    await sleep(2500);
    assert.equal((await harness.currentState(run.name)).state, "Running");
    assert.equal(await harness.agentStatus(run.name), undefined);
    assert.deepEqual((await containerRequests()).filter((r) => !r.startsWith("GET /_agentcdn/")), []);

    const home = homeOf(waiting);
    const keyFile = join(home, ".aci-agent-key.pem");
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const parameters = rsaParametersOf(createPrivateKey(readFileSync(keyFile)));
    assert.deepEqual({ exponent: parameters.exponent, modulus: parameters.modulus }, publicKey, "the printed key is not the key in the file");

    const { agent, registered } = await registerAgent(info, run.name, publicKey);
    // agentId first, the rest a moment later: the container waits for all of them.
    const values = claimValues(registered, run.runId);
    writeConfigMap(run.standby.configMapDir, { agentId: values.agentId ?? "" });
    await sleep(1500);
    writeConfigMap(run.standby.configMapDir, values);
    await harness.waitOnline(run.name);

    const expected = agentFiles(registered, { parameters, publicKey });
    for (const [file, content] of Object.entries(expected)) {
      const path = join(home, "agent", `.${file}`);
      assert.equal(statSync(path).mode & 0o777, 0o600, `.${file}`);
      assert.ok(readFileSync(path).equals(Buffer.from(content, "utf8")), `.${file} differs from agentFiles':\n${readFileSync(path, "utf8")}\n---\n${content}`);
    }

    const requestId = await harness.queueJob(run.runId, "standby-job", 'echo "standby job as agent $AGENT_ID in fleet $ACI_FLEET"');
    assert.equal(await harness.jobResult(requestId), "succeeded");
    assert.equal(await harness.exitCode(run.name), 0);
    const log = await harness.logs(run.name);
    assert.match(log, new RegExp(`standby job as agent ${agent.id} in fleet azp-${run.runId}`));
    assert.ok(phaseLine(log, "claim", `agent_id=${agent.id}`), log);
    assert.ok(phaseLine(log, "identity", "source=config-map"), log);
    assert.ok(phaseLine(log, "run", "once=true"), log);
    assert.equal(phaseLine(log, "configure"), undefined, log);
    assert.ok(phaseLine(log, "exit", "code=0 reason='the agent ran its one job'"), log);
    assert.equal(log.split("\n").filter((line) => line.includes("aci-agent-public-key")).length, 1, log);
    const sessions = (await harness.sessionsCreated(run.name));
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]?.ACI_RUN_ID, run.runId);

    // The private parts, in the forms a log could carry them: base64 of each integer, the PEM's lines.
    const pem = readFileSync(keyFile, "utf8");
    const secrets = [parameters.d, parameters.p, parameters.q, parameters.dp, parameters.dq, parameters.inverseQ];
    secrets.push(...pem.split("\n").filter((line) => line.length >= 40));
    for (const secret of secrets) assert.ok(!log.includes(secret.slice(8, 48)), "the private key is in the container log");
    assert.doesNotMatch(log, /PRIVATE KEY|privateExponent|prime1/);
  });

  it("a stop while it waits for its claim ends it at once with exit 143", async function () {
    const run = await standbyRun("azp-standby-stop", "302");
    await harness.start(run);
    await harness.logMatching(run.name, /phase=claim-wait /);
    const stopped = Date.now();
    await harness.client.containerGroups.stop(emulator().info.resourceGroup, run.name);
    assert.equal(await harness.exitCode(run.name), 143);
    const finished = (await harness.currentState(run.name)).finishTime;
    assert.ok(finished !== undefined && finished.getTime() - stopped < 3000, `took ${String(finished?.getTime())} - ${stopped} ms`);
    assert.ok(phaseLine(await harness.logs(run.name), "exit", "code=143"));
  });

  it("a claim already complete when it starts (a restart after the claim) and no key of its own: exit 22, no session", async function () {
    const run = await standbyRun("azp-standby-lost", "303");
    writeConfigMap(run.standby.configMapDir, { agentId: "77" });
    await harness.start(run);
    assert.equal(await harness.exitCode(run.name), 22);
    const log = await harness.logs(run.name);
    assert.match(log, /error: phase=key this container was claimed before this start .*exit=22/);
    assert.doesNotMatch(log, /aci-agent-public-key/);
    assert.deepEqual(await containerRequests(), []);
  });

  it("claimed (the claim's run keys in its config map), it says so and looks for its agent's identity twenty times a second; completed, it comes online", async function () {
    const run = await standbyRun("azp-standby-claimed", "309");
    await harness.start(run);
    const waiting = await harness.logMatching(run.name, /phase=claim-wait /);
    assert.ok(phaseLine(waiting, "claim-wait", "every=0.2s"), waiting);
    assert.equal(phaseLine(waiting, "claimed"), undefined, waiting);
    writeConfigMap(run.standby.configMapDir, { ACI_RUN_ID: run.runId, ACI_FLEET: `azp-${run.runId}`, once: "true" });
    const claimed = await harness.logMatching(run.name, /phase=claimed /);
    assert.ok(phaseLine(claimed, "claimed", "key=ACI_RUN_ID every=0.05s"), claimed);
    assert.equal(await harness.agentStatus(run.name), undefined, "no agent before the claim is complete");
    await claim(run);
    await harness.waitOnline(run.name);
    assert.ok(phaseLine(await harness.logs(run.name), "claim", `run_id=${run.runId}`));
  });

  it("completed as AciAgentStart completes a claim (run keys, then the identity), it starts its listener after one date and no chmod (each child process there delays the agent), its files 0600 even where a startup script left one", async function () {
    // The image's date and chmod note each start in a file of the test's, then do their work.
    const children = join(scratch, "claim-children");
    const noting = (name: string) => `#!/bin/sh\necho ${name} >>'${children}'\nexec /bin/${name} "$@"\n`;
    await setBehaviour(emulator().info, {
      images: { "example.azurecr.io/counting:1": { entrypoint: ["sleep", "infinity"], agentPreinstalled: false, programs: { date: noting("date"), chmod: noting("chmod") } } },
    });
    // A startup script that leaves an .agent anyone may read: the claim's must not keep that mode.
    const startupScript = "printf stale > agent/.agent && chmod 644 agent/.agent";
    const run = await standbyRun("azp-standby-children", "318", { image: "example.azurecr.io/counting:1", startupScript });
    await harness.start(run);
    const registration = await registerPrintedKey(run);
    const values = claimValues(registration.registered, run.runId);
    const runKeys = { ACI_RUN_ID: values.ACI_RUN_ID ?? "", ACI_FLEET: values.ACI_FLEET ?? "", once: values.once ?? "", expiresAt: values.expiresAt ?? "" };
    writeConfigMap(run.standby.configMapDir, runKeys);
    await harness.logMatching(run.name, /phase=claimed note=lifetime-started /);
    writeFileSync(children, "");
    writeConfigMap(run.standby.configMapDir, values);
    await harness.waitOnline(run.name);
    // The run's line comes after the listener's spawn, and after its date.
    const log = await harness.logMatching(run.name, /phase=run /);
    assert.ok(phaseLine(log, "claim", `run_id=${run.runId}`), log);
    assert.ok(phaseLine(log, "identity", "source=config-map"), log);
    // One date for the claim's line before the listener starts, one for the run's line after it.
    assert.deepEqual(readFileSync(children, "utf8").split("\n").filter(Boolean), ["date", "date"]);
    const agentDir = join(homeOf(log), "agent");
    for (const file of [".agent", ".credentials", ".credentials_rsaparams"]) assert.equal(statSync(join(agentDir, file)).mode & 0o777, 0o600, file);
  });

  it("a claim whose files land one by one, agentId first: it looks for the rest twenty times a second, not once a second, then comes online", async function () {
    const run = await standbyRun("azp-standby-settling", "311");
    await harness.start(run);
    const { registered } = await registerPrintedKey(run);
    const { agentId, ACI_RUN_ID, ACI_FLEET, once, expiresAt, ...rest } = claimValues(registered, run.runId);
    // As the step does it: the claim brings the run's keys; its completion the rest.
    writeConfigMap(run.standby.configMapDir, { ACI_RUN_ID: ACI_RUN_ID ?? "", ACI_FLEET: ACI_FLEET ?? "", once: once ?? "", expiresAt: expiresAt ?? "" });
    await harness.logMatching(run.name, /phase=claimed /);
    writeConfigMap(run.standby.configMapDir, { agentId: agentId ?? "" });
    const settling = await harness.logMatching(run.name, /note=keys-pending /);
    assert.match(settling, /phase=claim-wait note=keys-pending key=agentId every=0\.05s absent=agentName,poolId,poolName,serverUrl,clientId,authorizationUrl,oauthEndpointUrl\n/);
    writeConfigMap(run.standby.configMapDir, rest);
    await harness.waitOnline(run.name);
  });

  it("a config map with agentId but without the other keys: exit 10 naming them", async function () {
    const run = await standbyRun("azp-standby-partial", "304");
    await harness.start(run);
    await harness.logMatching(run.name, /phase=claim-wait /);
    writeConfigMap(run.standby.configMapDir, { agentId: "78", agentName: run.name });
    assert.equal(await harness.exitCode(run.name, 30_000), 10);
    const log = await harness.logs(run.name);
    assert.match(log, /error: phase=claim-wait the config map in \S+ has agentId but not: poolId poolName serverUrl clientId authorizationUrl oauthEndpointUrl .*exit=10/);
    assert.equal(await harness.agentStatus(run.name), undefined);
  });

  it("claimed, with a claim never completed (its step killed before the registration): it stops itself at the claim's expiresAt, exit 0, no agent", async function () {
    const run = await standbyRun("azp-standby-orphan", "310");
    await harness.start(run);
    await harness.logMatching(run.name, /phase=claim-wait /);
    // A config map's files may change one by one: expiresAt lands after the container saw itself claimed.
    writeConfigMap(run.standby.configMapDir, { ACI_RUN_ID: run.runId, ACI_FLEET: `azp-${run.runId}`, once: "true" });
    await harness.logMatching(run.name, /phase=claimed /);
    const expiresAt = isoIn(6);
    writeConfigMap(run.standby.configMapDir, { expiresAt });
    const log = await endedAtExpiry(run, expiresAt);
    assert.ok(phaseLine(log, "lifetime", `result=reached expires_at=${expiresAt}`), log);
    assert.equal(phaseLine(log, "run"), undefined, log);
    assert.equal(await harness.agentStatus(run.name), undefined);
  });

  it("expiresAt of the claim: the listener is stopped then and the container exits 0", async function () {
    const run = await standbyRun("azp-standby-expiring", "305");
    await harness.start(run);
    const expiresAt = isoIn(8);
    await claim(run, { once: "false", expiresAt });
    await harness.waitOnline(run.name);
    const log = await endedAtExpiry(run, expiresAt);
    assert.ok(phaseLine(log, "claim", `once=false expires_at=${expiresAt}`), log);
    assert.ok(phaseLine(log, "run", "once=false"), log);
  });

  it("deleting the agent's registration ends the claimed container with exit 0, as on the identity path", async function () {
    const run = await standbyRun("azp-standby-deleted", "306", { restartPolicy: "OnFailure" });
    await harness.start(run);
    const { agent } = await claim(run, { once: "false" });
    await harness.waitOnline(run.name);
    const pool = await poolId(emulator().info);
    const deleted = await devops(emulator().info, "DELETE", `_apis/distributedtask/pools/${pool}/agents/${agent.id}`);
    assert.equal(deleted.status, 204, deleted.text);
    const code = await harness.exitCode(run.name, 60_000);
    const log = await harness.logs(run.name);
    assert.equal(code, 0, log);
    assert.ok(phaseLine(log, "exit", "code=0 reason='the agent registration is gone'"), log);
    assert.equal(await harness.restartCount(run.name), 0, log);
  });

  it("restarted after its claim with its key file still there: the same key, online again as the same agent without the startup script", async function () {
    const run = await standbyRun("azp-standby-restart", "307", { restartPolicy: "OnFailure", startupScript: "echo STANDBY-STARTUP-RAN" });
    await harness.start(run);
    const { agent } = await claim(run, { once: "false" });
    await harness.waitOnline(run.name);
    const first = await harness.logs(run.name);
    const main = Number(/phase=start elapsed=\d+s pid=(\d+)/.exec(first)?.[1]);
    assert.ok(main > 1, first);
    process.kill(main, "SIGTERM");
    await eventually("the container to be restarted", async () => ((await harness.restartCount(run.name)) >= 1 ? true : undefined), 30_000);
    await eventually("the restarted agent to come online", async () => ((await harness.sessionsCreated(run.name)).length >= 2 ? true : undefined), 30_000)
      .catch(async (error: unknown) => { throw new Error(`${String(error)}\n${await harness.logs(run.name)}`); });
    const log = await harness.logs(run.name);
    assert.ok(phaseLine(log, "key", "result=reused reason=claimed-before-this-start"), log);
    const keyLines = [...new Set(log.split("\n").filter((line) => line.startsWith("aci-agent-public-key ")))];
    assert.equal(keyLines.length, 1, "the restarted container printed another key");
    assert.equal(log.split("\n").filter((line) => line.includes("STANDBY-STARTUP-RAN")).length, 1, "the startup script ran again");
    assert.equal((await harness.agentJson(run.name))?.id, agent.id);
    await harness.client.containerGroups.stop(emulator().info.resourceGroup, run.name);
    assert.equal(await harness.exitCode(run.name), 143);
  });

  it("the startup script and a token given as well are in no process, file or log a job can read; no config map value is secret (secret hunt)", async function () {
    const info = emulator().info;
    const canary = `STANDBY-CANARY-${randomUUID()}`;
    const pat = ((await control(info, "POST", "/pats", {})).json as { pat: string }).pat;
    const run = await standbyRun("azp-standby-hunt", "308", {
      startupScript: `standby_secret='${canary}'\necho "standby startup script ran ($\{#standby_secret} characters)"`,
      extraEnvironment: [{ name: "AZP_TOKEN", secureValue: pat }],
    });
    await harness.start(run);
    await claim(run);
    const requestId = await harness.queueJob(run.runId, "secret hunt", secretHuntJob([canary, pat], run.name));
    assert.equal(await harness.jobResult(requestId, 120_000), "succeeded", await harness.logs(run.name));
    assert.equal(await harness.exitCode(run.name), 0);
    const log = await harness.logs(run.name);
    assert.match(log, /standby startup script ran \(\d+ characters\)/);
    assertHuntFoundNothing(huntReport(log), log, [canary, pat], /start\.sh/);
    const values = readdirSync(run.standby.configMapDir).map((key) => readFileSync(join(run.standby.configMapDir, key), "utf8")).join("\n");
    assert.ok(!values.includes(pat) && !values.includes(canary));
  });
});
