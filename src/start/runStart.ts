// AciAgentStart's core, top to bottom: each agent's key from the first moment, pre-flight,
// register and create every agent (with region fallback) while watching them come online, and on
// any failure, timeout or cancel, clean up.
import { formatSeconds } from "../core/clock";
import { deadlineSignal, sharedByFleet } from "../core/deadline";
import { agentNames } from "../run/names";
import { agentTags } from "../run/tags";
import { claimAgent } from "./claim";
import { cancelledBeforeCreating, cleanUp } from "./cleanUp";
import type { AgentAccess } from "./containerGroupSpec";
import type { StartRun, StartServices } from "./context";
import { createAgent } from "./create";
import { describe, StartFailure, StepCancelled, StepTimedOut } from "./failures";
import { FleetAgent } from "./fleet";
import type { StartConfig } from "./inputs";
import { describePlan, regionsOf, type FleetPlan } from "./plan";
import { preflight } from "./preflight";
import { InFlight } from "./inFlight";
import { watchUntilOnline } from "./watch";

export { StartFailure } from "./failures";

export interface StartedAgent {
  name: string;
  location: string;
  /** Milliseconds from the step's start until Azure DevOps answered its registration (agents the step registers). */
  registeredAfterMs: number | undefined;
  /** Milliseconds from the step's start until ARM reported the group provisioned. */
  provisionedAfterMs: number | undefined;
  /** Milliseconds from the step's start until Azure DevOps showed the agent online. */
  onlineAfterMs: number | undefined;
  /** Claimed from a standby pool: whether a warm instance was handed out (undefined: not claimed). */
  warm?: boolean;
}

export interface StartResult {
  agents: StartedAgent[];
  /** The fleet's plan across regions from their quota, when pre-flight could read the usage. */
  plan: FleetPlan | undefined;
  phases: { preflightMs: number; onlineMs: number; totalMs: number };
  requests: { arm: number; devops: number };
}

export async function runStart(config: StartConfig, services: StartServices): Promise<StartResult> {
  const { clock, log } = services;
  const startedAt = clock.now();
  const elapsed = () => clock.now() - startedAt;
  // Every wait and request of the step ends at timeoutMinutes or on cancel.
  const cancel = new AbortController();
  const onCancel = () => { cancel.abort(new StepCancelled()); };
  services.signal.addEventListener("abort", onCancel, { once: true });
  if (services.signal.aborted) onCancel();
  const step = deadlineSignal(config.timeoutMinutes * 60_000, () => new StepTimedOut(), cancel.signal);
  const inFlight = new InFlight(step.signal);
  const names = agentNames(config.namePrefix, config.run.runId, config.run.attempt, config.agentCount);
  // Keys depend on nothing: each agent's is made from the first moment, while pre-flight reads.
  // A standby container makes its own.
  const keys = config.osType === "Linux" && config.standbyPool === undefined ? names.map(() => services.makeKey()) : [];
  for (const key of keys) key.catch(() => undefined);
  try {
    const { pool, location, regions, plan, packages, standby } = await preflight({ config, services, names, signal: step.signal, inFlight });
    const preflightMs = elapsed();
    log.info(`Pre-flight passed in ${formatSeconds(preflightMs)}: pool '${pool.name}' (id ${pool.id}), region ${location}${packages === undefined ? "" : `, agent ${packages.glibc.version}`}.`);
    if (plan !== undefined) log.info(`Plan: ${describePlan(plan)}.`);
    if (standby !== undefined) {
      log.info(
        `Standby pool '${standby.pool.name}' in ${standby.pool.location} (profile ${standby.pool.profileId}${standby.pool.profileRevision === undefined ? "" : ` revision ${standby.pool.profileRevision}`}, up to ${standby.pool.maxReadyCapacity} ready): its ready instances already hold their cores; the quota was checked only for agents beyond that.`,
      );
    }

    const now = new Date(clock.now());
    const fleet = names.map((name, index) => {
      // Without a plan, every agent tries the regions in the order of the inputs.
      const planned = plan?.placement[index] ?? location;
      const agent = new FleetAgent(name, agentTags(config, name, now), planned, plan === undefined ? regions : regionsOf(plan, planned));
      agent.key = keys[index];
      return agent;
    });
    log.info(`Starting ${fleet.length} agent(s): ${names.join(", ")}`);
    // The work ends with the step, and at its first failure.
    const work = new AbortController();
    sharedByFleet(work.signal, fleet.length);
    const run: StartRun = {
      config,
      services,
      pool,
      fleet,
      regions,
      plan,
      packages,
      signal: work.signal,
      elapsed,
      inFlight,
      standby,
      publicKeys: new Map(),
    };
    try {
      await bringOnline(run, work, step.signal);
    } catch (error) {
      throw await cleanUp(run, failureOf(error, config, fleet, inFlight));
    }
    if (standby !== undefined) {
      const warm = fleet.filter((a) => a.warm === true).map((a) => a.name);
      const fresh = fleet.filter((a) => a.warm !== true).map((a) => a.name);
      log.info(`From standby pool '${standby.pool.name}': ${warm.length} warm${warm.length === 0 ? "" : ` (${warm.join(", ")})`}, ${fresh.length} fresh from its profile${fresh.length === 0 ? "" : ` (${fresh.join(", ")})`}.`);
    }
    return {
      agents: fleet.map(({ name, location: region, registeredAfterMs, provisionedAfterMs, onlineAfterMs, warm }) => ({
        name,
        location: region,
        registeredAfterMs,
        provisionedAfterMs,
        onlineAfterMs,
        ...(warm === undefined ? {} : { warm }),
      })),
      plan,
      phases: { preflightMs, onlineMs: elapsed() - preflightMs, totalMs: elapsed() },
      requests: { arm: services.aci.requestCount, devops: services.pools.requestCount },
    };
  } catch (error) {
    if (error instanceof StepCancelled) throw await cancelledBeforeCreating(config, services, names);
    if (error instanceof StepTimedOut) throw new StartFailure(`timeoutMinutes (${config.timeoutMinutes}) passed during pre-flight${waitingFor(inFlight)}. Nothing was created.`);
    throw error;
  } finally {
    step.clear();
    services.signal.removeEventListener("abort", onCancel);
  }
}

/** Registers and creates every agent and watches until every agent is online; the first failure ends all. */
async function bringOnline(run: StartRun, work: AbortController, stepSignal: AbortSignal): Promise<void> {
  const onStepEnd = () => { work.abort(stepSignal.reason); };
  stepSignal.addEventListener("abort", onStepEnd, { once: true });
  if (stepSignal.aborted) onStepEnd();
  const tokenAccess = once(async (): Promise<AgentAccess> => run.services.agentCredential());
  const creates = run.fleet.map((agent) =>
    (run.standby === undefined ? createAgent(run, agent, tokenAccess) : claimAgent(run, agent)).catch((error: unknown) => {
      if (work.signal.aborted) return;
      if (agent.state === "taken") {
        work.abort(error);
        return;
      }
      agent.moveTo("failed", describe(error));
      work.abort(new StartFailure(`${agent.name}: ${agent.reason ?? describe(error)}`));
    }),
  );
  try {
    await watchUntilOnline(run);
  } catch (error) {
    throw work.signal.aborted ? work.signal.reason : error;
  } finally {
    // Every agent online, or the step failed: the creates' polling (never an unanswered PUT) ends.
    if (!work.signal.aborted) work.abort(new Error("done"));
    stepSignal.removeEventListener("abort", onStepEnd);
    await Promise.all(creates);
  }
}

/** Calls `make` once, at the first call, and answers its promise to every call. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

/** The failure the step reports: a timeout names the agents not online and what still hung. */
function failureOf(error: unknown, config: StartConfig, fleet: FleetAgent[], inFlight: InFlight): unknown {
  if (!(error instanceof StepTimedOut)) return error;
  const missing = fleet.filter((a) => a.state !== "online").map((a) => a.name);
  return new StepTimedOut(`${missing.length} of ${fleet.length} agent(s) did not come online within ${config.timeoutMinutes} minute(s) (timeoutMinutes): ${missing.join(", ")}${waitingFor(inFlight)}`);
}

function waitingFor(inFlight: InFlight): string {
  const hung = inFlight.describe();
  return hung === "" ? "" : `; still waiting for ${hung}`;
}
