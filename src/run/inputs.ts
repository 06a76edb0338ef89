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
import { MAX_TAG_VALUE_LENGTH, OWN_TAGS } from "./tags";

const REGISTRATION_AUTHS = ["pat", "accessToken", "serviceConnection", "entraToken", "servicePrincipal"] as const;

/**
 * How the agent registers in the pool, and how the tasks read and remove registrations. Only a
 * PAT is an input; every other credential comes from the pipeline or a service connection.
 */
export type Registration =
  | { auth: "pat"; token: string }
  /** The job's System.AccessToken. */
  | { auth: "accessToken" }
  /** URL and token of an "Azure Repos/Team Foundation Server" (externaltfs) service connection. */
  | { auth: "serviceConnection"; connection: string }
  /** A Microsoft Entra token for Azure DevOps, issued to the ARM connection's identity. */
  | { auth: "entraToken" }
  /** The agent's own `--auth SP` with the ARM connection's client secret. */
  | { auth: "servicePrincipal" };

/** What the agent configures itself with (the bootstrap forgets it before the first job). */
export type AgentCredential =
  /** A PAT, System.AccessToken, a service connection's token or an Entra token: all `--auth pat`. */
  | { kind: "token"; token: string }
  /** The agent's own `--auth SP`; the authority is the ARM connection's (sovereign clouds). */
  | { kind: "servicePrincipal"; tenantId: string; clientId: string; clientSecret: string; authorityHost: string };

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
    case "entraToken":
    case "servicePrincipal":
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
