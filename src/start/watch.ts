// Watching the fleet until every agent is online: the pool's agents every turn, and each group
// not online yet every few seconds, to show its progress and to judge it dead early.
import type { GroupSnapshot } from "../azure/aci";
import { Backoff, formatSeconds } from "../core/clock";
import { RequestTimeout } from "../core/deadline";
import { armPacing } from "../run/armPacing";
import type { StartLog, StartRun } from "./context";
import { StartFailure } from "./failures";

/**
 * How often the pool is read once a group is provisioned, or an agent of the fleet is online: the
 * others register within seconds, and each moment between an agent's coming online and the step
 * noticing delays every job of the run.
 */
const poolReadWhileRegisteringMs = 250;
/**
 * Once a claimed container's config map is sent, its agent comes online within about a second (the
 * map's propagation and the listener's start): the pool is read more often for that short while.
 */
const poolReadWhileListenerStartsMs = 100;

export async function watchUntilOnline(run: StartRun): Promise<void> {
  const { fleet, pool, signal, elapsed, inFlight } = run;
  const { clock, log, pools } = run.services;
  const backoff = new Backoff(500, 1000);
  let reported = -1;
  for (;;) {
    signal.throwIfAborted();
    const registered = await retryingHung(log, inFlight.track(`Azure DevOps to list the agents of pool '${pool.name}'`, pools.listAgents(pool.id, signal)));
    const online = new Set((registered ?? []).filter((a) => a.status === "online").map((a) => a.name.toLowerCase()));
    for (const agent of fleet) {
      if (agent.state === "online" || !online.has(agent.name)) continue;
      agent.moveTo("online");
      agent.onlineAfterMs = elapsed();
      log.info(`${agent.name}: online in pool '${pool.name}' after ${formatSeconds(elapsed())}`);
    }
    const onlineCount = fleet.filter((a) => a.state === "online").length;
    if (onlineCount !== reported) {
      reported = onlineCount;
      log.setProgress(Math.round((100 * onlineCount) / fleet.length), `${onlineCount} of ${fleet.length} agents online`);
    }
    if (onlineCount === fleet.length) return;
    await watchGroups(run);
    const listenerStarting = fleet.some((a) => a.identitySent && a.state !== "online");
    // A large fleet polls each create every few seconds: its groups may be running, their agents
    // online, before the step sees them provisioned. The first agent online says the rest are near.
    const registering = onlineCount > 0 || fleet.some((a) => a.state === "provisioned");
    await clock.sleep(listenerStarting ? poolReadWhileListenerStartsMs : registering ? poolReadWhileRegisteringMs : backoff.next(), signal);
  }
}

/** Reads the groups whose agents are not online yet, shows what changed, and fails dead ones. */
async function watchGroups(run: StartRun): Promise<void> {
  const { config, fleet, signal, elapsed, inFlight } = run;
  const { aci, clock, log } = run.services;
  // Each group's state, while its agent is not online yet, as often as the fleet's ARM pacing allows.
  const { groupReadMs } = armPacing(fleet.length);
  const due = fleet.filter((a) => (a.state === "creating" || a.state === "provisioned") && clock.now() - a.lastWatchAt >= groupReadMs);
  await Promise.all(
    due.map(async (agent) => {
      agent.lastWatchAt = clock.now();
      const location = agent.location;
      const group = await retryingHung(log, inFlight.track(`ARM to read container group ${agent.name}`, aci.get(config.resourceGroup, agent.name, { signal })));
      // A group left in another region is on its way out while the next region is tried.
      if (group === undefined || group.location !== location || agent.location !== location) return;
      for (const line of agent.newEvents([...group.events, ...group.containers.flatMap((c) => c.events)])) log.info(`${agent.name}: ${line}`);
      const shown = describeState(group);
      if (shown !== agent.shownState) {
        agent.shownState = shown;
        log.info(`${agent.name}: ${shown}`);
      }
      if (agent.state === "creating" && group.provisioningState === "Succeeded") {
        agent.moveTo("provisioned");
        agent.provisionedAfterMs ??= elapsed();
      }
      // Until its create operation ends, a failure is that operation's to report (it may try another region).
      const dead = agent.state === "provisioned" ? deadReason(group) : undefined;
      if (dead !== undefined) {
        agent.moveTo("failed", dead);
        throw new StartFailure(`${agent.name}: ${dead}`);
      }
    }),
  );
}

/** A single hung read is tried again on the next turn; the step's deadline bounds the whole. */
async function retryingHung<T>(log: StartLog, call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (!(error instanceof RequestTimeout)) throw error;
    log.warning(`${error.message}; trying again`);
    return undefined;
  }
}

export function describeState(group: GroupSnapshot): string {
  const container = group.containers[0];
  const parts = [`provisioning ${group.provisioningState}`, `group ${group.state ?? "unknown"}`];
  if (container?.state !== undefined) parts.push(`container ${container.state}${container.exitCode === undefined ? "" : ` (exit code ${container.exitCode})`}`);
  return parts.join(", ");
}

/** Why a group can no longer bring its agent online, if it cannot. */
export function deadReason(group: GroupSnapshot): string | undefined {
  const container = group.containers[0];
  if (group.provisioningState === "Failed") return "the container group failed to provision";
  if (group.state === "Stopped") return "the container group was stopped";
  if (container === undefined) return undefined;
  if (container.state === "Terminated" && container.restartCount === 0) {
    return `the container exited with code ${container.exitCode ?? "unknown"} before the agent came online`;
  }
  // A long-lived agent's container restarts on failure: a failed run that ACI restarts (or waits
  // to restart) is a crash loop, not a slow start.
  const previous = container.previousState?.state === "Terminated" ? container.previousState.exitCode : undefined;
  const lastExit = container.state === "Terminated" ? container.exitCode : previous;
  const restarting = container.restartCount > 0 || (container.state === "Waiting" && previous !== undefined);
  if (restarting && lastExit !== undefined && lastExit !== 0) {
    return `the container keeps exiting (code ${lastExit}, restarted ${container.restartCount} time(s)) before the agent came online`;
  }
  return undefined;
}
