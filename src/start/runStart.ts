// AciAgentStart's core: pre-flight, create every container group, wait until every agent is
// online, and on any failure show why and remove what was created.
import type { ContainerGroup } from "@azure/arm-containerinstance";
import { AzureError, type AciApi, type GroupSnapshot } from "../azure/aci";
import { Backoff, formatSeconds, type Clock } from "../core/clock";
import { InputError } from "../core/errors";
import type { AgentPool } from "../devops/client";
import type { TaskPlatform } from "../platform/types";
import { containerGroupFor } from "./containerGroupSpec";
import { agentNames } from "../run/names";
import { namingRegistrationInput, type PoolApi } from "../run/pools";
import { agentTags } from "../run/tags";
import type { StartConfig } from "./inputs";

/** How often each container group's state is read while its agent is not online yet. */
const groupWatchIntervalMs = 10_000;
const logLinesShownOnFailure = 40;

export type StartLog = Pick<TaskPlatform, "info" | "warning" | "error" | "debug" | "infoExternal" | "setProgress">;

export interface StartServices {
  aci: AciApi;
  pools: PoolApi;
  log: StartLog;
  clock: Clock;
  /** Aborted when the pipeline cancels the step. */
  signal: AbortSignal;
  bootstrapScript: string;
  registrationToken: string;
}

export interface StartedAgent {
  name: string;
  location: string;
  /** Milliseconds from the step's start until ARM reported the group provisioned. */
  provisionedAfterMs: number | undefined;
  /** Milliseconds from the step's start until Azure DevOps showed the agent online. */
  onlineAfterMs: number | undefined;
}

export interface StartResult {
  agents: StartedAgent[];
  phases: { preflightMs: number; onlineMs: number; totalMs: number };
  requests: { arm: number; devops: number };
}

/** Ends the create operations' polling once every agent is online. */
class AllOnline extends Error {}

/** The step failed after pre-flight; what it created has been dealt with as the message says. */
export class StartFailure extends Error {
  override readonly name = "StartFailure";
}

interface AgentProgress extends StartedAgent {
  tags: Record<string, string>;
  /** A create request was accepted: the group may exist. */
  created: boolean;
  online: boolean;
  failure?: string;
  lastState?: string;
  seenEvents: Set<string>;
  lastWatchAt: number;
}

export async function runStart(config: StartConfig, services: StartServices): Promise<StartResult> {
  const { clock, log } = services;
  const startedAt = clock.now();
  const elapsed = () => clock.now() - startedAt;

  const names = agentNames(config.namePrefix, config.run.runId, config.run.attempt, config.agentCount);
  const { pool, location } = await preflight(config, services, names);
  const preflightMs = elapsed();
  log.info(`Pre-flight passed in ${formatSeconds(preflightMs)}: pool '${pool.name}' (id ${pool.id}), region ${location}.`);

  const now = new Date(clock.now());
  const agents: AgentProgress[] = names.map((name) => ({
    name,
    location,
    tags: agentTags(config, name, now),
    created: false,
    online: false,
    provisionedAfterMs: undefined,
    onlineAfterMs: undefined,
    seenEvents: new Set(),
    lastWatchAt: 0,
  }));
  log.info(`Starting ${agents.length} agent(s): ${agents.map((a) => a.name).join(", ")}`);

  const stop = new AbortController();
  const onCancel = () => { stop.abort(new StartFailure("The step was cancelled.")); };
  services.signal.addEventListener("abort", onCancel, { once: true });
  if (services.signal.aborted) onCancel();
  const deadline = startedAt + config.timeoutMinutes * 60_000;

  let creating: Promise<unknown> = Promise.resolve();
  try {
    creating = Promise.allSettled(agents.map(async (agent) => {
      try {
        await createWithFallback(config, services, agent, [location, ...config.fallbackLocations.filter((l) => l !== location)], stop.signal, elapsed);
      } catch (error) {
        if (!stop.signal.aborted) {
          agent.failure = describe(error);
          stop.abort(new StartFailure(`${agent.name}: ${agent.failure}`));
        }
        throw error;
      }
    }));
    await waitUntilOnline(config, services, pool, agents, stop, deadline, elapsed);
    // Every agent is online, so every group runs: the create operations need no more polling.
    stop.abort(new AllOnline());
    await creating;
  } catch (error) {
    if (!stop.signal.aborted) stop.abort(error);
    // A create request still in flight may yet make its group: let every one settle first.
    await creating;
    throw await failAndCleanUp(config, services, pool, agents, stop.signal.reason ?? error);
  } finally {
    services.signal.removeEventListener("abort", onCancel);
  }

  return {
    agents: agents.map(({ name, location: region, provisionedAfterMs, onlineAfterMs }) => ({ name, location: region, provisionedAfterMs, onlineAfterMs })),
    phases: { preflightMs, onlineMs: elapsed() - preflightMs, totalMs: elapsed() },
    requests: { arm: services.aci.requestCount, devops: services.pools.requestCount },
  };
}

/** Everything that can be checked before creating anything; failures name the input. */
async function preflight(config: StartConfig, services: StartServices, names: string[]): Promise<{ pool: AgentPool; location: string }> {
  const [pool, resourceGroupLocation, existing] = await Promise.all([
    services.pools.findPool(config.pool).catch((error: unknown) => {
      throw namingRegistrationInput(error, config.registration);
    }),
    services.aci.resourceGroupLocation(config.resourceGroup).catch((error: unknown) => {
      if (error instanceof AzureError && error.code === "ResourceGroupNotFound") {
        throw new InputError([`resourceGroup: the resource group '${config.resourceGroup}' does not exist in the service connection's subscription`]);
      }
      if (error instanceof AzureError && error.code === "AuthorizationFailed") {
        throw new InputError([`azureSubscription: the service connection may not read resource group '${config.resourceGroup}': ${error.message}`]);
      }
      throw error;
    }),
    // A missing resource group is reported by the read above.
    services.aci.list(config.resourceGroup).catch(() => []),
  ]);
  const taken = names.filter((name) => existing.some((group) => group.name.toLowerCase() === name));
  if (taken.length > 0) {
    throw new InputError([
      `namePrefix: ${taken.join(", ")} already exist${taken.length === 1 ? "s" : ""} in resource group '${config.resourceGroup}' (another start step of this run, or one kept by keepOnFailure); give each start step its own namePrefix, or remove them with AciAgentStop`,
    ]);
  }
  if (pool === undefined) {
    throw new InputError([`pool: there is no agent pool '${config.pool}' in ${config.organizationUrl} that the registering identity can see`]);
  }
  if (pool.isHosted) {
    throw new InputError([`pool: '${config.pool}' is a Microsoft-hosted pool; name a self-hosted pool`]);
  }
  if (!(await services.pools.canManagePool(pool.id))) {
    throw new InputError([
      `pool: the registering identity (registrationAuth: ${config.registration.auth}) lacks the Administrator role on pool '${pool.name}', which registering and removing agents need`,
    ]);
  }
  return { pool, location: config.location ?? resourceGroupLocation };
}

async function createWithFallback(
  config: StartConfig,
  services: StartServices,
  agent: AgentProgress,
  locations: string[],
  signal: AbortSignal,
  elapsed: () => number,
): Promise<void> {
  const { aci, log, clock } = services;
  for (const [attempt, location] of locations.entries()) {
    agent.location = location;
    const spec: ContainerGroup = containerGroupFor(config, agent, location, services.bootstrapScript, { registrationToken: services.registrationToken });
    try {
      signal.throwIfAborted();
      // From the request on, the group may exist: the SDK polls once before it returns, and a
      // create that already failed throws even though ARM accepted the PUT.
      agent.created = true;
      const operation = await aci.beginCreate(config.resourceGroup, spec, signal);
      // The agent coming online, not this operation, is what the step waits for: poll it gently,
      // only to learn early of a failure (such as no capacity) that needs another region.
      const backoff = new Backoff(2000, 10_000);
      while ((await operation.poll()) === "running") await clock.sleep(backoff.next(), signal);
      agent.provisionedAfterMs = elapsed();
      log.info(`${agent.name}: container group provisioned in ${location} after ${formatSeconds(elapsed())}`);
      return;
    } catch (error) {
      const next = locations[attempt + 1];
      if (!(error instanceof AzureError) || !isCapacityError(error) || next === undefined || signal.aborted) throw error;
      log.warning(`${agent.name}: no capacity in ${location} (${error.message}); trying ${next}`);
      await aci.delete(config.resourceGroup, agent.name);
      agent.created = false;
    }
  }
}

/** No capacity, or the region's quota used up: another region may still have room. */
export function isCapacityError(error: AzureError): boolean {
  return error.code === "ServiceUnavailable" || /not available in the location|quota .* exceeded in region/i.test(error.message);
}

async function waitUntilOnline(
  config: StartConfig,
  services: StartServices,
  pool: AgentPool,
  agents: AgentProgress[],
  stop: AbortController,
  deadline: number,
  elapsed: () => number,
): Promise<void> {
  const { clock, log } = services;
  const backoff = new Backoff(500, 1000);
  let reported = -1;
  for (;;) {
    stop.signal.throwIfAborted();
    if (clock.now() > deadline) {
      const missing = agents.filter((a) => !a.online).map((a) => a.name);
      throw new StartFailure(`${missing.length} of ${agents.length} agent(s) did not come online within ${config.timeoutMinutes} minute(s) (timeoutMinutes): ${missing.join(", ")}`);
    }
    const inPool = new Map((await services.pools.listAgents(pool.id)).map((a) => [a.name.toLowerCase(), a]));
    for (const agent of agents) {
      if (agent.online) continue;
      if (inPool.get(agent.name.toLowerCase())?.status === "online") {
        agent.online = true;
        agent.onlineAfterMs = elapsed();
        log.info(`${agent.name}: online in pool '${pool.name}' after ${formatSeconds(elapsed())}`);
      }
    }
    const online = agents.filter((a) => a.online).length;
    if (online !== reported) {
      reported = online;
      log.setProgress(Math.round((100 * online) / agents.length), `${online} of ${agents.length} agents online`);
    }
    if (online === agents.length) return;
    await watchGroups(config, services, agents, stop);
    await clock.sleep(backoff.next(), stop.signal);
  }
}

/** Reads the groups whose agents are not online yet, shows what changed, and fails dead ones. */
async function watchGroups(config: StartConfig, services: StartServices, agents: AgentProgress[], stop: AbortController): Promise<void> {
  const { aci, clock, log } = services;
  const due = agents.filter((a) => a.created && !a.online && clock.now() - a.lastWatchAt >= groupWatchIntervalMs);
  await Promise.all(
    due.map(async (agent) => {
      agent.lastWatchAt = clock.now();
      const group = await aci.get(config.resourceGroup, agent.name);
      // A group left in another region is on its way out while the next region is tried.
      if (group === undefined || group.location !== agent.location) return;
      for (const line of newEvents(agent, group)) log.info(`${agent.name}: ${line}`);
      const state = describeState(group);
      if (state !== agent.lastState) {
        agent.lastState = state;
        log.info(`${agent.name}: ${state}`);
      }
      // Until its create operation ends, a failure is that operation's to report.
      const dead = agent.provisionedAfterMs === undefined ? undefined : deadReason(group);
      if (dead !== undefined && !stop.signal.aborted) {
        agent.failure = dead;
        stop.abort(new StartFailure(`${agent.name}: ${dead}`));
      }
    }),
  );
}

function newEvents(agent: AgentProgress, group: GroupSnapshot): string[] {
  const events = [...group.events, ...group.containers.flatMap((c) => c.events)];
  const lines: string[] = [];
  for (const event of events) {
    const key = `${event.name}|${event.message}|${event.count}`;
    if (agent.seenEvents.has(key)) continue;
    agent.seenEvents.add(key);
    lines.push(`event ${event.name}${event.count > 1 ? ` (x${event.count})` : ""}: ${event.message}`);
  }
  return lines;
}

function describeState(group: GroupSnapshot): string {
  const container = group.containers[0];
  const parts = [`provisioning ${group.provisioningState}`, `group ${group.state ?? "unknown"}`];
  if (container?.state !== undefined) parts.push(`container ${container.state}${container.exitCode === undefined ? "" : ` (exit code ${container.exitCode})`}`);
  return parts.join(", ");
}

/** Why a group can no longer bring its agent online, if it cannot. */
export function deadReason(group: GroupSnapshot): string | undefined {
  const container = group.containers[0];
  if (group.provisioningState === "Failed") return "the container group failed to provision";
  if (container?.state === "Terminated" && container.restartCount === 0) {
    return `the container exited with code ${container.exitCode ?? "unknown"} before the agent came online`;
  }
  if (group.state === "Stopped") return "the container group was stopped";
  return undefined;
}

async function failAndCleanUp(
  config: StartConfig,
  services: StartServices,
  pool: AgentPool,
  agents: AgentProgress[],
  cause: unknown,
): Promise<Error> {
  const { aci, log } = services;
  // On cancel the agent allows only seconds before it kills the step: remove first, read nothing.
  const cancelled = services.signal.aborted;
  const created = agents.filter((a) => a.created);
  const troubled = cancelled ? [] : created.filter((a) => a.failure !== undefined || !a.online);
  for (const agent of troubled) {
    log.info(`----- ${agent.name}: last ${logLinesShownOnFailure} lines of the container log -----`);
    try {
      const group = await aci.get(config.resourceGroup, agent.name);
      if (group !== undefined) {
        log.info(`${agent.name}: ${describeState(group)}`);
        for (const line of newEvents({ ...agent, seenEvents: new Set() }, group)) log.info(`${agent.name}: ${line}`);
      }
      log.infoExternal(await aci.logs(config.resourceGroup, agent.name, agent.name, logLinesShownOnFailure));
    } catch (error) {
      log.warning(`${agent.name}: could not read its log: ${describe(error)}`);
    }
  }

  const reason = (cause instanceof StartFailure || cause instanceof InputError ? cause.message : describe(cause)).replace(/\.$/, "");
  if (config.keepOnFailure) {
    return new StartFailure(`${reason}. keepOnFailure is set: ${created.map((a) => a.name).join(", ") || "nothing"} kept for debugging; remove it with AciAgentStop (scope: run).`);
  }
  // Every planned name, not only those known to be created: a request cut short by a cancel
  // may still have created its group, and deleting one that does not exist costs one read.
  const { removed, leftovers } = await removeAgents(config, services, pool, agents.map((a) => a.name), !cancelled);
  if (leftovers.length > 0) {
    return new StartFailure(`${reason}. Could not remove ${leftovers.join(", ")}; run AciAgentStop (scope: run) or delete them in the portal.`);
  }
  return new StartFailure(`${reason}. Everything this step created was removed (${removed} container group(s)).`);
}

/**
 * Deletes the groups, then the registrations of their agents (listed after the deletes, so an
 * agent that registered meanwhile is caught too). Counts the groups deleted and names what was
 * not removed.
 */
async function removeAgents(
  config: StartConfig,
  services: StartServices,
  pool: AgentPool,
  names: string[],
  waitForDeletes: boolean,
): Promise<{ removed: number; leftovers: string[] }> {
  const leftovers: string[] = [];
  const deletes = await Promise.allSettled(names.map((name) => services.aci.delete(config.resourceGroup, name, { wait: waitForDeletes })));
  deletes.forEach((result, index) => {
    if (result.status === "fulfilled") return;
    services.log.warning(`${names[index] ?? ""}: container group not removed: ${describe(result.reason)}`);
    leftovers.push(`container group ${names[index] ?? ""}`);
  });
  try {
    const planned = new Set(names);
    const registered = (await services.pools.listAgents(pool.id)).filter((a) => planned.has(a.name.toLowerCase()));
    const deregistrations = await Promise.allSettled(registered.map((agent) => services.pools.deleteAgent(pool.id, agent.id)));
    deregistrations.forEach((result, index) => {
      if (result.status === "fulfilled") return;
      services.log.warning(`${registered[index]?.name ?? ""}: registration not removed: ${describe(result.reason)}`);
      leftovers.push(`agent ${registered[index]?.name ?? ""} in pool '${pool.name}'`);
    });
  } catch (error) {
    leftovers.push(`the registrations of ${names.join(", ")} in pool '${pool.name}' (the pool could not be read: ${describe(error)})`);
  }
  return { removed: deletes.filter((r) => r.status === "fulfilled" && r.value).length, leftovers };
}

function describe(error: unknown): string {
  if (error instanceof AzureError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
