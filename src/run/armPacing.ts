// How often a step reads ARM while it follows many container groups. Since 2024 ARM gives each
// principal a bucket of 250 reads per subscription, refilled at 25 a second (Microsoft Learn,
// "Request limits and throttling"); every operation poll and group read is one. A step keeps to
// about 10 reads a second, so that two fleets started at once with one service connection stay
// under the refill: small fleets poll as often as before, large ones less often in proportion.

/** Reads a second one step may spend following its container groups. */
export const ARM_READS_PER_SECOND = 10;
const fastestOperationPollMs = 2_000;
const fastestGroupReadMs = 10_000;
const slowestGroupReadMs = 20_000;

export interface ArmPacing {
  /** Between two polls of one create or delete operation. */
  operationPollMs: number;
  /** Between two reads of one container group whose agent is not online yet. */
  groupReadMs: number;
}

/** The pacing for a step that follows `groups` container groups at once. */
export function armPacing(groups: number): ArmPacing {
  const count = Math.max(1, groups);
  // Group reads show progress and find dead agents: they may slow down to 20 s; the operation
  // polls get the rest of the budget.
  const groupReadMs = Math.min(slowestGroupReadMs, Math.max(fastestGroupReadMs, count * 400));
  const pollsPerSecond = ARM_READS_PER_SECOND - (count * 1000) / groupReadMs;
  const operationPollMs = Math.max(fastestOperationPollMs, Math.ceil((count * 1000) / pollsPerSecond / 100) * 100);
  return { operationPollMs, groupReadMs };
}
