// After apply: wait until the pool holds a running instance, the proof that its resource provider
// can create container groups from the profile. The provider acts with roles of its own, which a
// Contributor cannot grant; a pool without them never fills (Learn: "failing to create instances,
// or no instances appearing in the pool"). Its role assignments cannot be read without Microsoft
// Graph (ARM names principals by object id, the provider is known by its application's name), so the
// pool's own health is what is checked, and a refusal names the assignments to make.
import type { ArmResource, StandbyArmApi } from "../azure/standby";
import { Backoff, formatSeconds, type Clock } from "../core/clock";
import { POOL_API_VERSION } from "./resources";

/** The enterprise application the standby pool provider acts as (Learn, "Configure role permissions for standby pools"). */
export const STANDBY_PROVIDER_APPLICATION = "Standby Pool Resource Provider";

export interface RoleAssignment {
  role: string;
  scope: string;
}

/** The assignments the provider needs for a pool in `resourceGroup` whose instances join `subnetIds`. */
export function providerRoleAssignments(subscriptionId: string, resourceGroup: string, subnetIds: readonly string[]): RoleAssignment[] {
  const group = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
  const networks = [...new Set(subnetIds.map((id) => id.replace(/\/subnets\/[^/]+\/?$/i, "")))];
  return [
    { role: "Azure Container Instances Contributor", scope: group },
    { role: "Standby Container Group Pool Contributor", scope: group },
    ...networks.map((scope) => ({ role: "Network Contributor", scope })),
  ];
}

/** ARM's words for a principal refused an action (AuthorizationFailed, LinkedAuthorizationFailed). */
export function isPermissionProblem(message: string): boolean {
  return /AuthorizationFailed|does not have (authorization|permission)|not authorized|Forbidden/i.test(message);
}

export interface PoolHealth {
  running: number;
  creating: number;
  degraded: string | undefined;
}

/** The runtime view's counts and health (`status.code` HealthState/healthy or HealthState/degraded). */
export function poolHealth(view: ArmResource | undefined): PoolHealth {
  const properties = (view?.properties ?? {}) as {
    instanceCountSummary?: { instanceCountsByState?: { state?: unknown; count?: unknown }[] }[];
    status?: { code?: unknown; message?: unknown };
  };
  const count = (state: string) =>
    (properties.instanceCountSummary ?? [])
      .flatMap((summary) => summary.instanceCountsByState ?? [])
      .filter((entry) => String(entry.state).toLowerCase() === state)
      .reduce((sum, entry) => sum + (typeof entry.count === "number" ? entry.count : 0), 0);
  const code = typeof properties.status?.code === "string" ? properties.status.code : "";
  const message = typeof properties.status?.message === "string" ? properties.status.message : "the pool reports no reason";
  return { running: count("running"), creating: count("creating"), degraded: /degraded/i.test(code) ? message : undefined };
}

export interface ReadinessContext {
  arm: StandbyArmApi;
  poolId: string;
  poolName: string;
  resourceGroup: string;
  subnetIds: readonly string[];
  timeoutMinutes: number;
  clock: Clock;
  log: { info(message: string): void };
  signal: AbortSignal;
}

export class StandbyPoolNotReady extends Error {}

/**
 * How long the pool may stay degraded before the step gives up: a degraded pool pauses 30 s and
 * tries again (Learn, standby pool health), so a run right after the roles were granted still sees
 * it degraded for up to 30 s before its next try succeeds.
 */
export const DEGRADED_PATIENCE_MS = 45_000;

/** Reads the pool's runtime view until an instance runs; fails when the pool stays degraded, or at timeoutMinutes. */
export async function awaitRunningInstance(context: ReadinessContext): Promise<PoolHealth> {
  const { arm, clock, log, signal } = context;
  const startedAt = clock.now();
  const deadline = startedAt + context.timeoutMinutes * 60_000;
  const backoff = new Backoff(2_000, 10_000);
  let shown = "";
  let degradedSince: number | undefined;
  for (;;) {
    const health = poolHealth(await arm.get(`${context.poolId}/runtimeViews/latest`, POOL_API_VERSION, { signal }));
    if (health.running > 0) {
      log.info(`Standby pool ${context.poolName}: ${health.running} instance(s) running, ${health.creating} being created, after ${formatSeconds(clock.now() - startedAt)}: its resource provider creates container groups from the profile.`);
      return health;
    }
    degradedSince = health.degraded === undefined ? undefined : (degradedSince ?? clock.now());
    const progress = health.degraded === undefined ? `${health.creating} instance(s) being created, none running yet` : `degraded (${health.degraded}); it tries again every 30 seconds`;
    if (progress !== shown) {
      shown = progress;
      log.info(`Standby pool ${context.poolName}: ${progress}.`);
    }
    const wait = Math.min(backoff.next(), deadline - clock.now());
    if (health.degraded !== undefined && (clock.now() - (degradedSince ?? 0) >= DEGRADED_PATIENCE_MS || wait <= 0)) {
      throw new StandbyPoolNotReady(notReadyMessage(context, health.degraded));
    }
    if (wait <= 0) {
      throw new StandbyPoolNotReady(
        `no instance of standby pool '${context.poolName}' was running within timeoutMinutes (${context.timeoutMinutes}); ${health.creating} being created. A pool whose provider lacks roles never fills: ${assignmentsText(context)}. Its health and the SCGPoolExecutionLog table of its diagnostic settings tell more.`,
      );
    }
    await clock.sleep(wait, signal);
  }
}

function notReadyMessage(context: ReadinessContext, reason: string): string {
  const start = `standby pool '${context.poolName}' cannot create its containers (the pool is degraded: ${reason})`;
  if (!isPermissionProblem(reason)) return `${start}. It tries again every 30 seconds; fix the cause (quota, image, registry, subnet) and run this step again.`;
  return `${start}: its resource provider lacks roles. ${assignmentsText(context)}, then run this step again.`;
}

function assignmentsText(context: ReadinessContext): string {
  const assignments = providerRoleAssignments(context.arm.subscriptionId, context.resourceGroup, context.subnetIds).map((a) => `${a.role} on ${a.scope}`);
  return `Assign to the enterprise application '${STANDBY_PROVIDER_APPLICATION}' (a Contributor cannot; an Owner, User Access Administrator or Role Based Access Control Administrator can): ${assignments.join("; ")}`;
}
