/**
 * The agent variable that pins a job to its own run's agents: the agent reports every environment
 * variable as a capability, and the job demands this one with the run's id.
 */
export const RUN_ID_VARIABLE = "ACI_RUN_ID";

/**
 * The agent variable that pins a job to one fleet of its run: the agents one start step started.
 * A run may start several (parallel stages, a matrix, a classic release's stages).
 */
export const FLEET_VARIABLE = "ACI_FLEET";

/** The run a step belongs to. */
export interface RunIdentity {
  /** Build.BuildId, or Release.ReleaseId in a classic release. */
  runId: string;
  attempt: number;
  projectId: string;
}

/**
 * The one container of a standby profile: AciAgentStandbyPool@1 names it so, a claim's config map
 * is for it (ACI drops a config map for a container the group lacks), and its log has the key.
 */
export const STANDBY_CONTAINER = "azp-agent";

/** ACI's limit for container group and container names. */
export const MAX_NAME_LENGTH = 63;

/** `{prefix}-{runId}-{attempt}-{index}`, index counting from 1; also the container group name. */
export function agentName(prefix: string, runId: string, attempt: number, index: number): string {
  return `${prefix}-${runId}-${attempt}-${index}`;
}

export function agentNames(prefix: string, runId: string, attempt: number, count: number): string[] {
  return Array.from({ length: count }, (_, offset) => agentName(prefix, runId, attempt, offset + 1));
}

/**
 * Value of the `aci-agents-run` tag: `{organization}/{projectId}/{runId}`, lower case. The
 * organization is its short name on Azure DevOps Services, whichever URL form was configured
 * (dev.azure.com/{org} or {org}.visualstudio.com), so the start and stop tasks agree on it;
 * for any other server it is host and path. The project id rather than its name survives a rename.
 */
export function runTagValue(organizationUrl: string, projectId: string, runId: string): string {
  return `${organizationNameOf(organizationUrl)}/${projectId}/${runId}`.toLowerCase();
}

/** `{prefix}-{runId}`, lower case: the same for every attempt, so a rerun's jobs keep their demand. */
export function fleetName(prefix: string, runId: string): string {
  return `${prefix}-${runId}`.toLowerCase();
}

export function fleetDemand(fleet: string): string {
  return `${FLEET_VARIABLE} -equals ${fleet}`;
}

function organizationNameOf(organizationUrl: string): string {
  const url = new URL(organizationUrl);
  const pathSegments = url.pathname.split("/").filter((segment) => segment !== "");
  const [firstSegment] = pathSegments;
  if (url.hostname === "dev.azure.com" && firstSegment !== undefined) {
    return firstSegment;
  }
  const legacyName = /^([^.]+)\.visualstudio\.com$/.exec(url.hostname)?.[1];
  return legacyName ?? [url.host, ...pathSegments].join("/");
}
