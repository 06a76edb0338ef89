// Claiming one agent from a standby pool: the claim (a create-only PUT naming the pool and its
// profile, whose container carries only a config map with the run's keys), the run's tags by a
// tags-only PATCH (a claim's tags are not kept), the public key the container made and printed,
// the agent's registration with that key, and the config-map-only update that completes the
// claim: the container then writes its files and starts its listener. The group never gets any
// other update, which would restart it and lose the key made inside.
import type { StandbyPoolInfo } from "../azure/aci";
import { Backoff, formatSeconds } from "../core/clock";
import { unlessAborted } from "../core/deadline";
import { armPacing } from "../run/armPacing";
import type { AgentKey, RegisteredAgent } from "../run/agentIdentity";
import { FLEET_VARIABLE, RUN_ID_VARIABLE, STANDBY_CONTAINER, fleetName } from "../run/names";
import { NEVER_EXPIRES, OWN_TAGS } from "../run/tags";
import { writeWaitingOutRate } from "./armRate";
import type { StartRun } from "./context";
import { describe, StartFailure } from "./failures";
import type { FleetAgent } from "./fleet";
import { pinToRun, registerWithPublicKey } from "./register";

/** The line a standby container prints once its key is made (again at each start of its script). */
const PUBLIC_KEY_LINE = /^aci-agent-public-key exponent=(\S+) modulus=(\S+)\s*$/gm;

/**
 * The public key in a standby container's log: the last one printed, since a container started
 * again in its pool (restart count unchanged, as azure-cli's recordings show) made a new key.
 */
export function printedPublicKey(log: string): AgentKey["publicKey"] | undefined {
  let key: AgentKey["publicKey"] | undefined;
  for (const [, exponent, modulus] of log.matchAll(PUBLIC_KEY_LINE)) {
    if (exponent !== undefined && modulus !== undefined) key = { exponent, modulus };
  }
  return key;
}

export async function claimAgent(run: StartRun, agent: FleetAgent): Promise<void> {
  const { config, services, signal, inFlight, elapsed, standby } = run;
  const { log } = services;
  if (standby === undefined || services.standby === undefined || run.packages === undefined) throw new Error(`${agent.name}: no standby pool to claim it from`);
  const api = services.standby;
  const { operationPollMs } = armPacing(config.agentCount);
  agent.location = standby.pool.location;
  agent.moveTo("creating");
  agent.lastWatchAt = services.clock.now();
  const claimed = await writeWaitingOutRate(run, agent, `claim of container group ${agent.name}`, async () => {
    const claim = api.claim(config.resourceGroup, agent.name, claimBody(standby.pool, runKeys(run, agent)), { signal, pollIntervalMs: operationPollMs });
    agent.unansweredPut = claim.then(
      () => undefined,
      () => undefined,
    );
    return inFlight.track(`ARM to answer the claim of container group ${agent.name} from standby pool '${standby.pool.name}'`, unlessAborted(claim, signal)).finally(() => {
      if (!signal.aborted) agent.unansweredPut = undefined;
    });
  });
  agent.warm = claimed.isCreatedFromStandbyPool;
  // A warm group runs (the claim's answer says so): the watch reads it a group-read interval after
  // the claim, not in the moments its key is read and registered. A fresh one is followed at once.
  if (!agent.warm) agent.lastWatchAt = Number.NEGATIVE_INFINITY;
  // While the claim's operation ends and the tags go on, the container's key is read and
  // registered: the group exists once the PUT is answered, and a warm one printed its key long ago.
  const claimedAndTagged = (async () => {
    await inFlight.track(`ARM to end the claim of container group ${agent.name}`, claimed.untilDone(signal));
    await writeWaitingOutRate(run, agent, `tags PATCH of container group ${agent.name}`, () =>
      inFlight.track(`ARM to tag container group ${agent.name}`, api.tagGroup(config.resourceGroup, agent.name, agent.tags, { signal })),
    );
    if (agent.state === "creating") agent.moveTo("provisioned");
    agent.provisionedAfterMs ??= elapsed();
    log.info(`${agent.name}: claimed ${agent.warm === true ? "warm from" : "fresh (the pool had no ready instance) through"} standby pool '${standby.pool.name}' in ${agent.location} after ${formatSeconds(elapsed())}`);
  })();
  const registered = registerClaimed(run, agent);
  // The first failure of either is the step's (Promise.all observes both).
  const [, identity] = await Promise.all([claimedAndTagged, registered]);
  // agentId last: its file tells the container that the claim is complete, and a config map's
  // files may change one by one, perhaps in this order.
  const keyValuePairs: Record<string, string> = {
    agentName: identity.agentName,
    poolId: String(identity.poolId),
    poolName: identity.poolName,
    serverUrl: identity.serverUrl,
    clientId: identity.clientId,
    authorizationUrl: identity.authorizationUrl,
    oauthEndpointUrl: identity.oauthEndpointUrl,
    ...runKeys(run, agent),
    agentId: String(identity.agentId),
  };
  agent.identitySent = true;
  // The registration carries the pinning values already: the config map need not wait for them
  // to become user capabilities (Promise.all observes both).
  await Promise.all([pinToRun(run, identity), updateConfigMap(run, agent, keyValuePairs)]);
}

/**
 * The keys of the run, which the claim already carries: once they are in its config map, the
 * container knows it is claimed and looks for the rest (the agent's identity) more often.
 */
function runKeys(run: StartRun, agent: FleetAgent): Record<string, string> {
  const { config } = run;
  return {
    [RUN_ID_VARIABLE]: config.run.runId,
    [FLEET_VARIABLE]: fleetName(config.namePrefix, config.run.runId),
    once: String(config.ephemeral),
    expiresAt: agent.tags[OWN_TAGS.expires] ?? NEVER_EXPIRES,
  };
}

/**
 * The config-map-only update that completes the claim; its failure names the agent's update and
 * ARM's answer. Its operation is followed at the fleet's pace, for a failure only: the agent
 * coming online says it succeeded, and the step ends then.
 */
async function updateConfigMap(run: StartRun, agent: FleetAgent, keyValuePairs: Record<string, string>): Promise<void> {
  const { config, services, signal, inFlight, elapsed, standby } = run;
  if (services.standby === undefined || standby === undefined) throw new Error(`${agent.name}: no standby pool`);
  const api = services.standby;
  const { operationPollMs } = armPacing(config.agentCount);
  try {
    const update = await writeWaitingOutRate(run, agent, `config map update of container group ${agent.name}`, () =>
      inFlight.track(`ARM to update the config map of container group ${agent.name}`, api.updateConfigMap(config.resourceGroup, agent.name, configMapUpdateBody(standby.pool, keyValuePairs), { signal, pollIntervalMs: operationPollMs })),
    );
    services.log.info(`${agent.name}: registered and handed its config map after ${formatSeconds(elapsed())}`);
    await inFlight.track(`ARM to end the config map update of container group ${agent.name}`, update.untilDone(signal));
  } catch (error) {
    if (signal.aborted) throw error;
    throw new StartFailure(`its config map update, which completes the claim, failed: ${describe(error)}`);
  }
}

/** The key the claimed container printed, checked to be its own, and the agent registered with it. */
async function registerClaimed(run: StartRun, agent: FleetAgent): Promise<RegisteredAgent> {
  if (run.packages === undefined) throw new Error(`${agent.name}: no agent package`);
  const publicKey = await run.inFlight.track(`container group ${agent.name} to print its public key (line 'aci-agent-public-key …' in the log of container ${STANDBY_CONTAINER})`, publicKeyOf(run, agent));
  const holder = run.publicKeys.get(publicKey.modulus);
  if (holder !== undefined) {
    throw new StartFailure(
      `its container printed the same public key as ${holder}'s, which this step already registered; each standby container must make its own key, so the image has one baked in (remove any .aci-agent-key.pem from the image and rebuild it)`,
    );
  }
  run.publicKeys.set(publicKey.modulus, agent.name);
  return registerWithPublicKey(run, agent, publicKey, run.packages);
}

/** The claim's body: the pool, its profile, and the container's config map (a claim may carry nothing else). */
export function claimBody(pool: Pick<StandbyPoolInfo, "id" | "location" | "profileId" | "profileRevision">, keyValuePairs: Record<string, string>): Record<string, unknown> {
  return { location: pool.location, properties: { standbyPoolProfile: { id: pool.id, failContainerGroupCreateOnReuseFailure: false }, ...profileAndConfigMap(pool, keyValuePairs) } };
}

/**
 * The config-map-only update of a claimed group, as Learn's "Config maps" page updates a group made
 * from a profile: the profile and the container's config map, and not the pool, which only a
 * create names.
 */
export function configMapUpdateBody(pool: Pick<StandbyPoolInfo, "location" | "profileId" | "profileRevision">, keyValuePairs: Record<string, string>): Record<string, unknown> {
  return { location: pool.location, properties: profileAndConfigMap(pool, keyValuePairs) };
}

/** What a claim and its config-map update both carry: the profile and the container's config map. */
function profileAndConfigMap(pool: Pick<StandbyPoolInfo, "profileId" | "profileRevision">, keyValuePairs: Record<string, string>): Record<string, unknown> {
  return {
    containerGroupProfile: { id: pool.profileId, ...(pool.profileRevision === undefined ? {} : { revision: pool.profileRevision }) },
    containers: [{ name: STANDBY_CONTAINER, properties: { configMap: { keyValuePairs } } }],
  };
}

/** The public key a claimed container printed: its log read at a pace until the line shows, within the step's time. */
async function publicKeyOf(run: StartRun, agent: FleetAgent): Promise<AgentKey["publicKey"]> {
  const { config, services, signal } = run;
  // A warm container printed it long ago; a fresh one prints it once its dependencies are in.
  const backoff = new Backoff(250, 2000);
  for (;;) {
    signal.throwIfAborted();
    const text = await services.aci.logs(config.resourceGroup, agent.name, STANDBY_CONTAINER, undefined, { signal }).catch((error: unknown) => {
      if (signal.aborted) throw error;
      // Not there yet (a fresh group's container not started), or a hung read: read again.
      return "";
    });
    const key = printedPublicKey(text);
    if (key !== undefined) return key;
    await services.clock.sleep(backoff.next(), signal);
  }
}
