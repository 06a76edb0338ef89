// AciAgentStop's core: find what to remove (by tag, by name, or by expiry), then for each agent
// keep its log, deregister it and delete its container group, all concurrently. Whatever is
// already gone counts as done; whatever cannot be removed is named at the end.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AzureError, type AciApi, type GroupSnapshot } from "../azure/aci";
import { Backoff, type Clock } from "../core/clock";
import { InputError } from "../core/errors";
import { DevOpsError, type AgentPool, type PoolAgent } from "../devops/client";
import type { TaskPlatform } from "../platform/types";
import { runTagValue } from "../run/names";
import { namingRegistrationInput, type PoolApi } from "../run/pools";
import { NEVER_EXPIRES, OWN_TAGS, RESERVED_TAG_PREFIX } from "../run/tags";
import type { StopConfig } from "./inputs";

const logTailShown = 20;
/** Azure DevOps refuses to delete an agent that still holds a job; it frees it shortly after. */
const busyRetries = 8;

export type StopLog = Pick<TaskPlatform, "info" | "warning" | "error" | "debug" | "infoExternal" | "uploadFile">;

export interface StopServices {
  aci: AciApi;
  pools: PoolApi;
  log: StopLog;
  clock: Clock;
  /** Where collected logs are written before they are attached to the run. */
  logDirectory: string;
}

/** Something to remove: a container group, an agent registration, or both (same name). */
export interface StopTarget {
  name: string;
  group: GroupSnapshot | undefined;
  agent: PoolAgent | undefined;
}

export interface RemovedAgent {
  name: string;
  createdAt: string | undefined;
  /** From the group's creation tag until now. */
  lifetimeMs: number | undefined;
  removedGroup: boolean;
  removedRegistration: boolean;
  logFile: string | undefined;
}

export interface StopResult {
  removed: RemovedAgent[];
  /** Names whose group or registration could not be removed, with why. */
  leftovers: { name: string; reason: string }[];
}


export async function runStop(config: StopConfig, services: StopServices): Promise<StopResult> {
  const { log } = services;
  const pool = await services.pools.findPool(config.pool).catch((error: unknown) => {
    throw namingRegistrationInput(error, config.registration);
  });
  if (pool === undefined) log.warning(`pool: no agent pool '${config.pool}' is visible to the registering identity; only container groups are removed`);
  const registrations = pool === undefined ? [] : await services.pools.listAgents(pool.id);
  const targets = await findTargets(config, services, registrations);
  log.info(targets.length === 0 ? "Nothing to remove." : `Removing ${targets.length}: ${targets.map((t) => t.name).join(", ")}`);

  const outcomes = await Promise.allSettled(targets.map((target) => removeTarget(config, services, pool, target)));
  const removed: RemovedAgent[] = [];
  const leftovers: StopResult["leftovers"] = [];
  outcomes.forEach((outcome, index) => {
    const name = targets[index]?.name ?? "";
    if (outcome.status === "fulfilled") {
      if (outcome.value.removedGroup || outcome.value.removedRegistration) removed.push(outcome.value);
    } else {
      leftovers.push({ name, reason: describe(outcome.reason) });
    }
  });
  return { removed, leftovers };
}

/** What the scope selects, read from ARM and the pool. */
async function findTargets(config: StopConfig, services: StopServices, registrations: PoolAgent[]): Promise<StopTarget[]> {
  const { aci } = services;
  const byName = (name: string) => registrations.find((a) => a.name.toLowerCase() === name.toLowerCase());
  switch (config.scope) {
    case "run": {
      const runTag = runTagValue(config.organizationUrl, config.run.projectId, config.run.runId);
      const groups = (await aci.list(config.resourceGroup)).filter((g) => g.tags[OWN_TAGS.run] === runTag);
      const names = new Set(groups.map((g) => g.name));
      const strays = registrations.filter((a) => isRunAgentName(a.name, config.namePrefix, config.run.runId) && !names.has(a.name.toLowerCase()));
      return [...groups.map((g) => ({ name: g.name, group: g, agent: byName(g.name) })), ...strays.map((a) => ({ name: a.name, group: undefined, agent: a }))];
    }
    case "names": {
      const groups = await Promise.all(config.containerGroupNames.map((name) => aci.get(config.resourceGroup, name)));
      const foreign = groups.filter((g): g is GroupSnapshot => g !== undefined && !isOurs(g)).map((g) => g.name);
      if (foreign.length > 0) {
        throw new InputError([
          `containerGroupNames: ${foreign.join(", ")} ${foreign.length === 1 ? "was" : "were"} not created by this extension (no ${RESERVED_TAG_PREFIX}* tags) and will not be deleted`,
        ]);
      }
      // A registration goes with its group, or alone when it is named like ours: never a
      // hand-made agent that merely shares a name.
      return config.containerGroupNames.map((name, index) => {
        const group = groups[index];
        return { name, group, agent: group !== undefined || isOurAgentName(name, config.namePrefix) ? byName(name) : undefined };
      });
    }
    case "expired": {
      const now = services.clock.now();
      const ours = (await aci.list(config.resourceGroup)).filter(isOurs);
      // List items carry no instance view; read each group that has not expired by its tag.
      const states = await Promise.all(ours.map(async (g) => (isExpired(g, now) ? g : ((await aci.get(config.resourceGroup, g.name)) ?? g))));
      const expired = states.filter((g) => isExpired(g, now) || hasStopped(g));
      const live = new Set(ours.filter((g) => !expired.includes(g)).map((g) => g.name));
      const expiredNames = new Set(expired.map((g) => g.name));
      const strays = staleRegistrations(registrations, config.namePrefix, live).filter((a) => !expiredNames.has(a.name.toLowerCase()));
      return [...expired.map((g) => ({ name: g.name, group: g, agent: byName(g.name) })), ...strays.map((a) => ({ name: a.name, group: undefined, agent: a }))];
    }
  }
}

/** A group this extension created: it carries the run tag. */
export function isOurs(group: GroupSnapshot): boolean {
  return group.tags[OWN_TAGS.run] !== undefined;
}

/** Past its `aci-agents-expires` time (`never` never expires). */
export function isExpired(group: GroupSnapshot, now: number): boolean {
  const expires = group.tags[OWN_TAGS.expires];
  if (expires === undefined || expires === NEVER_EXPIRES) return false;
  const at = Date.parse(expires);
  return !Number.isNaN(at) && at <= now;
}

/** The group no longer runs its agent: stopped, or its container ended for good. */
export function hasStopped(group: GroupSnapshot): boolean {
  return group.state === "Stopped" || group.state === "Succeeded" || group.state === "Failed";
}

/** `{prefix}-{runId}-{attempt}-{index}`. */
export function isRunAgentName(name: string, prefix: string, runId: string): boolean {
  return new RegExp(`^${escapeRegExp(prefix)}-${escapeRegExp(runId)}-\\d+-\\d+$`, "i").test(name);
}

/** `{prefix}-{runId}-{attempt}-{index}` for any run. */
export function isOurAgentName(name: string, prefix: string): boolean {
  return new RegExp(`^${escapeRegExp(prefix)}-\\d+-\\d+-\\d+$`, "i").test(name);
}

/** Offline agents named like ours whose container group is not live (a live one may be registering). */
export function staleRegistrations(registrations: PoolAgent[], prefix: string, liveGroups: Set<string>): PoolAgent[] {
  return registrations.filter((a) => a.status === "offline" && isOurAgentName(a.name, prefix) && !liveGroups.has(a.name.toLowerCase()));
}

async function removeTarget(config: StopConfig, services: StopServices, pool: AgentPool | undefined, target: StopTarget): Promise<RemovedAgent> {
  const { aci, log } = services;
  const createdAt = target.group?.tags[OWN_TAGS.created];
  const created = createdAt === undefined ? Number.NaN : Date.parse(createdAt);
  const result: RemovedAgent = {
    name: target.name,
    createdAt,
    lifetimeMs: Number.isNaN(created) ? undefined : services.clock.now() - created,
    removedGroup: false,
    removedRegistration: false,
    logFile: undefined,
  };
  if (target.group !== undefined && config.collectLogs) result.logFile = await collectLog(config, services, target.group);
  // The group goes even when its registration cannot: a running container costs money and its
  // agent could take other jobs; a dead registration only clutters the pool.
  let registrationFailure: unknown;
  if (target.agent !== undefined && pool !== undefined) {
    try {
      result.removedRegistration = await deregister(services, pool, target.agent);
      if (result.removedRegistration) log.info(`${target.name}: deregistered from pool '${pool.name}'`);
    } catch (error) {
      registrationFailure = error;
    }
  }
  if (target.group !== undefined) {
    result.removedGroup = await aci.delete(config.resourceGroup, target.name);
    if (result.removedGroup) log.info(`${target.name}: container group deleted`);
  }
  if (registrationFailure !== undefined) {
    throw new Error(`${result.removedGroup ? "container group deleted, but " : ""}the agent registration was not removed: ${describe(registrationFailure)}`);
  }
  return result;
}

async function collectLog(config: StopConfig, services: StopServices, group: GroupSnapshot): Promise<string | undefined> {
  const { aci, log } = services;
  const container = group.containers[0]?.name ?? group.name;
  try {
    const content = await aci.logs(config.resourceGroup, group.name, container);
    const file = join(services.logDirectory, `${group.name}.log`);
    writeFileSync(file, content);
    log.uploadFile(file);
    const tail = content.trimEnd().split("\n").slice(-logTailShown).join("\n");
    log.info(`----- ${group.name}: last lines of the container log (all of it is attached to the run) -----`);
    log.infoExternal(tail === "" ? "(empty)" : tail);
    return file;
  } catch (error) {
    log.warning(`${group.name}: could not read its log: ${describe(error)}`);
    return undefined;
  }
}

async function deregister(services: StopServices, pool: AgentPool, agent: PoolAgent): Promise<boolean> {
  const backoff = new Backoff(1000, 5000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await services.pools.deleteAgent(pool.id, agent.id);
    } catch (error) {
      if (!isBusy(error) || attempt >= busyRetries) throw error;
      services.log.info(`${agent.name}: Azure DevOps says the agent is still busy; retrying (${attempt}/${busyRetries - 1})`);
      await services.clock.sleep(backoff.next());
    }
  }
}

export function isBusy(error: unknown): boolean {
  return error instanceof DevOpsError && (error.status === 400 || error.status === 409) && /running a job|busy/i.test(error.message);
}

/** How to finish by hand what the step could not remove. */
export function leftoverMessage(config: StopConfig, leftovers: StopResult["leftovers"]): string {
  const lines = leftovers.map(({ name, reason }) => `${name}: ${reason}`);
  return [
    `Could not remove ${leftovers.length} agent(s); everything else was removed.`,
    ...lines,
    `Remove them by hand: az container delete --resource-group ${config.resourceGroup} --name <name> --yes, and delete the agents from pool '${config.pool}' in Organization settings > Agent pools; or run this step again.`,
  ].join("\n");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function describe(error: unknown): string {
  if (error instanceof AzureError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
