// The emulator's one in-memory state store. Route modules read and change it; nothing else
// holds state. Every state transition of a resource goes through the functions of its route
// module so that it stays explicit.
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";

export interface WellKnownIdentity {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  organization: string;
  projectId: string;
  pool: string;
  pat: string;
  /** The job's System.AccessToken that emulated pipelines get. */
  systemAccessToken: string;
}

export const wellKnown: WellKnownIdentity = {
  tenantId: "72f988bf-0000-4000-8000-0000000e1a70",
  clientId: "5ca1ab1e-0000-4000-8000-0000000c1e17",
  clientSecret: "emulator-client-secret-Ab1~Cd2.Ef3_Gh4",
  subscriptionId: "00000000-0000-4000-8000-00000000a1c1",
  resourceGroup: "ci-agents",
  location: "westeurope",
  organization: "emulator",
  projectId: "b0a7c9f2-0000-4000-8000-00000000b1d1",
  pool: "aci",
  pat: "emulatorpat0000000000000000000000000000000000000000",
  systemAccessToken: "emulator-system-access-token-0000000000000000000000",
};

export interface EntraClient {
  clientId: string;
  tenantId: string;
  secrets: Set<string>;
  /** SHA-1 and SHA-256 thumbprints (base64url) of registered certificates, to their PEM. */
  certificates: Map<string, string>;
  /** Accepts client assertions from the emulated Azure DevOps OIDC issuer. */
  federated: boolean;
}

export interface ResourceGroup {
  name: string;
  location: string;
}

export type ProvisioningState = "Pending" | "Creating" | "Succeeded" | "Failed" | "Deleting";
export type GroupState = "Pending" | "Running" | "Succeeded" | "Failed" | "Stopped";

export interface ArmEvent {
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  name: string;
  message: string;
  type: "Normal" | "Warning";
}

export interface ContainerRuntimeState {
  state: "Waiting" | "Running" | "Terminated";
  startTime?: string;
  finishTime?: string;
  exitCode?: number;
  detailStatus: string;
  restartCount: number;
  previousState?: ContainerRuntimeState;
  events: ArmEvent[];
  log: LogLine[];
}

export interface LogLine {
  at: string;
  text: string;
}

/** A container group as ARM stores it: the PUT body (wire shape) plus what ACI adds. */
export interface ContainerGroupRecord {
  name: string;
  resourceGroup: string;
  location: string;
  /** The request body as received; secrets are kept here and stripped on every read. */
  body: Record<string, unknown>;
  provisioningState: ProvisioningState;
  state: GroupState;
  events: ArmEvent[];
  containers: Map<string, ContainerRuntimeState>;
  createdAt: number;
  /** Bumped on every PUT and delete so that timers of an older generation do nothing. */
  generation: number;
  /** The delete under way, while the group shows `Deleting`. */
  deletion?: OperationRecord;
  /** Handed out by a standby pool (a claim): GET shows `isCreatedFromStandbyPool: true`. */
  createdFromStandbyPool?: boolean;
}

/** A standby container group pool and the instances it keeps. */
export interface StandbyPoolRecord {
  name: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  /** `properties` as received (elasticityProfile, containerGroupProperties, zones). */
  properties: Record<string, unknown>;
  /** The profile revision its instances are made from (the given one, or the latest when the pool was put). */
  revision: number;
  /** Its instances: Creating until they run, then Running (claimable). */
  instances: Set<ContainerGroupRecord>;
  /** Instances being deleted (a drain after a profile change, the pool's delete). */
  draining: Set<ContainerGroupRecord>;
  /** Set while instance creation pauses after a failure (HealthState/degraded). */
  degradedUntil?: number;
  degradedMessage?: string;
  deletion?: OperationRecord;
}

/** A container group profile: its properties at each revision (ACI numbers them from 1). */
export interface ContainerGroupProfileRecord {
  name: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  zones?: string[];
  /** The current revision, raised by each PUT that changes the properties. */
  revision: number;
  /** The properties as received (secrets kept; stripped on every read), by revision. */
  revisions: Map<number, Record<string, unknown>>;
}

export type OperationStatus = "Pending" | "Succeeded" | "Failed";

export interface OperationRecord {
  id: string;
  location: string;
  resourceId: string;
  status: OperationStatus;
  startTime: string;
  endTime?: string;
  error?: { code: string; message: string };
}

export interface Pool {
  id: number;
  name: string;
}

export interface Agent {
  id: number;
  poolId: number;
  name: string;
  version: string;
  osDescription: string;
  enabled: boolean;
  createdOn: string;
  systemCapabilities: Record<string, string>;
  userCapabilities: Record<string, string>;
  publicKey?: { exponent: string; modulus: string };
  /** The client id of the agent's own OAuth credential (its registered key). */
  authorizationClientId: string;
  /** The session the agent holds while its listener runs; an agent with one is online. */
  sessionId?: string;
  /** The job request it runs, if any: the agent is busy until it completes. */
  assignedRequestId?: number;
  /** An agent update the control API asked for: the next message the listener gets is an AgentRefresh to this version. */
  pendingUpdate?: string;
  /** The AES-256 key of the current session (sent to the listener encrypted to its public key). */
  sessionKey?: Buffer;
  /** The message handed out and not yet deleted: handed out again until the listener deletes it. */
  undeliveredMessage?: AgentMessage;
}

/** A message of an agent's queue, as stored (its body in clear; encrypted when handed out). */
export interface AgentMessage {
  messageId: number;
  messageType: "PipelineAgentJobRequest" | "AgentRefresh";
  body: string;
}

export interface JobRequest {
  requestId: number;
  poolId: number;
  /** As Azure DevOps sends them: `NAME` or `NAME -equals VALUE`. */
  demands: string[];
  jobName: string;
  script: string;
  queueTime: string;
  assignedAgentId?: number;
  assignTime?: string;
  messageId?: number;
  lockToken?: string;
  result?: string;
  finishTime?: string;
}

export interface FaultRule {
  id: string;
  service: "entra" | "arm" | "devops" | "imds" | "any";
  method?: string;
  /** Regular expression matched against the request path (without query). */
  path: string;
  /** Answered instead of the route (with `body` and `headers`); without it the route answers. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** The request is held this long before it is answered (by `status`, or by the route). */
  delayMs?: number;
  /**
   * The request never gets an answer; its connection stays open until the client gives up.
   * "before": the route never runs. "after": the route runs (a PUT creates, a DELETE deletes)
   * and only its answer is lost.
   */
  hang?: "before" | "after";
  /** How many matching requests get the fault; then the rule is spent. */
  remaining: number;
  /** How many matching requests pass untouched before the fault applies (default 0). */
  skip?: number;
}

export interface Delays {
  /** PUT accepted until the group is provisioned and its container starts. */
  provisionMs: number;
  /** Container start until the process runs (image pull). */
  pullMs: number;
  /**
   * A delete runs as a long-running operation (202, `Deleting`) and takes this long; 0 makes it
   * synchronous (200). Default: ACI's minute scaled by `defaultDeleteScale`.
   */
  deleteMs: number;
  /** Added to each agent registration (config.sh) request. */
  registrationMs: number;
  /**
   * A config-map-only update until its files are in the containers (and its operation ends).
   * [guess] no public figure (Learn: "quickly"); see emulator/README.md, "Config maps".
   */
  configMapMs: number;
  /** [guess] A claim of a ready standby instance until its operation ends (no public figure). */
  claimMs: number;
  /** [guess, from Learn's health page] How long a degraded standby pool pauses instance creation: 30 s, scaled like deletes. */
  standbyRetryMs: number;
}

export type ArmOperationKind = "reads" | "writes" | "deletes";

/** A token bucket: requests it holds at most, and tokens it gets back per second. */
export interface BucketLimit {
  size: number;
  refillPerSecond: number;
}

/** ARM's default limits per subscription (and per tenant), per principal, since 2024. */
export const armDefaultRequestLimits: Record<ArmOperationKind, BucketLimit> = {
  reads: { size: 250, refillPerSecond: 25 },
  writes: { size: 200, refillPerSecond: 10 },
  deletes: { size: 200, refillPerSecond: 10 },
};

/**
 * What ACI's usage list names in `value[].name.value`, in its order: the quotas a region has
 * (see emulator/README.md, "Quotas and rates").
 */
export const usageNames = [
  "ContainerGroups",
  "StandardCores",
  "StandardSpotCores",
  "StandardK80Cores",
  "StandardP100Cores",
  "StandardV100Cores",
  "DedicatedContainerGroups",
] as const;
export type UsageName = (typeof usageNames)[number];

/**
 * The limits of a region without limits of its own: ACI's documented defaults where they are
 * generous enough for every suite (groups, GPU cores, dedicated groups), more where they are not
 * (cores: 100 groups at ACI's 4-core maximum; documented defaults are 10 or 100).
 */
export const defaultQuota: Readonly<Record<UsageName, number>> = {
  ContainerGroups: 100,
  StandardCores: 400,
  StandardSpotCores: 400,
  StandardK80Cores: 0,
  StandardP100Cores: 0,
  StandardV100Cores: 0,
  DedicatedContainerGroups: 0,
};

/** How many container group creates (or deletes) a subscription may make in 5 minutes and in an hour. */
export interface RateLimits {
  perFiveMinutes: number;
  perHour: number;
}

/** ACI's documented rates per subscription ("Resource and quota limits"): creates, and deletes the same. */
export const aciRateLimits: Readonly<RateLimits> = { perFiveMinutes: 100, perHour: 300 };

export interface Behaviour {
  /** Images whose default entrypoint the emulator knows (any other image idles). */
  images: Map<string, ImageDefinition>;
  /** Locations in which new container groups fail for lack of capacity, and how. */
  capacityFailures: Map<string, "sync" | "async">;
  /** Images (exact references) that cannot be pulled. */
  inaccessibleImages: Set<string>;
  /** Agents whose listener never comes online (by agent name prefix). */
  agentsNeverOnline: string[];
  /** Agent names that Azure DevOps reports busy for this many more delete attempts. */
  busyDeletes: Map<string, number>;
  /** Limits per region (normalised location, e.g. westeurope) over `defaultQuota`. */
  quotas: Map<string, Partial<Record<UsageName, number>>>;
  /** The limits of every region not in `quotas`. */
  defaultQuota: Record<UsageName, number>;
  /** Container group creates per subscription. */
  createRateLimits: RateLimits;
  /** Container group deletes per subscription. */
  deleteRateLimits: RateLimits;
  /** Scales the rates' 5-minute and 1-hour windows (1: real time), so a test can outwait one. */
  rateWindowScale: number;
  /** Page size of list operations (ARM pages with nextLink). */
  listPageSize: number;
  /** When false, PUT bodies are not validated against the swagger. */
  strict: boolean;
  /** Advertised instead of the agent package's real SHA-256 (a corrupted download). */
  agentPackageHash?: string;
  /**
   * The linux-musl-* entries of the agent feed name the glibc (linux-x64) package, as the real
   * feed has published them (fixed in the agent's servicing template in 2026-09).
   */
  muslFeedServesGlibc: boolean;
  /**
   * The Standby Pool Resource Provider has none of the roles it needs (Learn, "Configure role
   * permissions for standby pools"): its pools cannot create instances and turn degraded. True by
   * default, as in a subscription where nobody assigned them yet; set-up grants them.
   */
  standbyProviderWithoutRoles: boolean;
  /**
   * How the agent token endpoint refuses a client it does not know (a deleted registration):
   * 400 with `{"error":"invalid_client"}` as the server's OAuth2TokenController answers (the real
   * listener then retries session creation forever), or 401 (it then stops with VS30063).
   */
  agentTokenRefusal: 400 | 401;
  /** Callers refused Manage on pools: "pat", "accessToken", or a service principal's client id. */
  poolManageDenied: string[];
  /** ARM's throttling buckets (see arm/throttling.ts). */
  armRequestLimits: Record<ArmOperationKind, BucketLimit>;
}

export class EmulatorState {
  clients = new Map<string, EntraClient>();
  resourceGroups = new Map<string, ResourceGroup>();
  containerGroups = new Map<string, ContainerGroupRecord>();
  /** Standby container group pools by groupKey(resourceGroup, name). */
  standbyPools = new Map<string, StandbyPoolRecord>();
  /** Every pool's instances (not container groups of any resource group until claimed). */
  standbyInstances = new Set<ContainerGroupRecord>();
  /** Container group profiles by groupKey(resourceGroup, name). */
  containerGroupProfiles = new Map<string, ContainerGroupProfileRecord>();
  operations = new Map<string, OperationRecord>();
  pools = new Map<number, Pool>();
  agents = new Map<number, Agent>();
  jobRequests = new Map<number, JobRequest>();
  pats = new Set<string>();
  systemAccessTokens = new Set<string>();
  faults: FaultRule[] = [];
  /** ARM's throttling buckets by subscription (or tenant), principal and kind of operation. */
  armBuckets = new Map<string, { tokens: number; refilledAt: number }>();
  /** When the counted container group creates and deletes happened, by subscription and kind. */
  rateCounts = new Map<string, number[]>();
  delays: Delays = defaultDelays();
  behaviour: Behaviour = defaultBehaviour();
  /** Every request the emulator answered (or left hanging), for tests that look for leaked secrets. */
  requestLog: RequestLogEntry[] = [];
  /** Connections of requests that a hang fault holds open; a reset closes them. */
  hungConnections = new Set<Socket>();
  readonly organizationId = "e1a7c0de-0000-4000-8000-00000000c0de";
  private nextId = 1;

  constructor() {
    this.seed();
  }

  newId(): number {
    return this.nextId++;
  }

  reset(): void {
    this.clients.clear();
    this.resourceGroups.clear();
    // A container waiting out its restart backoff must not start again once its group is gone.
    for (const group of [...this.containerGroups.values(), ...this.standbyInstances]) group.generation++;
    this.containerGroups.clear();
    this.containerGroupProfiles.clear();
    this.standbyPools.clear();
    this.standbyInstances.clear();
    this.operations.clear();
    this.pools.clear();
    this.agents.clear();
    this.jobRequests.clear();
    this.pats.clear();
    this.systemAccessTokens.clear();
    this.faults = [];
    this.armBuckets.clear();
    this.rateCounts.clear();
    this.delays = defaultDelays();
    this.behaviour = defaultBehaviour();
    this.requestLog = [];
    for (const connection of this.hungConnections) connection.destroy();
    this.hungConnections.clear();
    this.seed();
  }

  private seed(): void {
    this.clients.set(wellKnown.clientId, {
      clientId: wellKnown.clientId,
      tenantId: wellKnown.tenantId,
      secrets: new Set([wellKnown.clientSecret]),
      certificates: new Map(),
      federated: true,
    });
    this.resourceGroups.set(wellKnown.resourceGroup.toLowerCase(), {
      name: wellKnown.resourceGroup,
      location: wellKnown.location,
    });
    const poolId = this.newId();
    this.pools.set(poolId, { id: poolId, name: wellKnown.pool });
    this.pats.add(wellKnown.pat);
    this.systemAccessTokens.add(wellKnown.systemAccessToken);
  }

  groupKey(resourceGroup: string, name: string): string {
    return `${resourceGroup.toLowerCase()}/${name.toLowerCase()}`;
  }

  /** Whether this very record is the stored one (not replaced, deleted or reset away). */
  isStored(group: ContainerGroupRecord): boolean {
    return this.containerGroups.get(this.groupKey(group.resourceGroup, group.name)) === group || this.standbyInstances.has(group);
  }

  poolByName(name: string): Pool | undefined {
    for (const pool of this.pools.values()) if (pool.name.toLowerCase() === name.toLowerCase()) return pool;
    return undefined;
  }

  agentByName(poolId: number, name: string): Agent | undefined {
    for (const agent of this.agents.values()) {
      if (agent.poolId === poolId && agent.name.toLowerCase() === name.toLowerCase()) return agent;
    }
    return undefined;
  }

  newGuid(): string {
    return randomUUID();
  }
}

export interface RequestLogEntry {
  service: string;
  method: string;
  url: string;
  userAgent: string;
  /** 0 for a request that a hang fault never answered. */
  status: number;
  requestBody: string;
  responseBody: string;
  /** When the request arrived. */
  receivedAt: string;
  /** When it was answered (or, for a hung request, given up on by the emulator). */
  at: string;
}

/** How long an ACI container group delete takes (reports of 30 s to 90 s; see the README). */
export const aciDeleteMs = 60_000;
/**
 * [guess] How long a config-map-only update takes to reach the files: no public figure (ACI's
 * page says "quickly"); Kubernetes, whose kubelet refreshes configMap volumes on its sync loop,
 * documents up to its sync period (1 min) plus its cache's TTL. The emulator takes 1 s.
 */
export const defaultConfigMapMs = 1_000;
/**
 * How long ARM takes to answer a claim: azure-cli's three recorded claims of a warm instance
 * (2024-10, 2025-07) were answered 4 to 5 s after the edge received them (README).
 */
export const defaultClaimMs = 4_000;
/** Deletes are slow by default but scaled down so that a test suite stays fast. */
export const defaultDeleteScale = 1 / 100;

function defaultDelays(): Delays {
  return { provisionMs: 0, pullMs: 0, deleteMs: aciDeleteMs * defaultDeleteScale, registrationMs: 0, configMapMs: defaultConfigMapMs, claimMs: defaultClaimMs, standbyRetryMs: 30_000 * defaultDeleteScale };
}

export interface ImageDefinition {
  /** Command (argv) the image runs when the container group gives none. */
  entrypoint: string[];
  /** The image already holds the Azure Pipelines agent under $AZP_HOME/agent. */
  agentPreinstalled: boolean;
  /**
   * Programs in which the image differs from this machine: name → shell script, found on PATH
   * before the machine's own (e.g. an `ldconfig` whose cache has no libicu).
   */
  programs?: Record<string, string>;
}

function defaultBehaviour(): Behaviour {
  return {
    images: new Map(),
    capacityFailures: new Map(),
    inaccessibleImages: new Set(),
    agentsNeverOnline: [],
    busyDeletes: new Map(),
    poolManageDenied: [],
    quotas: new Map(),
    defaultQuota: { ...defaultQuota },
    createRateLimits: { ...aciRateLimits },
    deleteRateLimits: { ...aciRateLimits },
    rateWindowScale: 1,
    listPageSize: 100,
    strict: true,
    muslFeedServesGlibc: false,
    standbyProviderWithoutRoles: true,
    agentTokenRefusal: 400,
    armRequestLimits: { ...armDefaultRequestLimits },
  };
}
