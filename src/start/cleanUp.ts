// After a failure, a timeout or a cancel: show why (unless cancelled), then remove every group
// this step may have made and the registrations of its agents. On a cancel the agent allows
// seconds (SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that): every DELETE goes out at once,
// before anything is read or awaited.
import { deadlineSignal, sharedByFleet } from "../core/deadline";
import { InputError } from "../core/errors";
import type { AgentPool } from "../devops/client";
import { armPacing } from "../run/armPacing";
import { STANDBY_CONTAINER } from "../run/names";
import type { StartRun, StartServices } from "./context";
import { describe, StartFailure, StepCancelled, StepTimedOut } from "./failures";
import type { FleetAgent } from "./fleet";
import type { StartConfig } from "./inputs";
import { describeState } from "./watch";

const logLinesShownOnFailure = 40;
/** Showing why is worth a short wait, not a clean-up held up by a hung read. */
const showWhyDeadlineMs = 30_000;
/** The clean-up's own bound, since the step's deadline may be what ended the step. */
const cleanUpDeadlineMs = 15 * 60_000;

export async function cleanUp(run: StartRun, cause: unknown): Promise<Error> {
  const { config, services, pool, fleet } = run;
  const cancelled = cause instanceof StepCancelled;
  const bound = deadlineSignal(cleanUpDeadlineMs, () => new Error(`the clean-up did not end within ${cleanUpDeadlineMs / 60_000} minutes`));
  sharedByFleet(bound.signal, fleet.length);
  try {
    const reason = (cause instanceof StartFailure || cause instanceof InputError || cause instanceof StepCancelled || cause instanceof StepTimedOut ? cause.message : describe(cause)).replace(/\.$/, "");
    const ours = fleet.filter((a) => a.state !== "taken");
    if (config.keepOnFailure) {
      if (!cancelled) await showWhy(config, services, ours, bound.signal);
      const kept = ours.filter((a) => a.mayHaveGroup).map((a) => a.name);
      return new StartFailure(`${reason}. keepOnFailure is set: ${kept.join(", ") || "nothing"} kept for debugging; remove it with AciAgentStop (scope: run).`);
    }
    // Read first: a group being deleted has no log to show.
    if (!cancelled) await showWhy(config, services, ours, bound.signal);
    // Captured before the deletes: a PUT answered after them has made a group they missed.
    const unanswered = ours.flatMap((a) => (a.unansweredPut === undefined ? [] : [{ agent: a, put: a.unansweredPut }]));
    // Every planned name, not only those known to be created: a request cut short may still have made its group.
    const deletes = deleteGroups(config, services, ours.map((a) => a.name), !cancelled, bound.signal);
    // By the planned names too, so that a registration whose answer never came is found; and the
    // step's own registration of a name whose group turned out to be another step's.
    const ownRegistrations = fleet.flatMap((a) => (a.state === "taken" && a.agentId !== undefined ? [{ name: a.name, id: a.agentId }] : []));
    const deregistered = deregister(services, pool, ours.map((a) => a.name), bound.signal, ownRegistrations);
    const lateGroups = Promise.all(
      unanswered.map(async ({ agent, put }) => {
        await put;
        return deleteGroups(config, services, [agent.name], false, bound.signal);
      }),
    );
    const lateRegistrations = Promise.all(fleet.map((agent) => deregisterWhenAnswered(services, pool, agent, bound.signal)));
    const outcomes = [await deletes, ...(await lateGroups)];
    const late = await lateRegistrations;
    const leftovers = [...outcomes.flatMap((o) => o.leftovers), ...(await deregistered), ...late.flatMap((l) => l.leftovers)];
    // An agent that registered while its group was being deleted shows only now.
    if (leftovers.length === 0) leftovers.push(...(await deregister(services, pool, ours.map((a) => a.name), bound.signal)));
    const registrations = fleet.filter((a) => a.agentId !== undefined).length + late.filter((l) => l.answeredLate).length;
    const removed = new Set(outcomes.flatMap((o) => o.removed)).size;
    if (leftovers.length > 0) {
      return new StartFailure(`${reason}. Could not remove ${[...new Set(leftovers)].join(", ")}; run AciAgentStop (scope: run) or delete them in the portal.`);
    }
    return new StartFailure(`${reason}. Everything this step created was removed (${removed} container group(s), ${registrations} agent registration(s)).`);
  } finally {
    bound.clear();
  }
}

/**
 * Cancelled during pre-flight: nothing was created, yet every planned name gets its DELETE, as a
 * cancelled step promises (a 204 costs one request).
 */
export async function cancelledBeforeCreating(config: StartConfig, services: StartServices, names: string[]): Promise<Error> {
  const bound = deadlineSignal(cleanUpDeadlineMs, () => new Error(`the deletes did not end within ${cleanUpDeadlineMs / 60_000} minutes`));
  sharedByFleet(bound.signal, names.length);
  try {
    const { leftovers } = await deleteGroups(config, services, names, false, bound.signal);
    const message = `${new StepCancelled().message.replace(/\.$/, "")} during pre-flight, before anything was created`;
    if (leftovers.length > 0) return new StartFailure(`${message}. Could not send a delete for ${leftovers.join(", ")}; run AciAgentStop (scope: run).`);
    return new StartFailure(`${message}; a delete was sent for each planned name.`);
  } finally {
    bound.clear();
  }
}

/** The state, events and log of each agent that did not come online. */
async function showWhy(config: StartConfig, services: StartServices, fleet: FleetAgent[], outer: AbortSignal): Promise<void> {
  const { aci, log } = services;
  const bound = deadlineSignal(showWhyDeadlineMs, () => new Error(`no answer within ${showWhyDeadlineMs / 1000} s`), outer);
  const signal = bound.signal;
  sharedByFleet(signal, fleet.length);
  try {
    await Promise.all(fleet.filter((a) => a.mayHaveGroup && a.state !== "online").map(async (agent) => {
      const lines: string[] = [];
      let text = "";
      try {
        const group = await aci.get(config.resourceGroup, agent.name, { signal });
        if (group !== undefined) {
          lines.push(`${agent.name}: ${describeState(group)}`);
          for (const event of [...group.events, ...group.containers.flatMap((c) => c.events)]) lines.push(`${agent.name}: event ${event.name}: ${event.message}`);
        }
        text = await aci.logs(config.resourceGroup, agent.name, config.standbyPool === undefined ? agent.name : STANDBY_CONTAINER, logLinesShownOnFailure, { signal });
      } catch (error) {
        lines.push(`${agent.name}: could not read its log: ${describe(error)}`);
      }
      log.info(`----- ${agent.name}: last ${logLinesShownOnFailure} lines of the container log -----`);
      for (const line of lines) log.info(line);
      log.infoExternal(text);
    }));
  } finally {
    bound.clear();
  }
}

/** Sends every DELETE at once; names the groups deleted and those not removed. */
async function deleteGroups(config: StartConfig, services: StartServices, names: string[], wait: boolean, signal: AbortSignal): Promise<{ removed: string[]; leftovers: string[] }> {
  const { operationPollMs } = armPacing(names.length);
  const results = await Promise.allSettled(names.map((name) => services.aci.delete(config.resourceGroup, name, { wait, signal, pollIntervalMs: operationPollMs })));
  const leftovers = results.flatMap((result, index) => {
    if (result.status === "fulfilled") return [];
    const name = names[index] ?? "";
    services.log.warning(`${name}: container group not removed: ${describe(result.reason)}`);
    return [`container group ${name}`];
  });
  const removed = results.flatMap((result, index) => (result.status === "fulfilled" && result.value ? [names[index] ?? ""] : []));
  return { removed, leftovers };
}

/** A registration answered after the clean-up began (a cancel cut its wait short) is removed once its answer is in. */
async function deregisterWhenAnswered(services: StartServices, pool: AgentPool, agent: FleetAgent, signal: AbortSignal): Promise<{ answeredLate: boolean; leftovers: string[] }> {
  const id = await agent.unansweredRegistration;
  if (id === undefined) return { answeredLate: false, leftovers: [] };
  try {
    await services.pools.deleteAgent(pool.id, id, signal);
    return { answeredLate: true, leftovers: [] };
  } catch (error) {
    services.log.warning(`${agent.name}: registration not removed: ${describe(error)}`);
    return { answeredLate: true, leftovers: [`agent ${agent.name} in pool '${pool.name}'`] };
  }
}

/** Removes the registrations of the named agents (and the given ones), all at once; names what was not removed. */
async function deregister(services: StartServices, pool: AgentPool, names: string[], signal: AbortSignal, byId: { name: string; id: number }[] = []): Promise<string[]> {
  try {
    const planned = new Set(names);
    const listed = (await services.pools.listAgents(pool.id, signal)).filter((a) => planned.has(a.name.toLowerCase()));
    const registered = [...listed, ...byId.filter((own) => !listed.some((a) => a.id === own.id))];
    const results = await Promise.allSettled(registered.map((agent) => services.pools.deleteAgent(pool.id, agent.id, signal)));
    return results.flatMap((result, index) => {
      if (result.status === "fulfilled") return [];
      const name = registered[index]?.name ?? "";
      services.log.warning(`${name}: registration not removed: ${describe(result.reason)}`);
      return [`agent ${name} in pool '${pool.name}'`];
    });
  } catch (error) {
    return [`the registrations of ${names.join(", ")} in pool '${pool.name}' (the pool could not be read: ${describe(error)})`];
  }
}
