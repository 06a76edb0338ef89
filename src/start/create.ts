// Creating one agent: its registration (Linux agents, registered by the step), then its container
// group: a create-only PUT in the first region, the next region when ACI has no capacity, and the
// SDK's own poller until the create operation ends.
import { AzureError, type GroupSnapshot } from "../azure/aci";
import { formatSeconds } from "../core/clock";
import { unlessAborted } from "../core/deadline";
import { armPacing } from "../run/armPacing";
import { OWN_TAGS } from "../run/tags";
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
  for (const [attempt, location] of run.regions.entries()) {
    signal.throwIfAborted();
    agent.location = location;
    agent.moveTo("creating");
    const spec = containerGroupFor(config, agent, location, services.bootstrapScript, access);
    try {
      let accepted = false;
      const put = aci.beginCreate(config.resourceGroup, spec, { signal, pollIntervalMs: operationPollMs, onAccepted: () => { accepted = true; } });
      agent.unansweredPut = answered(put);
      const waitingFor = () =>
        accepted ? `ARM to answer the first poll of the create operation of container group ${agent.name}` : `ARM to answer the create of container group ${agent.name}`;
      const operation = await inFlight.track(waitingFor, unlessAborted(put, signal)).finally(() => {
        // Cut short by a cancel, the PUT stays unanswered for the clean-up to follow.
        if (!signal.aborted) agent.unansweredPut = undefined;
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
      const next = run.regions[attempt + 1];
      if (!(error instanceof AzureError) || !isCapacityError(error) || next === undefined || signal.aborted) throw error;
      log.warning(`${agent.name}: no capacity in ${location} (${error.message}); trying ${next}`);
      // The name is free in the next region only once this group is gone; a cancel ends the wait.
      await aci.delete(config.resourceGroup, agent.name, { signal, pollIntervalMs: operationPollMs });
    }
  }
}

/** No capacity, or the region's quota used up: another region may still have room. */
export function isCapacityError(error: AzureError): boolean {
  return error.code === "ServiceUnavailable" || /not available in the location|quota .* exceeded in region/i.test(error.message);
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
