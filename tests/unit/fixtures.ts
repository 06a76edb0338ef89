// Shared pieces of the AciAgentStart and AciAgentStop unit tests: the pipeline variables of a
// typical run and the inputs every job of the design's example pipeline gives.
import { strict as assert } from "node:assert";
import { InputError } from "../../src/core/errors";
import type { InputReader, PipelineVariables } from "../../src/core/inputSource";

export const PROJECT_ID = "6c5b2f9e-1f2a-4e0b-9a55-0d7e8c3b1a42";
export const RUN_ID = "1234";

export const BUILD_VARIABLES: Readonly<PipelineVariables> = {
  buildId: RUN_ID,
  jobAttempt: "1",
  collectionUri: "https://dev.azure.com/contoso/",
  teamProjectId: PROJECT_ID,
  teamProject: "Platform",
};

/** The inputs of the design's example pipeline, registering agents with `pat`. */
export function requiredInputs(pat: string): Readonly<Record<string, string>> {
  return {
    azureSubscription: "9f0c3c1e-arm-connection",
    resourceGroup: "ci-agents",
    pool: "aci",
    registrationToken: pat,
  };
}

export function readerOf(inputs: Readonly<Record<string, string>>): InputReader {
  return { get: (name) => inputs[name] };
}

/**
 * A task's input parser bound to its required inputs: parses them with the given ones on top;
 * "" leaves an input unset.
 */
export function parserWith<Config>(
  parse: (reader: InputReader, vars: PipelineVariables) => Config,
  required: Readonly<Record<string, string>>,
): ConfigWith<Config> {
  return (inputs = {}, vars = BUILD_VARIABLES) => parse(readerOf({ ...required, ...inputs }), vars);
}

/** Parses a task's required inputs with the given ones on top (see parserWith). */
export type ConfigWith<Config> = (inputs?: Readonly<Record<string, string>>, vars?: PipelineVariables) => Config;

/** The problems the InputError of `configWith(inputs, vars)` lists; fails the test when it parses. */
export function inputProblems(configWith: ConfigWith<unknown>, inputs: Readonly<Record<string, string>>, vars: PipelineVariables = BUILD_VARIABLES): readonly string[] {
  try {
    configWith(inputs, vars);
  } catch (error) {
    if (error instanceof InputError) return error.problems;
    throw error;
  }
  assert.fail(`expected an InputError for ${JSON.stringify(inputs)}`);
}
