// What the start step's parts share: the services it talks to, and the one run they work on.
import type { AciApi, ProfileInfo, StandbyApi, StandbyPoolInfo } from "../azure/aci";
import type { Clock } from "../core/clock";
import type { AgentPool } from "../devops/client";
import type { TaskPlatform } from "../platform/types";
import type { AgentKey } from "../run/agentIdentity";
import type { AgentCredential } from "../run/inputs";
import type { AgentRegistry } from "../run/pools";
import type { AgentPackages } from "./containerGroupSpec";
import type { FleetAgent } from "./fleet";
import type { InFlight } from "./inFlight";
import type { StartConfig } from "./inputs";
import type { FleetPlan } from "./plan";

export type StartLog = Pick<TaskPlatform, "info" | "warning" | "error" | "debug" | "infoExternal" | "setProgress">;

export interface StartServices {
  aci: AciApi;
  /** The claims of a start with standbyPool (SdkAci implements both). */
  standby?: StandbyApi;
  pools: AgentRegistry;
  log: StartLog;
  clock: Clock;
  /** Aborted when the pipeline cancels the step. */
  signal: AbortSignal;
  bootstrapScript: string;
  /** What a Windows container (the token path) configures its agent with; asked for only then. */
  agentCredential: () => Promise<AgentCredential>;
  /** Makes one agent's key (makeAgentKey: a fresh key each call, never reused). */
  makeKey: () => Promise<AgentKey>;
  /** Masks a secret the step made (an agent's private key) in everything the step prints. */
  keepSecret: (value: string) => void;
}

/** One start step's run, after pre-flight: what every part of creating and watching needs. */
export interface StartRun {
  config: StartConfig;
  services: StartServices;
  pool: AgentPool;
  fleet: FleetAgent[];
  /** `location`, then the fallback regions. */
  regions: string[];
  /** The fleet's plan across the regions, from their Container Instances usage; undefined when it could not be read. */
  plan: FleetPlan | undefined;
  /** The agent package feed's entries (Linux agents registered by the step). */
  packages: AgentPackages | undefined;
  /** Ends at timeoutMinutes, on cancel, and on the first failure. */
  signal: AbortSignal;
  /** Milliseconds since the step started. */
  elapsed: () => number;
  inFlight: InFlight;
  /** The standby pool the agents are claimed from (standbyPool), with its profile. */
  standby: StandbyTarget | undefined;
  /** The public keys this step registered (modulus → agent name): a key seen twice was baked into the image. */
  publicKeys: Map<string, string>;
}

export interface StandbyTarget {
  pool: StandbyPoolInfo;
  profile: ProfileInfo | undefined;
}
