// The input rules both tasks share: which run the agents belong to, how they register, and the
// names of the resource group, pool and agents.
import {
  choice,
  combine,
  failed,
  invalid,
  nonEmpty,
  ok,
  parseInput,
  parseValue,
  required,
  secret,
  wholeNumber,
  withDefault,
  type InputReader,
  type Parsed,
  type PipelineVariables,
} from "../core/inputSource";
import { MAX_TAG_VALUE_LENGTH, OWN_TAGS } from "./tags";

const REGISTRATION_AUTHS = ["pat", "accessToken", "servicePrincipal", "entraToken"] as const;

/** How the agent registers in the pool; with accessToken the caller supplies System.AccessToken. */
export type Registration = { auth: "pat"; token: string } | { auth: "accessToken" };

export interface RunIdentity {
  /** Build.BuildId, or Release.ReleaseId in a classic release. */
  runId: string;
  attempt: number;
  projectId: string;
}

export function resourceGroupName(text: string): string {
  if (!(text.length <= 90 && /^[-\w.()\p{L}\p{N}]+$/u.test(text) && !text.endsWith("."))) {
    throw invalid(`'${text}' is not a resource group name (up to 90 letters, digits, '_', '-', '.', '(', ')', not ending in '.')`);
  }
  return text;
}

export function poolName(text: string): string {
  if (text.length > MAX_TAG_VALUE_LENGTH) {
    throw invalid(`longer than ${MAX_TAG_VALUE_LENGTH} characters, the limit of the ${OWN_TAGS.pool} tag that records it`);
  }
  return text;
}

const ACI_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function namePrefix(text: string): string {
  const prefix = text.toLowerCase();
  if (!ACI_NAME.test(prefix)) {
    throw invalid(`must be letters, digits and '-', starting and ending with a letter or digit, got '${text}'`);
  }
  return prefix;
}

export function registration(read: InputReader): Parsed<Registration> {
  const auth = parseInput(read, "registrationAuth", withDefault("pat", choice(REGISTRATION_AUTHS)));
  if (!auth.ok) {
    return auth;
  }
  switch (auth.value) {
    case "pat":
      return combine({
        auth: ok("pat" as const),
        token: parseInput(read, "registrationToken", required(secret, "required when registrationAuth is pat; pass a secret variable such as $(AZP_TOKEN)")),
      });
    case "accessToken":
      return ok({ auth: "accessToken" });
    case "servicePrincipal":
    case "entraToken":
      return failed([`registrationAuth: ${auth.value} is not supported yet; use pat or accessToken`]);
  }
}

export function runIdentity(vars: PipelineVariables): Parsed<RunIdentity> {
  const runIdDigits = required(wholeNumberText);
  const buildId = nonEmpty(vars.buildId);
  const releaseId = nonEmpty(vars.releaseId);
  // A classic release also sets Build.BuildId (its primary artifact's build), which its stages
  // and other releases share: the release's own id comes first.
  const runId =
    releaseId !== undefined
      ? parseValue("Release.ReleaseId", releaseId, runIdDigits)
      : buildId !== undefined
        ? parseValue("Build.BuildId", buildId, runIdDigits)
        : failed(["runId: neither Build.BuildId nor Release.ReleaseId is set; run the task in a build, YAML or release pipeline"]);
  return combine({
    runId,
    attempt: parseValue("System.JobAttempt", vars.jobAttempt, withDefault(1, wholeNumber(1))),
    projectId: parseValue(
      "System.TeamProjectId",
      nonEmpty(vars.teamProjectId) ?? vars.teamProject,
      required((text) => text.toLowerCase(), "not set; run the task in a pipeline"),
    ),
  });
}

function wholeNumberText(text: string): string {
  if (!/^\d+$/.test(text)) {
    throw invalid(`must be a whole number, got '${text}'`);
  }
  return text;
}
