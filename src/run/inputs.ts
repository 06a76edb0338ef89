// The input rules both tasks share: which run the agents belong to, how they register, and the
// names of the resource group, pool and agents.
import {
  asIs,
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
import type { RunIdentity } from "./names";
import { MAX_TAG_VALUE_LENGTH, OWN_TAGS } from "./tags";

/** The longest a start step may wait for its agents (its timeoutMinutes input). */
export const MAX_TIMEOUT_MINUTES = 120;

const REGISTRATION_AUTHS = ["pat", "accessToken", "serviceConnection", "entraToken"] as const;

/**
 * How the steps authenticate to Azure DevOps to register, read and remove agents (no container
 * ever gets this credential). Only a PAT is an input; every other credential comes from the
 * pipeline or a service connection.
 */
export type Registration =
  | { auth: "pat"; token: string }
  /** The job's System.AccessToken. */
  | { auth: "accessToken" }
  /** URL and token of an "Azure Repos/Team Foundation Server" (externaltfs) service connection. */
  | { auth: "serviceConnection"; connection: string }
  /** A Microsoft Entra token for Azure DevOps, issued to the ARM connection's identity. */
  | { auth: "entraToken" };

/**
 * What an agent that registers itself (the token path: Windows images) configures itself with: a
 * PAT, System.AccessToken, a service connection's token or an Entra token, all `--auth pat`.
 */
export interface AgentCredential {
  kind: "token";
  token: string;
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

/** Removed with just-in-time registration: the step registers every agent, so no client secret needs to reach a container. */
const REMOVED_SERVICE_PRINCIPAL = "servicePrincipal";

export function registration(read: InputReader): Parsed<Registration> {
  if (read.get("registrationAuth")?.trim().toLowerCase() === REMOVED_SERVICE_PRINCIPAL.toLowerCase()) {
    return failed([
      "registrationAuth: servicePrincipal is no longer offered: the steps now register every agent themselves, so no client secret has to reach a container; use entraToken (the same service principal, through a Microsoft Entra token)",
    ]);
  }
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
    case "entraToken":
      return ok({ auth: auth.value });
    case "serviceConnection":
      return combine({
        auth: ok("serviceConnection" as const),
        connection: parseInput(
          read,
          "registrationConnection",
          required(asIs, "required when registrationAuth is serviceConnection; name an Azure Repos/Team Foundation Server service connection"),
        ),
      });
  }
}

/**
 * With accessToken the job's own token goes where organizationUrl points: only to the origin of
 * System.CollectionUri, the organization that issued it.
 */
export function registrationUrlProblems(registration: Registration | undefined, organizationUrl: string | undefined, collectionUri: string | undefined): string[] {
  if (registration?.auth !== "accessToken" || organizationUrl === undefined) return [];
  const issuer = nonEmpty(collectionUri);
  if (issuer === undefined || !URL.canParse(issuer)) {
    return ["registrationAuth: accessToken needs System.CollectionUri, to know where the job's token may be sent"];
  }
  const allowed = new URL(issuer).origin;
  if (new URL(organizationUrl).origin.toLowerCase() === allowed.toLowerCase()) return [];
  return [
    `organizationUrl: with registrationAuth accessToken the job's token is only sent to its own organization (${allowed}), not to ${new URL(organizationUrl).origin}; use another registrationAuth for another organization`,
  ];
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
