// Registering one agent from outside its container, as its config.sh would: the agent with its
// own public key and the capabilities the run's demands rely on, then the run's pinning values
// as user capabilities, which no agent session can change. The answer becomes the agent's three
// files, the only thing its container gets.
import { Backoff } from "../core/clock";
import { RequestTimeout, unlessAborted } from "../core/deadline";
import { DevOpsError, type AgentRegistration, type RegisteredPoolAgent } from "../devops/client";
import { agentFiles, type AgentKey, type IdentityFileName, type RegisteredAgent } from "../run/agentIdentity";
import { FLEET_VARIABLE, RUN_ID_VARIABLE, fleetName } from "../run/names";
import { AGENT_WORK_FOLDER, type AgentPackages } from "./containerGroupSpec";
import type { StartRun } from "./context";
import { describe, StartFailure } from "./failures";
import type { FleetAgent } from "./fleet";
import type { StartConfig } from "./inputs";

/** Registers the agent and answers its files; the agent is `taken` when another step holds its name. */
export async function registerAgent(run: StartRun, agent: FleetAgent, packages: AgentPackages): Promise<Record<IdentityFileName, string>> {
  const { services, signal, inFlight } = run;
  if (agent.key === undefined) throw new Error(`${agent.name}: no key was made for it`);
  const key = await inFlight.track(`the key of agent ${agent.name}`, unlessAborted(agent.key, signal));
  services.keepSecret(key.parameters.d);
  agent.moveTo("registering");
  const identity = await registerWithPublicKey(run, agent, key.publicKey, packages);
  await pinToRun(run, identity);
  const files = agentFiles(identity, key);
  services.keepSecret(Buffer.from(files.credentials_rsaparams, "utf8").toString("base64"));
  return files;
}

/**
 * Registers the agent with a public key (the step's own, or one a standby container made and
 * printed) and answers what its `.agent` and `.credentials` name. The agent is `taken` when
 * another step holds its name. The registration carries the run's pinning values as system
 * capabilities; `pinToRun` makes them user capabilities.
 */
export async function registerWithPublicKey(run: StartRun, agent: FleetAgent, publicKey: AgentKey["publicKey"], packages: AgentPackages): Promise<RegisteredAgent> {
  const { config, pool } = run;
  const registered = await register(run, agent, registrationOf(config, agent.name, { publicKey }, packages.glibc.version), publicKey);
  agent.agentId = registered.id;
  agent.registeredAfterMs ??= run.elapsed();
  return {
    agentId: registered.id,
    agentName: registered.name,
    poolId: pool.id,
    poolName: pool.name,
    serverUrl: serverUrlOf(registered, config.organizationUrl),
    workFolder: AGENT_WORK_FOLDER,
    clientId: registered.authorization.clientId,
    authorizationUrl: registered.authorization.authorizationUrl,
    oauthEndpointUrl: oauthEndpointOf(registered.authorization.authorizationUrl, config.organizationUrl),
  };
}

/**
 * Sets the run's pinning values as the agent's user capabilities, which no agent session can
 * change (each session brings the system capabilities the agent finds itself).
 */
export async function pinToRun(run: StartRun, identity: Pick<RegisteredAgent, "agentId" | "agentName" | "poolId">): Promise<void> {
  await retryingTransient(run, `Azure DevOps to set the user capabilities of agent ${identity.agentName}`, (attemptSignal) =>
    run.services.pools.setUserCapabilities(identity.poolId, identity.agentId, pinningCapabilities(run.config), attemptSignal),
  );
}

/** The body config.sh sends, with the capabilities the run's demands rely on before the agent's first session. */
export function registrationOf(config: Pick<StartConfig, "environmentVariables" | "namePrefix" | "run">, name: string, key: Pick<AgentKey, "publicKey">, agentVersion: string): AgentRegistration {
  return {
    name,
    version: agentVersion,
    osDescription: "Linux",
    maxParallelism: 1,
    provisioningState: "Provisioned",
    authorization: { publicKey: key.publicKey },
    systemCapabilities: {
      ...Object.fromEntries(config.environmentVariables.map(({ name: variable, value }) => [variable, value])),
      ...pinningCapabilities(config),
      "Agent.Name": name,
      "Agent.Version": agentVersion,
      "Agent.OS": "Linux",
    },
  };
}

/** ACI_RUN_ID and ACI_FLEET: what a job's demands pin it to this run's (and fleet's) agents with. */
export function pinningCapabilities(config: Pick<StartConfig, "namePrefix" | "run">): Record<string, string> {
  return { [RUN_ID_VARIABLE]: config.run.runId, [FLEET_VARIABLE]: fleetName(config.namePrefix, config.run.runId) };
}

/**
 * The URL saved in `.agent`, as config.sh chooses it: the registration answer's
 * `properties.ServerUrl` (a bare string, or a PropertiesCollection `{$type, $value}`), kept on the
 * configured URL's scheme, host and port when it names another; the configured URL when absent.
 */
export function serverUrlOf(registered: Pick<RegisteredPoolAgent, "properties">, organizationUrl: string): string {
  const property = registered.properties?.ServerUrl;
  const named = typeof property === "string" ? property : (property as { $value?: unknown } | undefined)?.$value;
  if (typeof named !== "string" || named === "" || !URL.canParse(named)) return organizationUrl;
  const returned = new URL(named);
  const configured = new URL(organizationUrl);
  if (returned.origin.toLowerCase() === configured.origin.toLowerCase()) return named;
  configured.pathname = returned.pathname;
  return configured.toString();
}

/**
 * Where the agent asks for its token: the authorization URL on Azure DevOps Services; on any other
 * server, that URL's path on the configured URL's scheme, host and port (config.sh does the same,
 * since a server behind a proxy names itself by another host).
 */
export function oauthEndpointOf(authorizationUrl: string, organizationUrl: string): string {
  const configured = new URL(organizationUrl);
  if (/(^|\.)dev\.azure\.com$|\.visualstudio\.com$/i.test(configured.hostname)) return authorizationUrl;
  const endpoint = new URL(authorizationUrl);
  endpoint.protocol = configured.protocol;
  // Host and port apart: setting `host` without a port keeps the old port.
  endpoint.hostname = configured.hostname;
  endpoint.port = configured.port;
  return endpoint.toString();
}

/**
 * Sends the registration until Azure DevOps answers it, within the step's time. A retry after an
 * answer that was lost may find the name taken: by this step's own registration when it holds
 * this agent's public key, or by anyone else's, which is left alone.
 */
async function register(run: StartRun, agent: FleetAgent, registration: AgentRegistration, publicKey: AgentKey["publicKey"]): Promise<RegisteredPoolAgent> {
  const { services, pool, signal, config } = run;
  return retryingTransient(run, `Azure DevOps to register agent ${agent.name}`, async () => {
    const post = services.pools.registerAgent(pool.id, registration);
    const settled = post.then(
      (answer) => answer.id,
      () => undefined,
    );
    agent.unansweredRegistration = settled;
    try {
      return await unlessAborted(post, signal);
    } catch (error) {
      if (!(error instanceof DevOpsError) || error.status !== 409) throw error;
      if (!(await removedOwnRegistration(run, agent, publicKey))) {
        agent.moveTo("taken", `the agent ${agent.name} is already registered in pool '${pool.name}' by someone else (another start step with namePrefix '${config.namePrefix}'?); it is left alone`);
        throw new StartFailure(`namePrefix: ${agent.reason ?? ""}`);
      }
      throw new RegistrationAnswerLost(agent.name);
    } finally {
      // Cut short by a cancel, the registration stays unanswered for the clean-up to follow.
      if (!signal.aborted) {
        await settled;
        agent.unansweredRegistration = undefined;
      }
    }
  });
}

/** This step's own registration was made, but its answer (the agent's OAuth client) was lost: register again. */
class RegistrationAnswerLost extends Error {
  override readonly name = "RegistrationAnswerLost";
  constructor(agentName: string) {
    super(`the answer to the registration of agent ${agentName} was lost; its registration was removed and is sent again`);
  }
}

/**
 * The registration of this name is this step's own when it holds this agent's public key (only a
 * single agent's GET shows the key, and not the OAuth client's URL the files need): remove it, so
 * that the registration can be sent again. Anyone else's is left alone.
 */
async function removedOwnRegistration(run: StartRun, agent: FleetAgent, publicKey: AgentKey["publicKey"]): Promise<boolean> {
  const { pools } = run.services;
  const [named] = await pools.agentsNamed(run.pool.id, agent.name, run.signal);
  const found = named === undefined ? undefined : await pools.agent(run.pool.id, named.id, run.signal);
  if (found?.authorization?.publicKey?.modulus !== publicKey.modulus) return false;
  await pools.deleteAgent(run.pool.id, found.id, run.signal);
  return true;
}

/**
 * Runs `call` again after Azure DevOps failed with a 5xx or 429 (the pipeline's own retries spent)
 * or did not answer within a request's deadline, until the step ends.
 */
async function retryingTransient<T>(run: StartRun, what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const backoff = new Backoff(1000, 10_000);
  for (;;) {
    try {
      return await run.inFlight.track(what, call(run.signal));
    } catch (error) {
      if (run.signal.aborted || !isTransient(error)) throw error;
      run.services.log.warning(`${what}: ${describe(error)}; trying again`);
      await run.services.clock.sleep(backoff.next(), run.signal);
    }
  }
}

function isTransient(error: unknown): boolean {
  if (error instanceof RequestTimeout || error instanceof RegistrationAnswerLost) return true;
  return error instanceof DevOpsError && (error.status >= 500 || error.status === 429);
}
