/**
 * An in-memory TaskPlatform for unit tests of the core: give it inputs, variables and service
 * connections, run the code under test, then look at what it recorded. Input values go through
 * the same rules as the real adapter (src/platform/inputValues.ts).
 */
import { readFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { format } from "node:util";
import { blankToUndefined, parseBool, requireValue, splitLines, splitValue } from "../../src/platform/inputValues";
import type { SetVariableOptions, TaskPlatform, TaskResult } from "../../src/platform/types";

export interface FakeEndpoint {
  url?: string;
  scheme?: string;
  /** Authorization parameters; keys match case-insensitively, as in task-lib. */
  auth?: Record<string, string>;
  /** Data parameters; keys match case-insensitively, as in task-lib. */
  data?: Record<string, string>;
}

export interface FakePlatformSetup {
  inputs?: Record<string, string>;
  /** Pipeline variables by name, e.g. { "Build.BuildId": "42" }; names match case-insensitively. */
  variables?: Record<string, string>;
  /** Service connections by id (the value of the connectedService input). */
  endpoints?: Record<string, FakeEndpoint>;
  tempDirectory?: string;
}

export type LogLevel = "debug" | "info" | "infoExternal" | "warning" | "error";

function lookup(record: Record<string, string> | undefined, key: string): string | undefined {
  if (record === undefined) return undefined;
  const wanted = key.toLowerCase();
  const found = Object.keys(record).find((candidate) => candidate.toLowerCase() === wanted);
  return found === undefined ? undefined : record[found];
}

/** The `messages` of both tasks' task.json (their keys do not overlap), as task-lib's loc reads them. */
const taskMessages: Record<string, string> = Object.assign(
  {},
  ...["AciAgentStartV1", "AciAgentStopV1"].map(
    (folder) => (JSON.parse(readFileSync(join(__dirname, "..", "..", "tasks", folder, "task.json"), "utf8")) as { messages?: Record<string, string> }).messages ?? {},
  ),
) as Record<string, string>;

export class FakePlatform implements TaskPlatform {
  readonly inputs: Record<string, string>;
  readonly variables: Record<string, string>;
  readonly endpoints: Record<string, FakeEndpoint>;
  readonly tempDirectory: string;

  /** Everything logged, in order. */
  readonly logs: { level: LogLevel; message: string }[] = [];
  readonly secrets: string[] = [];
  readonly setVariables: { name: string; value: string; options: SetVariableOptions }[] = [];
  readonly progress: { percent: number; text: string }[] = [];
  readonly summaries: string[] = [];
  readonly uploadedFiles: string[] = [];
  readonly results: { result: TaskResult; message: string }[] = [];

  constructor(setup: FakePlatformSetup = {}) {
    this.inputs = { ...setup.inputs };
    this.variables = { ...setup.variables };
    this.endpoints = { ...setup.endpoints };
    this.tempDirectory = setup.tempDirectory ?? os.tmpdir();
  }

  /** The one result the task set; throws unless setResult was called exactly once. */
  get result(): { result: TaskResult; message: string } {
    const [only, ...more] = this.results;
    if (only === undefined || more.length > 0) {
      throw new Error(`setResult was called ${this.results.length} times`);
    }
    return only;
  }

  /** The value of a variable set by the task (the last one wins), or undefined. */
  output(name: string): string | undefined {
    return this.setVariables.filter((variable) => variable.name === name).at(-1)?.value;
  }

  /** Logged messages of one level. */
  messages(level: LogLevel): string[] {
    return this.logs.filter((entry) => entry.level === level).map((entry) => entry.message);
  }

  getInput(name: string, required?: boolean): string | undefined {
    return requireValue(name, blankToUndefined(lookup(this.inputs, name)), required);
  }

  getQuietInput(name: string, required?: boolean): string | undefined {
    return requireValue(name, blankToUndefined(lookup(this.inputs, name)), required);
  }

  getSecretInput(name: string, required?: boolean): string | undefined {
    const value = this.getQuietInput(name, required);
    if (value !== undefined) this.setSecret(value);
    return value;
  }

  getBoolInput(name: string, required?: boolean): boolean {
    return parseBool(name, this.getInput(name, required));
  }

  getDelimitedInput(name: string, delimiter: string | RegExp, required?: boolean): string[] {
    return splitValue(this.getInput(name, required), delimiter);
  }

  getMultilineInput(name: string, required?: boolean): string[] {
    return splitLines(this.getInput(name, required));
  }

  getVariable(name: string): string | undefined {
    return blankToUndefined(lookup(this.variables, name));
  }

  getEndpointUrl(connectionId: string): string | undefined {
    return blankToUndefined(this.endpoints[connectionId]?.url);
  }

  getEndpointAuthorizationScheme(connectionId: string): string | undefined {
    return blankToUndefined(this.endpoints[connectionId]?.scheme);
  }

  getEndpointAuthorizationParameter(connectionId: string, key: string): string | undefined {
    return blankToUndefined(lookup(this.endpoints[connectionId]?.auth, key));
  }

  getEndpointDataParameter(connectionId: string, key: string): string | undefined {
    return blankToUndefined(lookup(this.endpoints[connectionId]?.data, key));
  }

  setSecret(value: string): void {
    for (const line of value.split(/\r?\n/)) {
      if (line.trim() !== "") this.secrets.push(line);
    }
  }

  setVariable(name: string, value: string, options: SetVariableOptions = {}): void {
    this.setVariables.push({ name, value, options });
  }

  debug(message: string): void {
    this.logs.push({ level: "debug", message });
  }

  info(message: string): void {
    this.logs.push({ level: "info", message });
  }

  infoExternal(text: string): void {
    this.logs.push({ level: "infoExternal", message: text });
  }

  warning(message: string): void {
    this.logs.push({ level: "warning", message });
  }

  error(message: string): void {
    this.logs.push({ level: "error", message });
  }

  setProgress(percent: number, text: string): void {
    this.progress.push({ percent, text });
  }

  uploadSummary(path: string): void {
    this.summaries.push(path);
  }

  uploadFile(path: string): void {
    this.uploadedFiles.push(path);
  }

  loc(key: string, ...args: (string | number)[]): string {
    const text = taskMessages[key];
    if (text === undefined) throw new Error(`no message ${key} in task.json`);
    return format(text, ...args);
  }

  setResult(result: TaskResult, message: string): void {
    this.results.push({ result, message });
  }

  /** Every secret that shows up anywhere in what the task logged or set as a plain variable. */
  leakedSecrets(): string[] {
    const visible = [
      ...this.logs.map((entry) => entry.message),
      ...this.setVariables.filter((variable) => variable.options.isSecret !== true).map((variable) => variable.value),
      ...this.results.map((entry) => entry.message),
    ];
    return this.secrets.filter((secret) => visible.some((text) => text.includes(secret)));
  }
}
