// The agent pool as both tasks use it, and what a refusal of the registering identity means.
import { InputError } from "../core/errors";
import { DevOpsError, type AgentPackage, type AgentPool, type AgentRegistration, type PoolAgent, type RegisteredPoolAgent } from "../devops/client";
import type { Registration } from "./inputs";

/** Every call takes the step's cancel and timeout signal; each request also has its own deadline. */
export interface PoolApi {
  findPool(name: string, signal?: AbortSignal): Promise<AgentPool | undefined>;
  canManagePool(poolId: number, signal?: AbortSignal): Promise<boolean>;
  listAgents(poolId: number, signal?: AbortSignal): Promise<PoolAgent[]>;
  deleteAgent(poolId: number, agentId: number, signal?: AbortSignal): Promise<boolean>;
  readonly requestCount: number;
}

/** The pool as the start step uses it: it also reads the agent feed and registers agents. */
export interface AgentRegistry extends PoolApi {
  agentsNamed(poolId: number, name: string, signal?: AbortSignal): Promise<PoolAgent[]>;
  agent(poolId: number, agentId: number, signal?: AbortSignal): Promise<PoolAgent | undefined>;
  /** Ends only at its own deadline: a registration answered after a cancel must be removed. */
  registerAgent(poolId: number, registration: AgentRegistration): Promise<RegisteredPoolAgent>;
  setUserCapabilities(poolId: number, agentId: number, capabilities: Record<string, string>, signal?: AbortSignal): Promise<void>;
  agentPackage(platform: string, signal?: AbortSignal): Promise<AgentPackage | undefined>;
}

/** Azure DevOps refusing the registering credentials is a problem with an input: say which. */
export function namingRegistrationInput(error: unknown, registration: Registration): unknown {
  if (!(error instanceof DevOpsError) || error.status !== 401) return error;
  return new InputError([`${registration.auth === "pat" ? "registrationToken" : "registrationAuth"}: ${error.message}`]);
}
