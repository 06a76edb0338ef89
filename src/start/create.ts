// Creating one agent: its registration (Linux agents, registered by the step), then its container
// group: a create-only PUT in its planned region, the next region when ACI has no capacity or the
// region's quota is used up, the same region again after the time ARM asks when it refuses for
// a rate (armRate.ts), and the SDK's own poller until the create operation ends.
import { AzureError, type GroupSnapshot } from "../azure/aci";
import { formatSeconds } from "../core/clock";
import { unlessAborted } from "../core/deadline";
import { armPacing } from "../run/armPacing";
import { OWN_TAGS } from "../run/tags";
import { writeWaitingOutRate } from "./armRate";
import { containerGroupFor, type AgentAccess } from "./containerGroupSpec";
import type { StartRun } from "./context";
import { StartFailure } from "./failures";
import type { FleetAgent } from "./fleet";
import { registerAgent } from "./register";

export async function createAgent(run: StartRun, agent: FleetAgent, tokenAccess: () => Promise<AgentAccess>): Promise<void> {
  const { config, services, signal, inFlight, elapsed } = run;
  const { aci, log } = services;
  // A Linux agent is registered by the step and gets its files; a Windows image registers itself.
  const access: AgentAccess = run.packages === undefined ? await tokenAccess() : { kind: "identity", files: await registerAgent(run, agent, run.packages), packages: run.packages };
  const { operationPollMs } = armPacing(config.agentCount);
  const quotaRefusals: string[] = [];
  for (let attempt = 0; attempt < agent.regions.length; ) {
    const location = agent.regions[attempt] ?? "";
    signal.throwIfAborted();
    agent.location = location;
    try {
      const operation = await writeWaitingOutRate(run, agent, `create of container group ${agent.name} in ${location}`, () => {
        agent.moveTo("creating");
        const spec = containerGroupFor(config, agent, location, services.bootstrapScript, access);
        let accepted = false;
        const put = aci.beginCreate(config.resourceGroup, spec, { signal, pollIntervalMs: operationPollMs, onAccepted: () => { accepted = true; } });
        agent.unansweredPut = answered(put);
        const waitingFor = () =>
          accepted ? `ARM to answer the first poll of the create operation of container group ${agent.name}` : `ARM to answer the create of container group ${agent.name}`;
        return inFlight.track(waitingFor, unlessAborted(put, signal)).finally(() => {
          // Cut short by a cancel, the PUT stays unanswered for the clean-up to follow.
          if (!signal.aborted) agent.unansweredPut = undefined;
        });
      });
      await inFlight.track(`ARM to end the create operation of container group ${agent.name}`, operation.untilDone(signal));
      if (agent.state === "creating") agent.moveTo("provisioned");
      agent.provisionedAfterMs ??= elapsed();
      log.info(`${agent.name}: container group provisioned in ${location} after ${formatSeconds(elapsed())}`);
      return;
    } catch (error) {
      if (error instanceof AzureError && error.status === 412) {
        await judgeExisting(run, agent);
        return;
      }
      if (!(error instanceof AzureError) || signal.aborted) throw error;
      const quota = quotaExceeded(error);
      if (quota === undefined && !isCapacityError(error)) throw error;
      if (quota !== undefined) quotaRefusals.push(location);
      const next = agent.regions[attempt + 1];
      if (next === undefined) throw quota === undefined ? error : quotaUsedUp(run, quota, quotaRefusals, error);
      if (quota === undefined) log.warning(`${agent.name}: no capacity in ${location} (${error.message}); trying ${next}`);
      else log.warning(`${agent.name}: the ${quota} quota of ${location} is used up (${error.message}); trying ${next}`);
      // A PUT refused for quota created nothing, so the name is free in the next region at once.
      // Otherwise it is free only once this group is gone; a cancel ends the wait.
      if (quota === undefined || error.status === undefined) await aci.delete(config.resourceGroup, agent.name, { signal, pollIntervalMs: operationPollMs });
      attempt++;
    }
  }
}

/** No capacity in the region: another region may still have some. */
export function isCapacityError(error: AzureError): boolean {
  return error.code === "ServiceUnavailable" || /not available in the location/i.test(error.message);
}

/**
 * The quota a create exceeded (StandardCores, ContainerGroups, …), recognised by ACI's published
 * message whatever the code: "Resource type 'Microsoft.ContainerInstance/containerGroups'
 * container group quota 'StandardCores' exceeded in region 'eastus'. Limit: '10', Usage: '10'
 * Requested: '1'." Another region may still have room.
 */
export function quotaExceeded(error: AzureError): string | undefined {
  return /container group quota '([^']+)' exceeded in region/i.exec(error.message)?.[1];
}

/** The last region refused for quota too: what was tried, and the ways out. */
function quotaUsedUp(run: StartRun, quota: string, refusedIn: readonly string[], error: AzureError): StartFailure {
  return new StartFailure(
    `the Container Instances quota '${quota}' is used up in ${refusedIn.join(", ")} (another fleet took the room after pre-flight?): ${error.message} Lower agentCount or cpu, add regions to fallbackLocations, or request more quota on the Azure portal's Quotas page (provider: Container Instances)${run.plan === undefined ? "" : "; pre-flight had planned room for the whole fleet"}.`,
  );
}

/**
 * ACI refused the create-only PUT because the group exists: this step's own PUT, retried by the
 * SDK after its answer was lost, or another step's group, which must be left alone.
 */
async function judgeExisting(run: StartRun, agent: FleetAgent): Promise<void> {
  const group = await run.services.aci.get(run.config.resourceGroup, agent.name, { signal: run.signal });
  if (group !== undefined && isThisStepsGroup(group, agent.tags)) return;
  agent.moveTo("taken", `the container group ${agent.name} was created by another step meanwhile (another start step with namePrefix '${run.config.namePrefix}'?); it is left alone`);
  throw new StartFailure(`namePrefix: ${agent.reason ?? ""}`);
}

/** The tags this step put on the group: same run, same agent, same creation time. */
export function isThisStepsGroup(group: Pick<GroupSnapshot, "tags">, tags: Record<string, string>): boolean {
  return [OWN_TAGS.run, OWN_TAGS.agent, OWN_TAGS.created].every((tag) => group.tags[tag] !== undefined && group.tags[tag] === tags[tag]);
}

/** Settles when the PUT is answered, however: even a create that failed at once may have left its group. */
function answered(put: Promise<unknown>): Promise<void> {
  return put.then(
    () => undefined,
    () => undefined,
  );
}
