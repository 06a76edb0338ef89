/**
 * What the tasks need from the pipeline agent, and nothing more. The core takes a
 * `TaskPlatform` and never imports azure-pipelines-task-lib; `createTaskPlatform()` in
 * ./taskLib.ts is the one implementation over task-lib, and tests use an in-memory fake.
 *
 * This file must stay free of task-lib imports so the core can depend on it.
 */

/** How the task ended. `succeededWithIssues` shows the step as partially succeeded. */
export type TaskResult = "succeeded" | "succeededWithIssues" | "failed";

export interface SetVariableOptions {
  /** Readable by later jobs and stages as `dependencies.<job>.outputs['<step>.<name>']`. */
  isOutput?: boolean;
  /** Masked in logs and not exposed to later steps as a plain environment variable. */
  isSecret?: boolean;
}

export interface TaskPlatform {
  /**
   * An input's value, trimmed. Returns `undefined` when the input is absent or blank; when
   * `required`, throws an Error naming the input instead.
   */
  getInput(name: string, required?: boolean): string | undefined;

  /**
   * Like getInput for a value that must never appear in a log (a PAT, a password): it is read
   * without task-lib's debug echo of input values and registered with setSecret at once.
   */
  getSecretInput(name: string, required?: boolean): string | undefined;

  /**
   * Like getInput, without task-lib's debug echo and without masking: for a value that may carry
   * a secret in part (a URL with user:password@); the caller masks that part.
   */
  getQuietInput(name: string, required?: boolean): string | undefined;

  /**
   * A boolean input: `true`/`false` in any case. Absent or blank gives `false` (or throws when
   * `required`); any other text throws an Error naming the input.
   */
  getBoolInput(name: string, required?: boolean): boolean;

  /** The input split on `delimiter`, each item trimmed, blank items dropped. Absent gives []. */
  getDelimitedInput(name: string, delimiter: string | RegExp, required?: boolean): string[];

  /** A multiLine input as its lines, each trimmed, blank lines dropped. Absent gives []. */
  getMultilineInput(name: string, required?: boolean): string[];

  /** A pipeline variable such as `Build.BuildId`, or `undefined` when unset or empty. */
  getVariable(name: string): string | undefined;

  /** The service connection's URL, e.g. the ARM endpoint of an AzureRM connection. */
  getEndpointUrl(connectionId: string): string | undefined;

  /** The connection's authorization scheme, e.g. `ServicePrincipal` or `WorkloadIdentityFederation`. */
  getEndpointAuthorizationScheme(connectionId: string): string | undefined;

  /** A connection authorization parameter such as `serviceprincipalid` (key case does not matter). */
  getEndpointAuthorizationParameter(connectionId: string, key: string): string | undefined;

  /** A connection data parameter such as `subscriptionId` or `environment`. */
  getEndpointDataParameter(connectionId: string, key: string): string | undefined;

  /** A directory for the task's own files (`Agent.TempDirectory`, else the OS temp dir). */
  readonly tempDirectory: string;

  /** Masks `value` wherever it would appear in the log from now on. No-op for an empty value. */
  setSecret(value: string): void;

  setVariable(name: string, value: string, options?: SetVariableOptions): void;

  /** Shown only when the run has `System.Debug` set. */
  debug(message: string): void;
  /** A plain line in the step's log. */
  info(message: string): void;
  /**
   * Text from outside the task (a container's log, a remote error body) written to the step's
   * log with every `##vso[` logging command in it neutralised, so it cannot act on the run.
   */
  infoExternal(text: string): void;
  /** A warning issue on the run. */
  warning(message: string): void;
  /** An error issue on the run (does not by itself fail the task). */
  error(message: string): void;

  /** Progress of the step shown in the run's timeline; `percent` is 0–100. */
  setProgress(percent: number, text: string): void;

  /** Attaches a Markdown file as a tab on the run's summary page. */
  uploadSummary(path: string): void;

  /** Attaches a file to the step's logs, downloadable with them. */
  uploadFile(path: string): void;

  /**
   * The task.json `messages` entry `key` with `%s`/`%d` filled from `args`, in the job's culture
   * when the task ships a translation (Strings/resources.resjson/<culture>), else in en-US.
   */
  loc(key: string, ...args: (string | number)[]): string;

  /** Ends the task. Call exactly once, last. A failed result also logs `message` as an error. */
  setResult(result: TaskResult, message: string): void;
}
