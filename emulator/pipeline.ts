// An emulated Azure Pipelines agent running one task step: the environment a real agent hands a
// Node task (INPUT_*, ENDPOINT_*, SYSTEM_* and friends, per pipeline-tasks.md), pointed at the
// emulator, and the task's bundle run as a child process with it.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { EmulatorInfo } from "./emulator";

export type ConnectionScheme = "secret" | "certificate" | "workloadIdentity" | "managedIdentity";

export interface StepOptions {
  /** Task inputs by name, as in YAML. `azureSubscription` is filled in. */
  inputs: Record<string, string>;
  /** How the ARM service connection authenticates (default: secret). */
  scheme?: ConnectionScheme;
  /** PEM with certificate and key, for scheme certificate. */
  certificatePem?: string;
  /** For scheme managedIdentity: a user-assigned identity's client id (else the system-assigned one). */
  msiClientId?: string;
  /** The connection's `environment`, e.g. AzureUSGovernment (default AzureCloud). */
  environment?: string;
  /** An "Azure Repos/Team Foundation Server" connection (externaltfs, scheme Token) to the organization. */
  tfsConnection?: { id: string; token: string };
  /** Build.BuildId; in a release, the build of its primary artifact (none without one). */
  buildId?: string;
  /** Runs the step in an agent job of a classic release's stage instead of a build. */
  release?: ReleaseStage;
  /** System.JobAttempt: 2 and up when a failed stage or job is rerun. */
  jobAttempt?: number;
  tempDirectory: string;
  /** Extra or replacement environment entries. */
  env?: Record<string, string>;
}

/** A stage (environment) of a classic release, as its agent job sees it. */
export interface ReleaseStage {
  releaseId: string;
  /** The stage in the release definition: the same in every release. */
  definitionEnvironmentId: number;
  environmentName: string;
  /** Release.AttemptNumber: how often this release has been deployed to this stage (default 1). */
  deploymentAttempt?: number;
}

export const serviceConnectionId = "5e3f0a1c-0000-4000-8000-00000000c0e1";

export function stepEnvironment(info: EmulatorInfo, options: StepOptions): Record<string, string> {
  const id = serviceConnectionId;
  const scheme = options.scheme ?? "secret";
  const parameters: Record<string, string> =
    scheme === "managedIdentity" ? { tenantid: info.tenantId } : { tenantid: info.tenantId, serviceprincipalid: info.clientId };
  if (scheme === "secret") {
    parameters.authenticationType = "spnKey";
    parameters.serviceprincipalkey = info.clientSecret;
  } else if (scheme === "certificate") {
    parameters.authenticationType = "spnCertificate";
    parameters.servicePrincipalCertificate = options.certificatePem ?? "";
  }
  const schemeName = { secret: "ServicePrincipal", certificate: "ServicePrincipal", workloadIdentity: "WorkloadIdentityFederation", managedIdentity: "ManagedServiceIdentity" }[scheme];
  const planId = randomUUID();
  const jobId = randomUUID();
  const hostType = options.release === undefined ? "build" : "release";
  const jobAttempt = String(options.jobAttempt ?? 1);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? options.tempDirectory,
    NODE_EXTRA_CA_CERTS: info.caFile,
    // The agent machine's instance metadata service, where Azure SDKs look for it besides 169.254.169.254.
    AZURE_POD_IDENTITY_AUTHORITY_HOST: info.imdsUrl,
    AGENT_TEMPDIRECTORY: options.tempDirectory,
    AGENT_VERSION: "4.264.2",
    ...(options.buildId === undefined ? {} : { BUILD_BUILDID: options.buildId }),
    ...(options.release === undefined ? {} : releaseVariables(info, options.release, jobAttempt)),
    SYSTEM_JOBATTEMPT: jobAttempt,
    SYSTEM_COLLECTIONURI: info.organizationUrl,
    SYSTEM_TEAMPROJECTID: info.projectId,
    SYSTEM_TEAMPROJECT: "emulated-project",
    SYSTEM_HOSTTYPE: hostType,
    SYSTEM_PLANID: planId,
    SYSTEM_JOBID: jobId,
    SYSTEM_OIDCREQUESTURI: `${info.organizationUrl}${info.projectId}/_apis/distributedtask/hubs/${hostType}/plans/${planId}/jobs/${jobId}/oidctoken`,
    ENDPOINT_URL_SYSTEMVSSCONNECTION: info.organizationUrl,
    ENDPOINT_AUTH_SYSTEMVSSCONNECTION: JSON.stringify({ parameters: { AccessToken: info.systemAccessToken }, scheme: "OAuth" }),
    ENDPOINT_AUTH_SCHEME_SYSTEMVSSCONNECTION: "OAuth",
    ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN: info.systemAccessToken,
    [`ENDPOINT_URL_${id}`]: info.armUrl,
    [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ parameters, scheme: schemeName }),
    [`ENDPOINT_AUTH_SCHEME_${id}`]: schemeName,
    [`ENDPOINT_DATA_${id}_SUBSCRIPTIONID`]: info.subscriptionId,
    [`ENDPOINT_DATA_${id}_ENVIRONMENT`]: options.environment ?? "AzureCloud",
    [`ENDPOINT_DATA_${id}_ACTIVEDIRECTORYAUTHORITY`]: `${info.authorityHost}/`,
    ...(options.msiClientId === undefined ? {} : { [`ENDPOINT_DATA_${id}_MSICLIENTID`]: options.msiClientId }),
  };
  for (const [key, value] of Object.entries(parameters)) env[`ENDPOINT_AUTH_PARAMETER_${id}_${key.toUpperCase()}`] = value;
  if (options.tfsConnection !== undefined) Object.assign(env, tfsConnectionEnvironment(info, options.tfsConnection.id, options.tfsConnection.token));
  for (const [name, value] of Object.entries({ azureSubscription: id, ...options.inputs })) {
    env[`INPUT_${name.replace(/[. ]/g, "_").toUpperCase()}`] = value;
  }
  return { ...env, ...options.env };
}

/** How the agent hands a Node task an externaltfs connection with a personal access token. */
function tfsConnectionEnvironment(info: EmulatorInfo, id: string, token: string): Record<string, string> {
  return {
    [`ENDPOINT_URL_${id}`]: info.organizationUrl,
    [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ parameters: { apitoken: token }, scheme: "Token" }),
    [`ENDPOINT_AUTH_SCHEME_${id}`]: "Token",
    [`ENDPOINT_AUTH_PARAMETER_${id}_APITOKEN`]: token,
  };
}

/**
 * What an agent job of a classic release's stage gets besides the system variables (names and
 * shapes as a real release agent job's variable dump shows them).
 */
function releaseVariables(info: EmulatorInfo, release: ReleaseStage, jobAttempt: string): Record<string, string> {
  const environmentId = `${release.releaseId}${String(release.definitionEnvironmentId).padStart(3, "0")}`;
  return {
    RELEASE_RELEASEID: release.releaseId,
    RELEASE_RELEASENAME: `Release-${release.releaseId}`,
    RELEASE_RELEASEURI: `vstfs:///ReleaseManagement/Release/${release.releaseId}`,
    RELEASE_DEFINITIONID: "1",
    RELEASE_DEFINITIONENVIRONMENTID: String(release.definitionEnvironmentId),
    RELEASE_ENVIRONMENTID: environmentId,
    RELEASE_ENVIRONMENTNAME: release.environmentName,
    RELEASE_ENVIRONMENTURI: `vstfs:///ReleaseManagement/Environment/${environmentId}`,
    RELEASE_ATTEMPTNUMBER: String(release.deploymentAttempt ?? 1),
    RELEASE_REASON: "Manual",
    SYSTEM_STAGENAME: `Stage_${info.projectId.replace(/-/g, "")}_${release.definitionEnvironmentId}_${release.deploymentAttempt ?? 1}`,
    SYSTEM_STAGEDISPLAYNAME: release.environmentName,
    SYSTEM_STAGEATTEMPT: "1",
    SYSTEM_PHASENAME: "Phase_1",
    SYSTEM_PHASEDISPLAYNAME: "Agent job",
    SYSTEM_PHASEATTEMPT: jobAttempt,
    SYSTEM_JOBNAME: "__default",
    SYSTEM_JOBDISPLAYNAME: "Agent job",
  };
}

export interface StepRun {
  exitCode: number | null;
  /** Every line the task printed, in order. */
  lines: string[];
  /** Output variables set with isOutput=true. */
  outputs: Record<string, string>;
  result: "Succeeded" | "SucceededWithIssues" | "Failed" | undefined;
  /** The task.complete message. */
  message: string;
  /** The signals the step was sent, with when. */
  signals: SentSignal[];
}

/**
 * How the agent cancels a step (microsoft/azure-pipelines-agent, src/Agent.Sdk/ProcessInvoker.cs:
 * `_defaultSigintTimeout` 7500 ms, `_defaultSigtermTimeout` 2500 ms; CancelAndKillProcessTree sends
 * SIGINT and waits that long for the process to exit, then SIGTERM, then kills it).
 */
export const agentCancel = { sigintTimeoutMs: 7500, sigtermTimeoutMs: 2500 };

export interface SentSignal {
  signal: NodeJS.Signals;
  /** Date.now() when it was sent. */
  at: number;
}

export interface RunningStep {
  done: Promise<StepRun>;
  /** Sends one signal now. */
  signal(name: NodeJS.Signals): void;
  /**
   * Cancels the step as the agent does: SIGINT; SIGTERM if it still runs 7.5 s later; SIGKILL if
   * it still runs 2.5 s after that. Resolves when the process has ended.
   */
  cancel(): Promise<StepRun>;
  /** Every signal sent to the step so far, in order (the same array as the run's `signals`). */
  signals: SentSignal[];
}

/** Runs a task's bundle (tasks/<folder>/dist/main.js) as the agent would: node, with the step environment. */
export function runStep(repositoryRoot: string, taskFolder: string, env: Record<string, string>, onLine?: (line: string) => void): RunningStep {
  const child = spawn(process.execPath, [join(repositoryRoot, "tasks", taskFolder, "dist", "main.js")], {
    cwd: env.AGENT_TEMPDIRECTORY,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let partial = "";
  const take = (chunk: Buffer) => {
    const text = partial + chunk.toString("utf8");
    const parts = text.split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      lines.push(line);
      onLine?.(line);
    }
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  const signals: SentSignal[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => { resolve(); }));
  const running = () => child.exitCode === null && child.signalCode === null;
  const send = (name: NodeJS.Signals): boolean => {
    if (!running()) return false;
    signals.push({ signal: name, at: Date.now() });
    child.kill(name);
    return true;
  };
  const exitsWithin = async (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(false); }, ms); });
    const exit = await Promise.race([exited.then(() => true), timeout]);
    clearTimeout(timer);
    return exit;
  };
  const done = new Promise<StepRun>((resolve) => {
    child.once("close", (exitCode) => {
      if (partial !== "") lines.push(partial);
      resolve({ exitCode, lines, signals, ...parseCommands(lines) });
    });
  });
  const cancel = async (): Promise<StepRun> => {
    if (send("SIGINT") && !(await exitsWithin(agentCancel.sigintTimeoutMs))) {
      if (send("SIGTERM") && !(await exitsWithin(agentCancel.sigtermTimeoutMs))) send("SIGKILL");
    }
    return done;
  };
  return { done, signal: (name) => { send(name); }, cancel, signals };
}

function parseCommands(lines: string[]): Pick<StepRun, "outputs" | "result" | "message"> {
  const outputs: Record<string, string> = {};
  let result: StepRun["result"];
  let message = "";
  for (const line of lines) {
    const variable = /^##vso\[task\.setvariable variable=([^;\]]+);([^\]]*)\](.*)$/.exec(line);
    if (variable?.[1] !== undefined && variable[2]?.includes("isOutput=true") === true) outputs[variable[1]] = unescape(variable[3] ?? "");
    const complete = /^##vso\[task\.complete result=([A-Za-z]+);?\](.*)$/.exec(line);
    if (complete !== null) {
      result = complete[1] as StepRun["result"];
      message = unescape(complete[2] ?? "");
    }
  }
  return { outputs, result, message };
}

/** Undoes the logging-command escaping of task-lib. */
function unescape(text: string): string {
  return text.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%5D/g, "]").replace(/%3B/g, ";").replace(/%AZP25/g, "%");
}
