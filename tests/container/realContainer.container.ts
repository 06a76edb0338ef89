// agent/start.sh and agent/Dockerfile in real containers: podman with runc on a Debian 12
// minbase root file system built with debootstrap, against the emulator on 127.0.0.1
// (`--network host`). Run as root with `npm run test:container` (CI: .ci/run); not part of
// `npm test`. The emulated agent is Node: the machine's node is mounted read-only.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bootstrapCommand } from "../../src/start/containerGroupSpec";
import { agentPackage, identityConfigMap, registerAgent, writeIdentity } from "../agent/identity";
import { assertHuntFoundNothing, assertHuntFoundOnlyItsOwn, encodingsOf, huntReport, secretHuntJob, type HuntReport } from "../agent/secretHunt";
import { control, devops, eventually, poolId, requestLog, useEmulator, type AgentJson, type EmulatorInfo } from "../helpers/emulator";

const repositoryRoot = resolve(__dirname, "..", "..");
const startScript = readFileSync(join(repositoryRoot, "agent", "start.sh"), "utf8");
const baseImage = "localhost/aci-agents-test/debian:bookworm-minbase";
/** The base plus the emulator's CA where ca-certificates picks it up once it is installed. */
const trustingImage = "localhost/aci-agents-test/debian:bookworm-minbase-emulator-ca";
const prebuiltImage = "localhost/aci-agents-test/azp-agent:emulated";
const caInImage = "/usr/local/share/ca-certificates/aci-emulator.crt";
/** Where AciAgentStart mounts the agent's files (an ACI secret volume, read-only). */
const identityMount = "/mnt/aci-agent-identity";
/** The container's name in a standby profile, and where ACI mounts its config map. */
const standbyContainer = "azp-agent";
const configMapMount = `/mnt/configmap/${standbyContainer}`;
/** `podman stop -t`: SIGTERM, then SIGKILL after this many seconds. */
const stopGraceSeconds = 30;

interface Result {
  code: number;
  output: string;
}

/** Runs a program without blocking this process: the emulator answers from the same event loop. */
function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("error", fail);
    child.once("close", (code) => { done({ code: code ?? 1, output }); });
  });
}

async function checked(file: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await run(file, args, env);
  assert.equal(result.code, 0, `${file} ${args.slice(0, 3).join(" ")} ... exited ${result.code}:\n${result.output}`);
  return result.output;
}

/** `phase=NAME elapsed=Ns` lines of start.sh, as "name Ns" with the seconds each phase took. */
function phaseTimes(log: string): string[] {
  const phases = [...log.matchAll(/\[aci-agent\] phase=(\S+) elapsed=(\d+)s/g)].map((m) => ({ name: m[1] ?? "", at: Number(m[2]) }));
  return phases.map((p, i) => `${p.name} at ${p.at}s (+${(phases[i + 1]?.at ?? p.at) - p.at}s)`);
}

const longJob = "trap 'echo \"job saw SIGTERM\"; exit 143' TERM\necho job started\nfor i in $(seq 1 1200); do sleep 0.1; done\necho job ran to the end";

describe("real containers (podman + runc, Debian 12 minbase): start.sh and the Dockerfile", function () {
  this.timeout(600_000);
  const emulator = useEmulator();
  const containers: string[] = [];
  const report: string[] = [];
  let scratch: string | undefined;

  before(async function () {
    assert.equal(process.getuid?.(), 0, "the container test needs root (podman with runc); CI runs it as root through .ci/run");
    const prepared = await run("sh", ["-c", "command -v podman && command -v runc && command -v debootstrap"]);
    assert.equal(prepared.code, 0, "podman, runc or debootstrap is missing: run tests/container/prepare-host.sh first (as .ci/run does)");
    scratch = mkdtempSync(join(tmpdir(), "aci-container-test-"));
    let started = Date.now();
    await checked(join(__dirname, "base-image.sh"), [baseImage]);
    report.push(`base image (debootstrap, cached after the first run): ${seconds(started)}`);
    started = Date.now();
    copyFileSync(emulator().info.caFile, join(scratch, "emulator-ca.crt"));
    writeFileSync(join(scratch, "Containerfile"), `FROM ${baseImage}\nCOPY emulator-ca.crt ${caInImage}\n`);
    await checked("podman", ["build", "--network", "host", "-q", "-t", trustingImage, "-f", join(scratch, "Containerfile"), scratch]);
    report.push(`base image + emulator CA: ${seconds(started)}`);
  });

  after(async function () {
    for (const name of containers) await run("podman", ["rm", "-f", "-t", "0", name]);
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    console.log(`\n    Phase times (issue 9):\n${report.map((line) => `      ${line}`).join("\n")}\n`);
  });

  /** podman run -d with the task's environment contract; the PAT travels in podman's environment, not its argv. */
  async function startContainer(name: string, runId: string, image: string, extra: string[], command: string[]): Promise<void> {
    const info = emulator().info;
    containers.push(name);
    await run("podman", ["rm", "-f", "-t", "0", name]);
    await checked(
      "podman",
      [
        "run", "-d", "--name", name, "--hostname", name, "--network", "host",
        "-e", `AZP_URL=${info.organizationUrl}`, "-e", `AZP_POOL=${info.pool}`, "-e", `AZP_AGENT_NAME=${name}`,
        "-e", "AZP_AUTH=PAT", "-e", "AZP_TOKEN", "-e", "AZP_ONCE=false", "-e", `ACI_RUN_ID=${runId}`,
        "-v", `${process.execPath}:/usr/local/bin/node:ro`,
        ...extra, image, ...command,
      ],
      { AZP_TOKEN: info.pat },
    );
  }

  /**
   * podman run -d with the identity path's contract, as AciAgentStart sets it: the agent's files on
   * a read-only mount, the package URL and hash; no token of any kind.
   */
  async function startIdentityContainer(name: string, runId: string, identityDir: string, options: { image?: string; startupScript?: string } = {}): Promise<void> {
    const info = emulator().info;
    const found = await agentPackage(info);
    containers.push(name);
    await run("podman", ["rm", "-f", "-t", "0", name]);
    // A prebuilt image brings its entrypoint; the bootstrap mode's command is the task's.
    const image = options.image ?? trustingImage;
    const command = options.image === undefined ? bootstrapCommand(startScript) : [];
    await checked(
      "podman",
      [
        "run", "-d", "--name", name, "--hostname", name, "--network", "host",
        "-v", `${identityDir}:${identityMount}:ro`,
        "-e", `AZP_IDENTITY_DIR=${identityMount}`,
        "-e", `AZP_AGENT_PACKAGE_URL=${found.downloadUrl}`, "-e", `AZP_AGENT_PACKAGE_SHA256=${found.hashValue}`,
        "-e", `AZP_URL=${info.organizationUrl}`, "-e", `AZP_POOL=${info.pool}`, "-e", `AZP_AGENT_NAME=${name}`,
        "-e", "AZP_ONCE=false", "-e", `ACI_RUN_ID=${runId}`, "-e", `ACI_FLEET=aci-ct-${runId}`,
        "-e", `NODE_EXTRA_CA_CERTS=${options.image === undefined ? caInImage : "/etc/ssl/certs/ca-certificates.crt"}`,
        ...(options.startupScript === undefined ? [] : ["-e", "AZP_STARTUP_SCRIPT"]),
        "-v", `${process.execPath}:/usr/local/bin/node:ro`,
        image, ...command,
      ],
      options.startupScript === undefined ? {} : { AZP_STARTUP_SCRIPT: options.startupScript },
    );
  }

  async function logs(name: string): Promise<string> {
    return (await run("podman", ["logs", name])).output;
  }

  async function agentStatus(info: EmulatorInfo, name: string): Promise<string | undefined> {
    const res = await devops(info, "GET", `_apis/distributedtask/pools/${await poolId(info)}/agents?agentName=${encodeURIComponent(name)}`);
    return (res.json as { value: { status: string }[] }).value[0]?.status;
  }

  /**
   * The attack job of issue 10 (tests/agent/secretHunt.job.js): reads every process, file and
   * memory region of the container and rewrites the agent's scripts; answers its report.
   */
  async function secretHunt(name: string, runId: string): Promise<HuntReport> {
    const info = emulator().info;
    const queued = await control(info, "POST", "/jobs", { pool: info.pool, demands: [`ACI_RUN_ID -equals ${runId}`], jobName: "secret hunt", script: secretHuntJob([info.pat], name) });
    assert.equal(queued.status, 201, queued.text);
    const requestId = (queued.json as { requestId: number }).requestId;
    const result = await eventually("the secret hunt to finish", async () => ((await control(info, "GET", `/jobs/${requestId}`)).json as { result?: string } | undefined)?.result, 120_000);
    assert.equal(result, "succeeded", await logs(name));
    return huntReport(await logs(name));
  }

  /**
   * Online, optionally something else first (`first`), one long job started, `podman stop` in the
   * middle of it: asserts and returns the log.
   */
  async function jobThenStop(name: string, runId: string, label: string, first?: () => Promise<void>): Promise<string> {
    const info = emulator().info;
    const started = Date.now();
    await eventually(`${name} to come online`, async () => ((await agentStatus(info, name)) === "online" ? true : undefined), 300_000)
      .catch(async (error: unknown) => { throw new Error(`${String(error)}\n${await logs(name)}`); });
    report.push(`${label}: container start to agent online ${seconds(started)}`);
    await first?.();
    const queued = await control(info, "POST", "/jobs", { pool: info.pool, demands: [`ACI_RUN_ID -equals ${runId}`], jobName: "long", script: longJob });
    assert.equal(queued.status, 201, queued.text);
    const requestId = (queued.json as { requestId: number }).requestId;
    await eventually("the job to start", async () => ((await logs(name)).includes("job started") ? true : undefined), 60_000);

    const stopping = Date.now();
    await checked("podman", ["stop", "-t", String(stopGraceSeconds), name]);
    const stopSeconds = (Date.now() - stopping) / 1000;
    report.push(`${label}: podman stop took ${stopSeconds.toFixed(1)} s (grace ${stopGraceSeconds} s)`);
    const exitCode = Number((await checked("podman", ["inspect", "-f", "{{.State.ExitCode}}", name])).trim());
    const log = await logs(name);
    report.push(`${label}: start.sh phases: ${phaseTimes(log).join(", ")}`);

    assert.equal(exitCode, 143, `exit ${exitCode}, not start.sh's 143 for SIGTERM (137 = killed at the end of the grace period)\n${log}`);
    assert.ok(stopSeconds < stopGraceSeconds, `the container did not end within its grace period\n${log}`);
    assert.match(log, /Received SIGTERM: shutting down/);
    assert.match(log, /job saw SIGTERM/);
    assert.doesNotMatch(log, /job ran to the end/);
    const job = await control(info, "GET", `/jobs/${requestId}`);
    assert.equal((job.json as { result?: string }).result, "canceled");
    // The container never deregisters itself (that would need the secret again): AciAgentStop does.
    assert.doesNotMatch(log, /phase=deregister/);
    assert.equal(await agentStatus(info, name), "offline");
    return log;
  }

  it("bootstrap: start.sh as PID 1 installs what minbase lacks with apt, downloads, configures, runs; a job finds no trace of the PAT; a stop cancels the job in time", async function () {
    const name = `aci-ct-bootstrap-${process.pid}`;
    await startContainer(name, "301", trustingImage, ["-e", `NODE_EXTRA_CA_CERTS=${caInImage}`], bootstrapCommand(startScript));
    let hunt: HuntReport | undefined;
    const log = await jobThenStop(name, "301", "bootstrap", async () => {
      const started = Date.now();
      hunt = await secretHunt(name, "301");
      const memory = hunt.processes.reduce((sum, p) => sum + p.memory.bytes, 0);
      report.push(`bootstrap: secret hunt ${seconds(started)}: ${hunt.processes.length} processes, ${(memory / 1048576).toFixed(0)} MiB of memory, ${hunt.filesRead} files, ${hunt.rewritten.length} scripts rewritten`);
      assertHuntFoundNothing(hunt, await logs(name), [emulator().info.pat], /start\.sh/);
    });
    assert.ok(hunt !== undefined);
    assert.equal(hunt.root, 1, "the hunt did not start from PID 1");
    assertHuntFoundNothing(hunt, log, [emulator().info.pat], /start\.sh/);
    assert.match(log, /phase=start elapsed=\d+s pid=1 uid=0 /);
    assert.match(log, /phase=dependencies elapsed=\d+s result=installed packages='[^']*curl[^']*libicu72/);
    assert.match(log, /phase=extract elapsed=\d+s file=vsts-agent-linux-x64-[\d.]+\.tar\.gz sha256=verified/);
  });

  it("identity path: two agents in two containers from their files on a read-only mount, online without config.sh; a job on one finds only its own agent's key", async function () {
    const info = emulator().info;
    assert.ok(scratch !== undefined);
    const agents = [
      { name: `aci-ct-identity-a-${process.pid}`, runId: "303" },
      { name: `aci-ct-identity-b-${process.pid}`, runId: "304" },
    ];
    const identities: Awaited<ReturnType<typeof writeIdentity>>[] = [];
    for (const agent of agents) identities.push(await writeIdentity(info, scratch, agent.name));
    const [a, b] = identities;
    assert.ok(a !== undefined && b !== undefined);
    const started = Date.now();
    // The startup script may carry credentials (a secure value): a canary in it must stay out of the job's reach too.
    const canary = `startup-canary-${process.pid}-${Date.now()}`;
    await Promise.all(agents.map((agent, index) => startIdentityContainer(agent.name, agent.runId, identities[index]?.dir ?? "", { startupScript: `CANARY='${canary}'; echo "startup script ran"` })));
    for (const agent of agents) {
      await eventually(`${agent.name} to come online`, async () => ((await agentStatus(info, agent.name)) === "online" ? true : undefined), 300_000)
        .catch(async (error: unknown) => { throw new Error(`${String(error)}\n${await logs(agent.name)}`); });
    }
    report.push(`identity: two containers started to both agents online ${seconds(started)}`);

    const [first, second] = agents;
    assert.ok(first !== undefined && second !== undefined);
    // The other agent's key and the PAT that registered both must stay out of reach; its own
    // agent's key (a.key) the job must find, in the agent folder.
    const foreign = [b.key.parameters.d, info.pat, canary];
    const queued = await control(info, "POST", "/jobs", { pool: info.pool, demands: [`ACI_RUN_ID -equals ${first.runId}`], jobName: "secret hunt", script: secretHuntJob([...foreign, a.key.parameters.d], first.name) });
    assert.equal(queued.status, 201, queued.text);
    const requestId = (queued.json as { requestId: number }).requestId;
    const result = await eventually("the secret hunt to finish", async () => ((await control(info, "GET", `/jobs/${requestId}`)).json as { result?: string } | undefined)?.result, 120_000);
    assert.equal(result, "succeeded", await logs(first.name));
    const hunt = huntReport(await logs(first.name));
    assert.equal(hunt.root, 1, "the hunt did not start from PID 1");
    assertHuntFoundOnlyItsOwn(hunt, await logs(first.name), foreign, 1, /start\.sh/);

    for (const [index, agent] of agents.entries()) {
      await checked("podman", ["stop", "-t", String(stopGraceSeconds), agent.name]);
      const exitCode = Number((await checked("podman", ["inspect", "-f", "{{.State.ExitCode}}", agent.name])).trim());
      const log = await logs(agent.name);
      report.push(`identity ${agent.name}: start.sh phases: ${phaseTimes(log).join(", ")}`);
      assert.equal(exitCode, 143, log);
      assert.match(log, /phase=start elapsed=\d+s pid=1 uid=0 /);
      assert.match(log, /phase=secrets elapsed=\d+s source=identity /);
      assert.match(log, /phase=dependencies elapsed=\d+s result=installed packages='[^']*curl/);
      assert.match(log, /phase=extract elapsed=\d+s file=vsts-agent-linux-x64-[\d.]+\.tar\.gz sha256=verified/);
      assert.match(log, new RegExp(`phase=identity elapsed=\\d+s dir=${identityMount} agent_id=${identities[index]?.agent.id ?? -1}\\b`));
      assert.doesNotMatch(log, /phase=configure|Successfully added the agent|Settings Saved/, "config.sh ran");
      assert.match(log, /Received SIGTERM: shutting down/);
    }
  });

  it("standby: run as a standby pool runs it, it prepares, prints its key once and waits unregistered; registered from outside and claimed through its read-only config map, it comes online; a job finds neither the PAT nor the startup script's canary", async function () {
    const info = emulator().info;
    assert.ok(scratch !== undefined);
    const name = `aci-ct-standby-${process.pid}`;
    const runId = "306";
    const found = await agentPackage(info);
    // The config map's folder on the host, empty until the claim, mounted read-only as ACI mounts it.
    const configMapDir = join(scratch, `configmap-${name}`);
    mkdirSync(configMapDir, { mode: 0o755 });
    const canary = `standby-canary-${process.pid}-${Date.now()}`;
    containers.push(name);
    await run("podman", ["rm", "-f", "-t", "0", name]);
    const started = Date.now();
    // The profile's container: the bootstrap command, nothing of any run, the startup script a secure value.
    await checked(
      "podman",
      [
        "run", "-d", "--name", name, "--hostname", name, "--network", "host",
        "-v", `${configMapDir}:${configMapMount}:ro`,
        "-e", "AZP_STANDBY=true", "-e", `AZP_CONTAINER_NAME=${standbyContainer}`,
        "-e", `AZP_AGENT_PACKAGE_URL=${found.downloadUrl}`, "-e", `AZP_AGENT_PACKAGE_SHA256=${found.hashValue}`,
        "-e", "AZP_WORK=_work", "-e", "AZP_STARTUP_SCRIPT",
        "-e", `NODE_EXTRA_CA_CERTS=${caInImage}`,
        "-v", `${process.execPath}:/usr/local/bin/node:ro`,
        trustingImage, ...bootstrapCommand(startScript),
      ],
      { AZP_STARTUP_SCRIPT: `CANARY='${canary}'; echo "standby startup script ran"` },
    );

    // Prepared and waiting: one key line, then nothing asks Azure DevOps for anything of a run.
    const waiting = await eventually("the standby container to wait for its claim", async () => {
      const log = await logs(name);
      return /phase=claim-wait /.test(log) ? log : undefined;
    }, 300_000).catch(async (error: unknown) => { throw new Error(`${String(error)}\n${await logs(name)}`); });
    report.push(`standby: container start to waiting for the claim ${seconds(started)}`);
    assert.match(waiting, /phase=setup elapsed=\d+s mode=standby container=azp-agent configmap=\/mnt\/configmap\/azp-agent /);
    assert.match(waiting, /phase=dependencies elapsed=\d+s result=installed packages='[^']*openssl/);
    assert.match(waiting, /phase=extract elapsed=\d+s file=vsts-agent-linux-x64-[\d.]+\.tar\.gz sha256=verified/);
    assert.match(waiting, /standby startup script ran/);
    const keyLines = [...waiting.matchAll(/^aci-agent-public-key exponent=(\S+) modulus=(\S+)$/gm)];
    assert.equal(keyLines.length, 1, waiting);
    const publicKey = { exponent: keyLines[0]?.[1] ?? "", modulus: keyLines[0]?.[2] ?? "" };
    assert.equal(publicKey.exponent, "AQAB");
    assert.equal(Buffer.from(publicKey.modulus, "base64").length, 256, "not a 2048-bit modulus");
    await new Promise((done) => setTimeout(done, 5000));
    const requests = async (): Promise<string[]> => (await requestLog(info)).map((entry) => `${entry.method} ${entry.url.split("?")[0] ?? ""}`);
    const ofARun = (request: string): boolean => /^POST .*\/agents$|\/sessions/.test(request);
    const beforeClaim = await requests();
    assert.deepEqual(beforeClaim.filter(ofARun), [], `a standby container registered or opened a session before its claim:\n${beforeClaim.join("\n")}`);
    assert.equal(await agentStatus(info, name), undefined, "an agent of that name exists before the claim");
    assert.equal([...(await logs(name)).matchAll(/^aci-agent-public-key /gm)].length, 1, "the key line was printed again");

    // The claim, carrying the run's keys as AciAgentStart's does; then the agent registered with the
    // printed key, then the whole config map in one update.
    const claimed = Date.now();
    const runValues: Record<string, string> = {
      ACI_RUN_ID: runId,
      ACI_FLEET: `aci-ct-${runId}`,
      once: "false",
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    };
    // Each file written aside (same file system), then renamed in: no half-written value is ever seen.
    const staging = mkdtempSync(join(scratch, "configmap-staging-"));
    const writeConfigMap = (entries: Record<string, string>): void => {
      for (const [key, value] of Object.entries(entries)) writeFileSync(join(staging, key), value, { mode: 0o644 });
      for (const key of Object.keys(entries)) renameSync(join(staging, key), join(configMapDir, key));
    };
    writeConfigMap(runValues);
    await eventually("the standby container to see its claim", async () => (/phase=claimed .*key=ACI_RUN_ID every=0\.05s/.test(await logs(name)) ? true : undefined), 30_000)
      .catch(async (error: unknown) => { throw new Error(`${String(error)}\n${await logs(name)}`); });
    const { agent, registered } = await registerAgent(info, name, publicKey);
    const values: Record<string, string> = { ...identityConfigMap(registered), ...runValues };
    const secrets = [info.pat, canary];
    for (const [key, value] of Object.entries(values)) {
      for (const [index, secret] of secrets.entries()) assert.ok(!value.includes(secret), `the config map key ${key} holds secret #${index}`);
    }
    writeConfigMap(values);
    assert.deepEqual(readdirSync(configMapDir).sort(), Object.keys(values).sort());
    await eventually(`${name} to come online`, async () => ((await agentStatus(info, name)) === "online" ? true : undefined), 120_000)
      .catch(async (error: unknown) => { throw new Error(`${String(error)}\n${await logs(name)}`); });
    report.push(`standby: registration + config map to agent online ${seconds(claimed)}`);
    // The same filter sees the registration and the session now (it is not blind).
    const afterClaim = (await requests()).filter(ofARun);
    assert.ok(afterClaim.some((r) => r.startsWith("POST ") && r.endsWith("/agents")) && afterClaim.some((r) => r.includes("/sessions")), afterClaim.join("\n"));
    const claimedLog = await logs(name);
    assert.match(claimedLog, new RegExp(`phase=claim elapsed=\\d+s agent_id=${agent.id} agent=${name} pool_id=${registered.poolId} run_id=${runId} fleet=aci-ct-${runId} once=false `));
    assert.doesNotMatch(claimedLog, /phase=configure|Successfully added the agent|Settings Saved/, "config.sh ran");

    // The secret hunt: the PAT that registered it and the startup script's canary stay out of reach.
    const huntStarted = Date.now();
    const queued = await control(info, "POST", "/jobs", { pool: info.pool, demands: [`ACI_RUN_ID -equals ${runId}`], jobName: "secret hunt", script: secretHuntJob(secrets, name) });
    assert.equal(queued.status, 201, queued.text);
    const requestId = (queued.json as { requestId: number }).requestId;
    const result = await eventually("the secret hunt to finish", async () => ((await control(info, "GET", `/jobs/${requestId}`)).json as { result?: string } | undefined)?.result, 120_000);
    assert.equal(result, "succeeded", await logs(name));
    const hunt = huntReport(await logs(name));
    report.push(`standby: secret hunt ${seconds(huntStarted)}: ${hunt.processes.length} processes, ${hunt.filesRead} files`);
    assert.equal(hunt.root, 1, "the hunt did not start from PID 1");
    assertHuntFoundNothing(hunt, await logs(name), secrets, /start\.sh/);

    // Nor in what the agent reports of its environment (its capabilities).
    const res = await devops(info, "GET", `_apis/distributedtask/pools/${registered.poolId}/agents?agentName=${encodeURIComponent(name)}&includeCapabilities=true`);
    const capabilities = (res.json as { value: AgentJson[] }).value[0]?.systemCapabilities ?? {};
    assert.equal(capabilities.ACI_RUN_ID, runId, JSON.stringify(capabilities));
    for (const [key, value] of Object.entries(capabilities)) {
      for (const [index, secret] of secrets.entries()) {
        for (const { name: encoding, text } of encodingsOf(secret)) assert.ok(!value.includes(text), `the capability ${key} holds secret #${index} (${encoding})`);
      }
    }

    await checked("podman", ["stop", "-t", String(stopGraceSeconds), name]);
    const exitCode = Number((await checked("podman", ["inspect", "-f", "{{.State.ExitCode}}", name])).trim());
    const log = await logs(name);
    report.push(`standby: start.sh phases: ${phaseTimes(log).join(", ")}`);
    assert.equal(exitCode, 143, log);
    assert.match(log, /phase=start elapsed=\d+s pid=1 uid=0 /);
    assert.match(log, /Received SIGTERM: shutting down/);
    assert.equal([...log.matchAll(/^aci-agent-public-key /gm)].length, 1, "the key line was printed again");
    for (const [index, secret] of secrets.entries()) {
      for (const { name: encoding, text } of encodingsOf(secret)) assert.ok(!log.includes(text), `the container log holds secret #${index} (${encoding})`);
    }
  });

  it("prebuilt: agent/Dockerfile builds from the Debian 12 base and its image runs the agent the same way", async function () {
    const info = emulator().info;
    const packages = await devops(info, "GET", "_apis/distributedtask/packages/agent?platform=linux-x64&top=1");
    const agentPackage = (packages.json as { value: { downloadUrl: string; hashValue: string }[] }).value[0];
    assert.ok(agentPackage !== undefined, packages.text);
    const started = Date.now();
    await checked("podman", [
      "build", "--network", "host", "-t", prebuiltImage,
      "--build-arg", `BASE_IMAGE=${trustingImage}`,
      "--build-arg", `AGENT_URL=${agentPackage.downloadUrl}`,
      "--build-arg", `AGENT_SHA256=${agentPackage.hashValue}`,
      "-f", join(repositoryRoot, "agent", "Dockerfile"), join(repositoryRoot, "agent"),
    ]);
    report.push(`prebuilt: podman build of agent/Dockerfile ${seconds(started)}`);

    const name = `aci-ct-prebuilt-${process.pid}`;
    await startContainer(name, "302", prebuiltImage, ["-e", "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"], []);
    const log = await jobThenStop(name, "302", "prebuilt");
    assert.match(log, /phase=start elapsed=\d+s pid=1 uid=10001 /);
    assert.match(log, /phase=dependencies elapsed=\d+s result=skipped reason=all-present/);
    assert.match(log, /phase=download elapsed=\d+s result=skipped reason=agent-already-in-image/);

    // The same image on the identity path: its agent's files on a read-only mount, no token, no config.sh.
    assert.ok(scratch !== undefined);
    const identityName = `aci-ct-prebuilt-identity-${process.pid}`;
    const identity = await writeIdentity(info, scratch, identityName);
    const identityStarted = Date.now();
    await startIdentityContainer(identityName, "305", identity.dir, { image: prebuiltImage });
    const identityLog = await jobThenStop(identityName, "305", "prebuilt identity");
    report.push(`prebuilt identity: container start to stop ${seconds(identityStarted)}`);
    assert.match(identityLog, /phase=start elapsed=\d+s pid=1 uid=10001 /);
    assert.match(identityLog, /phase=download elapsed=\d+s result=skipped reason=agent-already-in-image/);
    assert.match(identityLog, new RegExp(`phase=identity elapsed=\\d+s dir=${identityMount} agent_id=${identity.agent.id}\\b`));
    assert.doesNotMatch(identityLog, /phase=configure|Successfully added the agent|Settings Saved/, "config.sh ran");
  });
});

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}
