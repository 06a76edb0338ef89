import { fleetName, runTagValue, type RunIdentity } from "./names";

/** The tags this extension puts on every container group; the stop task finds groups by them. */
export const OWN_TAGS = {
  run: "aci-agents-run",
  fleet: "aci-agents-fleet",
  pool: "aci-agents-pool",
  agent: "aci-agents-agent",
  created: "aci-agents-created",
  expires: "aci-agents-expires",
} as const;

export const RESERVED_TAG_PREFIX = "aci-agents-";

/** ARM's limits per resource, the extension's own tags included. */
export const MAX_TAGS_PER_RESOURCE = 50;
export const MAX_TAG_NAME_LENGTH = 512;
export const MAX_TAG_VALUE_LENGTH = 256;

/**
 * `aci-agents-expires` of an agent without a lifetime limit (maxLifetimeMinutes 0). A word rather
 * than a far-future date, so the portal shows the truth; it parses as no date, and compares after
 * every ISO date as text, so an expiry check that reads it either way never deletes the agent.
 */
export const NEVER_EXPIRES = "never";

export interface TagConfig {
  organizationUrl: string;
  run: RunIdentity;
  namePrefix: string;
  pool: string;
  /** 0: no limit. */
  maxLifetimeMinutes: number;
  tags: Record<string, string>;
}

export function agentTags(config: TagConfig, agentName: string, now: Date): Record<string, string> {
  return {
    [OWN_TAGS.run]: runTagValue(config.organizationUrl, config.run.projectId, config.run.runId),
    [OWN_TAGS.fleet]: fleetName(config.namePrefix, config.run.runId),
    [OWN_TAGS.pool]: config.pool,
    [OWN_TAGS.agent]: agentName,
    [OWN_TAGS.created]: isoTimestamp(now),
    [OWN_TAGS.expires]: config.maxLifetimeMinutes === 0 ? NEVER_EXPIRES : isoTimestamp(addMinutes(now, config.maxLifetimeMinutes)),
    ...config.tags,
  };
}

function addMinutes(time: Date, minutes: number): Date {
  return new Date(time.getTime() + minutes * 60_000);
}

/** ISO 8601 in UTC to the second: `2026-03-01T10:00:00Z`. */
function isoTimestamp(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, "Z");
}
