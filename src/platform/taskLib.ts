/**
 * TaskPlatform over azure-pipelines-task-lib: the only module of the product that imports it.
 *
 * It imports "azure-pipelines-task-lib/task" (not the package root) because that is the module
 * name task-lib's TaskMockRunner replaces in L0 tests. Importing task-lib loads the job's inputs,
 * endpoints and secret variables into its in-process vault and removes them from process.env,
 * so nothing else may read INPUT_* or ENDPOINT_* variables directly.
 */
import { existsSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import * as tl from "azure-pipelines-task-lib/task";
import { blankToUndefined, parseBool, requireValue, splitLines, splitValue } from "./inputValues";
import type { SetVariableOptions, TaskPlatform, TaskResult } from "./types";

const RESULTS: Record<TaskResult, tl.TaskResult> = {
  succeeded: tl.TaskResult.Succeeded,
  succeededWithIssues: tl.TaskResult.SucceededWithIssues,
  failed: tl.TaskResult.Failed,
};

/** task-lib echoes every value it reads as a debug line; this runs `read` with that echo dropped. */
function quietly<T>(read: () => T): T {
  const sink = new Writable({ write: (_chunk, _encoding, done) => { done(); } });
  tl.setStdStream(sink);
  try {
    return read();
  } finally {
    tl.setStdStream(process.stdout);
  }
}

/**
 * `entryDirectory` is the entry point's folder: the task folder (main.ts, unbundled) or its dist/
 * (the bundle). The task.json there or one up holds the messages that `loc` reads.
 */
export function createTaskPlatform(entryDirectory?: string): TaskPlatform {
  const taskJson = entryDirectory === undefined ? undefined : [join(entryDirectory, "task.json"), join(entryDirectory, "..", "task.json")].find((path) => existsSync(path));
  if (taskJson !== undefined) tl.setResourcePath(taskJson);
  const platform: TaskPlatform = {
    getInput(name, required) {
      return requireValue(name, blankToUndefined(tl.getInput(name, false)), required);
    },

    getSecretInput(name, required) {
      const value = platform.getQuietInput(name, required);
      if (value !== undefined) platform.setSecret(value);
      return value;
    },

    getQuietInput(name, required) {
      return requireValue(name, blankToUndefined(quietly(() => tl.getInput(name, false))), required);
    },

    getBoolInput(name, required) {
      return parseBool(name, platform.getInput(name, required));
    },

    getDelimitedInput(name, delimiter, required) {
      return splitValue(platform.getInput(name, required), delimiter);
    },

    getMultilineInput(name, required) {
      return splitLines(platform.getInput(name, required));
    },

    getVariable(name) {
      return blankToUndefined(tl.getVariable(name));
    },

    getEndpointUrl(connectionId) {
      return blankToUndefined(tl.getEndpointUrl(connectionId, true));
    },

    getEndpointAuthorizationScheme(connectionId) {
      return blankToUndefined(tl.getEndpointAuthorizationScheme(connectionId, true));
    },

    getEndpointAuthorizationParameter(connectionId, key) {
      // Quiet: the parameters include the client secret and the certificate.
      return blankToUndefined(quietly(() => tl.getEndpointAuthorizationParameter(connectionId, key, true)));
    },

    getEndpointDataParameter(connectionId, key) {
      return blankToUndefined(tl.getEndpointDataParameter(connectionId, key, true));
    },

    get tempDirectory() {
      return blankToUndefined(tl.getVariable("Agent.TempDirectory")) ?? os.tmpdir();
    },

    setSecret(value) {
      // task-lib refuses multi-line secrets; masking each line also covers a PEM certificate.
      for (const line of value.split(/\r?\n/)) {
        if (line.trim() !== "") tl.setSecret(line);
      }
    },

    setVariable(name, value, options: SetVariableOptions = {}) {
      tl.setVariable(name, value, options.isSecret ?? false, options.isOutput ?? false);
    },

    debug(message) {
      tl.debug(message);
    },

    info(message) {
      console.log(message);
    },

    infoExternal(text) {
      tl.writeExternalOutput(text.endsWith("\n") ? text : text + os.EOL, { source: "remote" });
    },

    warning(message) {
      tl.warning(message);
    },

    error(message) {
      tl.error(message);
    },

    setProgress(percent, text) {
      tl.setProgress(Math.max(0, Math.min(100, Math.round(percent))), text);
    },

    uploadSummary(path) {
      tl.uploadSummary(path);
    },

    uploadFile(path) {
      tl.uploadFile(path);
    },

    loc(key, ...args) {
      return tl.loc(key, ...args);
    },

    setResult(result, message) {
      tl.setResult(RESULTS[result], message);
    },
  };
  return platform;
}
