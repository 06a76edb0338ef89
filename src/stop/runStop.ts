// AciAgentStop's core: find the container groups to remove (by tag, by name, or by expiry) and
// delete them at once, each after keeping its log; meanwhile read the pool and deregister each
// group's agent and the registrations the scope selects alone, all concurrently. Whatever is
// already gone counts as done; whatever cannot be removed (or checked) is named at the end. Each
// group's instance view is read before it goes, for what the agent used (logged and summarised).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AzureError, type AciApi, type GroupSnapshot } from "../azure/aci";
import { Backoff, type Clock } from "../core/clock";
import { InputError } from "../core/errors";
import { DevOpsError, type AgentPool, type PoolAgent } from "../devops/client";
import type { TaskPlatform } from "../platform/types";
import { armPacing } from "../run/armPacing";
import { fleetName, runTagValue } from "../run/names";
import { MAX_TIMEOUT_MINUTES } from "../run/inputs";
import { namingRegistrationInput, type PoolApi } from "../run/pools";
import { NEVER_EXPIRES, OWN_TAGS, RESERVED_TAG_PREFIX } from "../run/tags";
import { EVERY_FLEET, type StopConfig } from "./inputs";
import { groupUsage, totalLine, usageLine, type GroupUsage } from "./usage";

/** Azure DevOps refuses to delete an agent that still holds a job; it frees it shortly after. */
const busyRetries = 8;

export type StopLog = Pick<TaskPlatform, "info" | "warning" | "error" | "debug" | "uploadFile">;

export interface StopServices {
  aci: AciApi;
  pools: PoolApi;
  log: StopLog;
  clock: Clock;
  /** Where collected logs are written before they are attached to the run. */
  logDirectory: string;
  /** Masks every secret the step knows in text it writes to a file (the agent masks only its log). */
  maskSecrets(text: string): string;
}

/** Something to remove: a container group, an agent registration, or both (same name). */
export interface StopTarget {
  name: string;
  group: GroupSnapshot | undefined;
  agent: PoolAgent | undefined;
}

export interface RemovedAgent {
  name: string;
  /** The group's `aci-agents-created` tag. */
  createdAt: string | undefined;
  /** Whether a container group was found for it (its usage is known or not). */
  hadGroup: boolean;
  /**
   * From the group's instance view, read just before its delete: how long it ran until then and
   * what it requested. Undefined when there was no group or its instance view could not be read.
   */
  usage: GroupUsage | undefined;
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
  // The groups go whatever Azure DevOps does: a running container costs money and its agent
  // could take other jobs, while a registration left behind only clutters the pool.
  const registry = readRegistry(config, services);
  const selection = await selectGroups(config, services);
  const { operationPollMs } = armPacing(selection.groups.length);
  const groupRemovals = new Map(
    selection.groups.map((group) => [group.name.toLowerCase(), removeGroup(config, services, group, !selection.read.has(group.name.toLowerCase()), operationPollMs)]),
  );
  const found = await registry;

  const targets = found.read ? matchRegistrations(config, selection, found.agents, services.clock.now()) : selection.groups.map((g) => ({ name: g.name, group: g, agent: undefined }));
  log.info(targets.length === 0 ? "Nothing to remove." : `Removing ${targets.length}: ${targets.map((t) => t.name).join(", ")}`);
  const outcomes = await Promise.allSettled(targets.map((target) => removeTarget(services, found, target, groupRemovals.get(target.name.toLowerCase()))));
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
  if (!found.read) {
    leftovers.push({ name: `pool '${config.pool}'`, reason: `its registrations could not be read, so none were removed: ${describe(found.failure)}` });
  }
  logUsage(log, removed);
  return { removed, leftovers };
}

/** One line per removed agent that had a container group, and one for the total. */
function logUsage(log: StopLog, removed: readonly RemovedAgent[]): void {
  const withGroups = removed.filter((a) => a.hadGroup);
  if (withGroups.length === 0) return;
  for (const agent of withGroups) log.info(usageLine(agent.name, agent.usage));
  const known = withGroups.map((a) => a.usage).filter((u) => u !== undefined);
  log.info(totalLine(known, withGroups.length - known.length));
}

/** The pool and its agents as Azure DevOps lists them, or why it could not. */
type Registry = { read: true; pool: AgentPool | undefined; agents: PoolAgent[] } | { read: false; failure: unknown };

async function readRegistry(config: StopConfig, services: StopServices): Promise<Registry> {
  try {
    const pool = await services.pools.findPool(config.pool);
    if (pool === undefined) {
      services.log.warning(`pool: no agent pool '${config.pool}' is visible to the registering identity; only container groups are removed`);
      return { read: true, pool, agents: [] };
    }
    return { read: true, pool, agents: await services.pools.listAgents(pool.id) };
  } catch (error) {
    return { read: false, failure: namingRegistrationInput(error, config.registration) };
  }
}

/** The container groups the scope selects (from ARM alone), and what the registrations are matched against. */
interface GroupSelection {
  groups: GroupSnapshot[];
  /** Scope names: the names asked for, in order (a name may have no group). */
  names: string[];
  /** Scope expired: our groups that still run their agent. */
  live: Set<string>;
  /** Groups (lower case) read one by one, with their instance view; the others come from a list, which has none. */
  read: Set<string>;
}

async function selectGroups(config: StopConfig, services: StopServices): Promise<GroupSelection> {
  const { aci } = services;
  switch (config.scope) {
    case "run": {
      const runTag = runTagValue(config.organizationUrl, config.run.projectId, config.run.runId);
      const groups = (await aci.list(config.resourceGroup)).filter((g) => g.tags[OWN_TAGS.run] === runTag && inFleet(g, config.namePrefix, config.run.runId));
      return { groups, names: [], live: new Set(), read: new Set() };
    }
    case "names": {
      const found = await Promise.all(config.containerGroupNames.map((name) => aci.get(config.resourceGroup, name)));
      const groups = found.filter((g): g is GroupSnapshot => g !== undefined);
      const foreign = groups.filter((g) => !isOurs(g)).map((g) => g.name);
      if (foreign.length > 0) {
        throw new InputError([
          `containerGroupNames: ${foreign.join(", ")} ${foreign.length === 1 ? "was" : "were"} not created by this extension (no ${RESERVED_TAG_PREFIX}* tags) and will not be deleted`,
        ]);
      }
      return { groups, names: config.containerGroupNames, live: new Set(), read: new Set(groups.map((g) => g.name.toLowerCase())) };
    }
    case "expired": {
      const now = services.clock.now();
      const ours = (await aci.list(config.resourceGroup)).filter(isOurs);
      // List items carry no instance view; read each group that has not expired by its tag.
      const read = new Set<string>();
      const states = await Promise.all(
        ours.map(async (g) => {
          if (isExpired(g, now)) return g;
          const full = await aci.get(config.resourceGroup, g.name);
          if (full === undefined) return g;
          read.add(g.name.toLowerCase());
          return full;
        }),
      );
      const expired = states.filter((g) => isExpired(g, now) || hasStopped(g));
      const expiredNames = new Set(expired.map((g) => g.name));
      return { groups: expired, names: [], live: new Set(ours.filter((g) => !expiredNames.has(g.name)).map((g) => g.name)), read };
    }
  }
}

/** Each selected group with its registration, plus the registrations the scope selects on their own. */
function matchRegistrations(config: StopConfig, selection: GroupSelection, registrations: PoolAgent[], now: number): StopTarget[] {
  const byName = (name: string) => registrations.find((a) => a.name.toLowerCase() === name.toLowerCase());
  const withGroups = selection.groups.map((g) => ({ name: g.name, group: g, agent: byName(g.name) }));
  const groupNames = new Set(selection.groups.map((g) => g.name.toLowerCase()));
  const alone = (agents: PoolAgent[]) => agents.filter((a) => !groupNames.has(a.name.toLowerCase())).map((a) => ({ name: a.name, group: undefined, agent: a }));
  switch (config.scope) {
    case "run":
      return [...withGroups, ...alone(registrations.filter((a) => isRunAgentName(a.name, config.namePrefix, config.run.runId)))];
    case "names": {
      const byGroup = new Map(withGroups.map((t) => [t.name.toLowerCase(), t]));
      // A registration goes with its group, or alone when it is named like ours: never a
      // hand-made agent that merely shares a name.
      return selection.names.map(
        (name) => byGroup.get(name.toLowerCase()) ?? { name, group: undefined, agent: isOurAgentName(name, config.namePrefix) ? byName(name) : undefined },
      );
    }
    case "expired":
      return [...withGroups, ...alone(staleRegistrations(registrations, config.namePrefix, selection.live, now))];
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

/**
 * A group of the run belongs to the fleet its `aci-agents-fleet` tag names; one made before
 * fleets were tagged, to the fleet its name starts with.
 */
export function inFleet(group: GroupSnapshot, prefix: string, runId: string): boolean {
  if (prefix === EVERY_FLEET) return true;
  const fleet = group.tags[OWN_TAGS.fleet];
  return fleet === undefined ? isRunAgentName(group.name, prefix, runId) : fleet.toLowerCase() === fleetName(prefix, runId);
}

/** `{prefix}-{runId}-{attempt}-{index}`; any fleet's prefix with EVERY_FLEET. */
export function isRunAgentName(name: string, prefix: string, runId: string): boolean {
  const prefixPattern = prefix === EVERY_FLEET ? "[a-z0-9](?:[-a-z0-9]*[a-z0-9])?" : escapeRegExp(prefix);
  return new RegExp(`^${prefixPattern}-${escapeRegExp(runId)}-\\d+-\\d+$`, "i").test(name);
}

/** `{prefix}-{runId}-{attempt}-{index}` for any run. */
export function isOurAgentName(name: string, prefix: string): boolean {
  return new RegExp(`^${escapeRegExp(prefix)}-\\d+-\\d+-\\d+$`, "i").test(name);
}

/**
 * A start step registers its agents before it creates their groups, for at most its timeoutMinutes
 * (120 at the most): a registration younger than that may belong to a fleet being started.
 */
export const YOUNGEST_STALE_REGISTRATION_MS = MAX_TIMEOUT_MINUTES * 60_000;

/**
 * Offline agents named like ours whose container group is not live (a live one may be coming
 * online), registered long enough ago that no start step can still be creating their group.
 */
export function staleRegistrations(registrations: PoolAgent[], prefix: string, liveGroups: Set<string>, now: number): PoolAgent[] {
  return registrations.filter((a) => {
    const created = a.createdOn === undefined ? Number.NaN : Date.parse(a.createdOn);
    const young = !Number.isNaN(created) && now - created < YOUNGEST_STALE_REGISTRATION_MS;
    return a.status === "offline" && isOurAgentName(a.name, prefix) && !liveGroups.has(a.name.toLowerCase()) && !young;
  });
}

interface GroupRemoval {
  removed: boolean;
  logFile: string | undefined;
  usage: GroupUsage | undefined;
}

/**
 * Keeps the group's log and reads its instance view (at the same time), then deletes it. A group
 * from a list is read once (GET) for its instance view: one read per group, the share of ARM's
 * reads that armPacing keeps for each group a step follows, which the stop uses for nothing else.
 */
async function removeGroup(config: StopConfig, services: StopServices, group: GroupSnapshot, needsRead: boolean, pollIntervalMs: number): Promise<GroupRemoval> {
  const [logFile, full] = await Promise.all([
    config.collectLogs ? collectLog(config, services, group) : undefined,
    needsRead ? readInstanceView(config, services, group) : group,
  ]);
  // ACI stops the containers when it accepts the delete: a container still running is counted until now.
  const stoppedAt = services.clock.now();
  const removed = await services.aci.delete(config.resourceGroup, group.name, { pollIntervalMs });
  return { removed, logFile, usage: full === undefined ? undefined : groupUsage(full, stoppedAt) };
}

/** The group with its instance view, or undefined (with a warning) when it cannot be read: the delete goes ahead. */
async function readInstanceView(config: StopConfig, services: StopServices, group: GroupSnapshot): Promise<GroupSnapshot | undefined> {
  try {
    return await services.aci.get(config.resourceGroup, group.name);
  } catch (error) {
    services.log.warning(`${group.name}: could not read its instance view, so what it used is not counted: ${describe(error)}`);
    return undefined;
  }
}

/** Deregisters the target's agent while its group's removal (already under way) ends. */
async function removeTarget(services: StopServices, registry: Registry, target: StopTarget, groupRemoval: Promise<GroupRemoval> | undefined): Promise<RemovedAgent> {
  const result: RemovedAgent = {
    name: target.name,
    createdAt: target.group?.tags[OWN_TAGS.created],
    hadGroup: target.group !== undefined,
    usage: undefined,
    removedGroup: false,
    removedRegistration: false,
    logFile: undefined,
  };
  let registrationFailure: string | undefined;
  if (!registry.read) {
    registrationFailure = `its agent registration could not be checked: ${describe(registry.failure)}`;
  } else if (target.agent !== undefined && registry.pool !== undefined) {
    try {
      result.removedRegistration = await deregister(services, registry.pool, target.agent);
    } catch (error) {
      registrationFailure = `the agent registration was not removed: ${describe(error)}`;
    }
  }
  if (groupRemoval !== undefined) {
    const group = await groupRemoval;
    result.removedGroup = group.removed;
    result.logFile = group.logFile;
    result.usage = group.usage;
  }
  if (registrationFailure !== undefined) throw new Error(`${result.removedGroup ? "container group deleted, but " : ""}${registrationFailure}`);
  const done = [
    ...(result.removedGroup ? ["container group deleted"] : []),
    ...(result.removedRegistration ? ["agent deregistered"] : []),
    ...(result.logFile === undefined ? [] : ["log attached"]),
  ];
  services.log.info(`${target.name}: ${done.length === 0 ? "nothing left to remove" : done.join(", ")}`);
  return result;
}

async function collectLog(config: StopConfig, services: StopServices, group: GroupSnapshot): Promise<string | undefined> {
  const { aci, log } = services;
  const container = group.containers[0]?.name ?? group.name;
  try {
    const content = services.maskSecrets(await aci.logs(config.resourceGroup, group.name, container));
    const file = join(services.logDirectory, `${group.name}.log`);
    writeFileSync(file, content);
    // Attached, not printed: the output keeps one line per container (a failed start step
    // already showed the log of each agent that did not come online).
    log.uploadFile(file);
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
