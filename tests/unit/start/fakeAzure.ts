// ACI and an agent pool in memory, on the global timers, for runStart's tests under sinon's fake
// timers. A create is answered after `putMs`, the group is provisioned `provisionMs` later and its
// agent online `onlineMs` after that. Any call can be made to hang: it then never answers, but
// gives up when its abort signal fires, as the SDK does with `abortSignal`.
import type { ContainerGroup } from "@azure/arm-containerinstance";
import { AzureError, type AcceptedWrite, type AciApi, type AciUsage, type ClaimResult, type ContainerSnapshot, type CreateOperation, type CreateOptions, type GroupSnapshot, type OperationOptions, type ProfileInfo, type RequestOptions, type StandbyApi, type StandbyPoolInfo } from "../../../src/azure/aci";
import { DevOpsError, type AgentPackage, type AgentPool, type AgentRegistration, type PoolAgent, type RegisteredPoolAgent } from "../../../src/devops/client";
import type { AgentRegistry } from "../../../src/run/pools";
import { RequestTimeout } from "../../../src/core/deadline";

const armRequestDeadlineMs = 60_000;

export type Hangable = "put" | "get" | "poll" | "list" | "listAgents" | "deleteWait" | "register";

const devopsRequestDeadlineMs = 60_000;

export interface Call {
  at: number;
  op: string;
  name?: string;
}

/** Calls of both fakes, in order, with the (fake) time each was made. */
export class CallLog {
  readonly calls: Call[] = [];

  record(op: string, name?: string): void {
    this.calls.push({ at: Date.now(), op, ...(name === undefined ? {} : { name }) });
  }

  of(op: string): Call[] {
    return this.calls.filter((c) => c.op === op);
  }
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    }, { once: true });
  });
}

function hang(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted === true) reject(signal.reason as Error);
    signal?.addEventListener("abort", () => { reject(signal.reason as Error); }, { once: true });
  });
}

/** The signal of either call shape: `{ signal }` (today's) or a bare AbortSignal. */
function signalOf(options: RequestOptions | AbortSignal | undefined): AbortSignal | undefined {
  return options instanceof AbortSignal ? options : options?.signal;
}

export class FakePool implements AgentRegistry {
  readonly pool: AgentPool = { id: 7, name: "aci", isHosted: false };
  readonly agents = new Map<string, PoolAgent>();
  readonly hangs = new Set<Hangable>();
  /** User capabilities set per agent name. */
  readonly userCapabilities = new Map<string, Record<string, string>>();
  /** How long a registration takes to be answered (the registration is made when it is answered). */
  registerMs = 100;
  /** How long setting an agent's user capabilities takes to be answered. */
  capabilitiesMs = 0;
  /** What setting user capabilities fails with, if anything. */
  capabilitiesFailure: Error | undefined;
  requestCount = 0;
  private nextId = 1;

  constructor(readonly log: CallLog) {}

  /** Its listener opened a session: the registration the step made goes online (or one appears, on the token path). */
  bringOnline(name: string): void {
    const registered = this.agents.get(name);
    if (registered !== undefined) registered.status = "online";
    else this.agents.set(name, { id: this.nextId++, name, status: "online", enabled: true });
  }

  async registerAgent(_poolId: number, registration: AgentRegistration): Promise<RegisteredPoolAgent> {
    this.requestCount++;
    this.log.record("register", registration.name);
    if (this.hangs.has("register")) {
      // The request's own deadline ends it; the step's cancel does not.
      await wait(devopsRequestDeadlineMs, undefined);
      throw new RequestTimeout(`Azure DevOps: POST agents ${registration.name}`, devopsRequestDeadlineMs);
    }
    await wait(this.registerMs, undefined);
    if (this.agents.has(registration.name)) throw new DevOpsError(`Azure DevOps answered 409: Pool aci already contains an agent with name ${registration.name}.`, 409, "TaskAgentExistsException");
    const agent: PoolAgent = {
      id: this.nextId++,
      name: registration.name,
      status: "offline",
      enabled: true,
      createdOn: new Date().toISOString(),
      authorization: { clientId: `client-${registration.name}`, authorizationUrl: "https://vstoken.example/token", publicKey: registration.authorization.publicKey },
    };
    this.agents.set(agent.name, agent);
    this.log.record("registered", agent.name);
    return { id: agent.id, name: agent.name, authorization: { clientId: `client-${agent.name}`, authorizationUrl: "https://vstoken.example/token" } };
  }

  async setUserCapabilities(_poolId: number, agentId: number, capabilities: Record<string, string>): Promise<void> {
    this.requestCount++;
    const agent = [...this.agents.values()].find((a) => a.id === agentId);
    this.log.record("setUserCapabilities", agent?.name);
    if (this.capabilitiesMs > 0) await wait(this.capabilitiesMs, undefined);
    if (this.capabilitiesFailure !== undefined) throw this.capabilitiesFailure;
    if (agent !== undefined) this.userCapabilities.set(agent.name, capabilities);
    this.log.record("userCapabilitiesSet", agent?.name);
  }

  /** As Azure DevOps lists agents: without their authorization. */
  agentsNamed(_poolId: number, name: string): Promise<PoolAgent[]> {
    this.requestCount++;
    const agent = this.agents.get(name);
    if (agent === undefined) return Promise.resolve([]);
    const listed = structuredClone(agent);
    delete listed.authorization;
    return Promise.resolve([listed]);
  }

  /** A single agent's GET carries its client id and public key, not the authorization URL. */
  agent(_poolId: number, agentId: number): Promise<PoolAgent | undefined> {
    this.requestCount++;
    const agent = [...this.agents.values()].find((a) => a.id === agentId);
    if (agent === undefined) return Promise.resolve(undefined);
    const copy = structuredClone(agent);
    return Promise.resolve({ ...copy, authorization: { clientId: copy.authorization?.clientId ?? "", ...(copy.authorization?.publicKey === undefined ? {} : { publicKey: copy.authorization.publicKey }) } });
  }

  agentPackage(platform: string): Promise<AgentPackage | undefined> {
    this.requestCount++;
    return Promise.resolve({ platform, version: "4.264.2", downloadUrl: `https://download.example/vsts-agent-${platform}-4.264.2.tar.gz`, hashValue: "ab".repeat(32), filename: `vsts-agent-${platform}-4.264.2.tar.gz` });
  }

  findPool(name: string): Promise<AgentPool | undefined> {
    this.requestCount++;
    return Promise.resolve(name === this.pool.name ? this.pool : undefined);
  }

  canManagePool(): Promise<boolean> {
    this.requestCount++;
    return Promise.resolve(true);
  }

  async listAgents(_poolId: number, signal?: AbortSignal): Promise<PoolAgent[]> {
    this.requestCount++;
    this.log.record("listAgents");
    if (this.hangs.has("listAgents")) await hang(signal);
    return [...this.agents.values()];
  }

  deleteAgent(_poolId: number, agentId: number): Promise<boolean> {
    this.requestCount++;
    const agent = [...this.agents.values()].find((a) => a.id === agentId);
    this.log.record("deleteAgent", agent?.name);
    if (agent !== undefined) this.agents.delete(agent.name);
    return Promise.resolve(agent !== undefined);
  }
}

interface Group extends GroupSnapshot {
  generation: number;
  /** Whole cores, as the fake counts a group's CPU against the quota (rounded up). */
  cores: number;
  spot: boolean;
}

/** The quotas the fake enforces, as ACI's usage listing names them. */
export type QuotaName = "ContainerGroups" | "StandardCores" | "StandardSpotCores";

/** Every region's limits unless `quotas` names the region's own: room for every test's fleet. */
export const DEFAULT_QUOTA: Record<QuotaName, number> = { ContainerGroups: 100, StandardCores: 400, StandardSpotCores: 400 };

export class FakeAci implements AciApi {
  readonly groups = new Map<string, Group>();
  readonly hangs = new Set<Hangable>();
  /** Regions without capacity: the PUT answers 409 (sync), or the group is made and its create operation fails (async). */
  readonly noCapacityIn = new Map<string, "sync" | "async">();
  /** Groups of another step: a create-only PUT of these names answers 412. */
  readonly othersGroups = new Map<string, GroupSnapshot>();
  /** Names whose PUT creates the group but is answered 412, as the SDK's retry of a PUT whose first answer was lost is. */
  readonly answerLostFor = new Set<string>();
  regions = ["westeurope", "northeurope", "eastus"];
  listFailure: Error | undefined;
  /** Limits per region over DEFAULT_QUOTA; a PUT that would exceed one is refused 409 ContainerGroupQuotaReached. */
  readonly quotas = new Map<string, Partial<Record<QuotaName, number>>>();
  /** Usage of other fleets per region (cores of either priority and groups), counted with this step's groups. */
  readonly othersUsage = new Map<string, Partial<Record<QuotaName, number>>>();
  /** Thrown by every read of the usage (e.g. an AuthorizationFailed). */
  usageFailure: Error | undefined;
  /** The next this many PUTs are refused 429 for the create rate, with Retry-After `createRateRetryAfterMs` (none when undefined). */
  createRateRefusals = 0;
  createRateRetryAfterMs: number | undefined = 30_000;
  putMs = 200;
  provisionMs = 3000;
  onlineMs = 5000;
  deleteMs = 2000;
  /** The container of a provisioned group, instead of one running normally (its agent then never comes online). */
  container: Partial<ContainerSnapshot> | undefined;
  requestCount = 0;
  private generation = 0;

  constructor(
    readonly log: CallLog,
    private readonly pool: FakePool,
  ) {}

  resourceGroupLocation(): Promise<string> {
    this.requestCount++;
    return Promise.resolve("westeurope");
  }

  containerGroupRegions(): Promise<string[]> {
    this.requestCount++;
    return Promise.resolve(this.regions);
  }

  usages(location: string): Promise<AciUsage[]> {
    this.requestCount++;
    this.log.record("usages", location);
    if (this.usageFailure !== undefined) return Promise.reject(this.usageFailure);
    return Promise.resolve((Object.keys(DEFAULT_QUOTA) as QuotaName[]).map((name) => ({ name, current: this.used(location, name), limit: this.limit(location, name) })));
  }

  private limit(location: string, name: QuotaName): number {
    return this.quotas.get(location)?.[name] ?? DEFAULT_QUOTA[name];
  }

  private used(location: string, name: QuotaName): number {
    const groups = [...this.groups.values()].filter((g) => g.location === location);
    const ours = name === "ContainerGroups" ? groups.length : groups.filter((g) => g.spot === (name === "StandardSpotCores")).reduce((sum, g) => sum + g.cores, 0);
    return ours + (this.othersUsage.get(location)?.[name] ?? 0);
  }
  /** The operation poll interval each create asked for. */
  readonly pollIntervals: (number | undefined)[] = [];
  /** The last body each name's create sent. */
  readonly specs = new Map<string, ContainerGroup>();

  async beginCreate(_resourceGroup: string, spec: ContainerGroup, options?: CreateOptions | AbortSignal): Promise<CreateOperation & { poll(): Promise<"running" | "succeeded"> }> {
    this.requestCount++;
    this.pollIntervals.push(options instanceof AbortSignal ? undefined : options?.pollIntervalMs);
    const name = spec.name ?? "";
    const location = spec.location ?? "";
    // A create asked for after the step was cancelled is never sent.
    signalOf(options)?.throwIfAborted();
    this.log.record("put", name);
    this.specs.set(name, spec);
    if (this.hangs.has("put")) {
      // SdkAci gives up on a PUT after its own deadline; the caller's signal does not end it.
      await wait(armRequestDeadlineMs, undefined);
      throw new RequestTimeout(`ARM: create of container group ${name}`, armRequestDeadlineMs);
    }
    // The PUT is on the wire: ARM answers it whatever the caller does meanwhile.
    await wait(this.putMs, undefined);
    if (this.othersGroups.has(name)) throw new AzureError("The resource already exists.", "PreconditionFailed", 412);
    if (this.createRateRefusals > 0) {
      this.createRateRefusals--;
      this.log.record("putRefusedForRate", name);
      throw new AzureError("The request is being throttled: too many container groups created in this subscription.", "TooManyRequests", 429, this.createRateRetryAfterMs);
    }
    const spot = spec.priority === "Spot";
    const cores = Math.ceil(spec.containers.reduce((sum, c) => sum + c.resources.requests.cpu, 0));
    const requested: [QuotaName, number][] = [[spot ? "StandardSpotCores" : "StandardCores", cores], ["ContainerGroups", 1]];
    for (const [quota, wanted] of requested) {
      const limit = this.limit(location, quota);
      const usage = this.used(location, quota);
      if (usage + wanted > limit) {
        this.log.record("putRefusedForQuota", name);
        throw new AzureError(`Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota '${quota}' exceeded in region '${location}'. Limit: '${limit}', Usage: '${usage}' Requested: '${wanted}'.`, "ContainerGroupQuotaReached", 409);
      }
    }
    const noCapacity = this.noCapacityIn.get(location);
    if (noCapacity === "sync") {
      throw new AzureError(`The requested resource is not available in the location '${location}' at this moment.`, "ServiceUnavailable", 409);
    }
    const generation = ++this.generation;
    this.groups.set(name, {
      name, location, provisioningState: "Pending", state: "Pending", tags: spec.tags ?? {}, events: [], generation, cores, spot,
      containers: [{ name, state: "Waiting", exitCode: undefined, detailStatus: undefined, restartCount: 0, events: [] }],
    });
    this.log.record("created", name);
    const provisioned = wait(this.provisionMs, undefined).then(() => {
      const group = this.groups.get(name);
      if (group?.generation !== generation) return false;
      if (noCapacity === "async") {
        group.provisioningState = "Failed";
        throw new AzureError(`The requested resource is not available in the location '${location}' at this moment.`, "ServiceUnavailable", undefined);
      }
      group.provisioningState = "Succeeded";
      group.state = "Running";
      group.containers = [{ name, state: "Running", exitCode: undefined, detailStatus: undefined, restartCount: 0, events: [], ...this.container }];
      if (this.container === undefined) {
        setTimeout(() => { if (this.groups.get(name)?.generation === generation) this.pool.bringOnline(name); }, this.onlineMs);
      }
      return true;
    });
    let done = false;
    provisioned.then(() => { done = true; }, () => { done = true; });
    const pollIntervalMs = options instanceof AbortSignal ? undefined : options?.pollIntervalMs;
    // As the SDK's poller: the operation is asked after every interval it was given, so its end
    // is known at the first poll after it.
    const untilDone = async (signal?: AbortSignal) => {
      this.requestCount++;
      if (this.hangs.has("poll")) await hang(signal);
      if (pollIntervalMs === undefined) {
        await Promise.race([provisioned, hang(signal)]);
        return;
      }
      while (!done) await wait(pollIntervalMs, signal);
      await provisioned;
    };
    if (this.answerLostFor.has(name)) throw new AzureError("The resource already exists.", "PreconditionFailed", 412);
    return {
      untilDone,
      poll: async () => {
        this.requestCount++;
        if (this.hangs.has("poll")) await hang(undefined);
        if (done) await provisioned;
        return done ? "succeeded" : "running";
      },
    };
  }

  async get(_resourceGroup: string, name: string, options?: RequestOptions): Promise<GroupSnapshot | undefined> {
    this.requestCount++;
    this.log.record("get", name);
    if (this.hangs.has("get")) await hang(signalOf(options));
    const group = this.groups.get(name) ?? this.othersGroups.get(name);
    return group === undefined ? undefined : structuredClone(group);
  }

  async delete(_resourceGroup: string, name: string, options?: RequestOptions & { wait?: boolean }): Promise<boolean> {
    this.requestCount++;
    this.log.record("delete", name);
    const existed = this.groups.delete(name);
    if (existed && options?.wait !== false) {
      if (this.hangs.has("deleteWait")) await hang(options?.signal);
      await wait(this.deleteMs, options?.signal);
    }
    return existed;
  }

  async list(_resourceGroup: string, options?: RequestOptions): Promise<GroupSnapshot[]> {
    this.requestCount++;
    this.log.record("list");
    if (this.hangs.has("list")) await hang(signalOf(options));
    if (this.listFailure !== undefined) throw this.listFailure;
    return [...this.groups.values(), ...this.othersGroups.values()];
  }

  logs(_resourceGroup: string, name: string): Promise<string> {
    this.requestCount++;
    this.log.record("logs", name);
    return Promise.resolve(`log of ${name}: agent exited`);
  }

  /** For subclasses: a group made other than by beginCreate. */
  protected addGroup(name: string, location: string, cores: number, provisioned: boolean): number {
    const generation = ++this.generation;
    this.groups.set(name, {
      name, location, provisioningState: provisioned ? "Succeeded" : "Pending", state: provisioned ? "Running" : "Pending", tags: {}, events: [], generation, cores, spot: false,
      containers: [{ name: "azp-agent", state: provisioned ? "Running" : "Waiting", exitCode: undefined, detailStatus: undefined, restartCount: 0, events: [] }],
    });
    return generation;
  }
}

/**
 * FakeAci with a standby pool `warm` of `ready` instances in westeurope: a claim takes a ready one
 * (answered after claimMs, Running, its operation done) or, when none is left, makes a fresh group from the profile (after
 * provisionMs). A claimed container prints its public key `keyMs` after it started (a warm one at
 * once), and its agent comes online `onlineMs` after its config map carries `agentId`.
 */
export class FakeStandbyAci extends FakeAci implements StandbyApi {
  ready = 3;
  claimMs = 4000;
  /** How long a fresh container takes to print its key. */
  keyMs = 4000;
  configMapMs = 1000;
  /** Containers that never print a key. */
  readonly silent = new Set<string>();
  /** Every container prints this one modulus (an image with a baked-in key). */
  bakedInKey = false;
  /** The next this many claims are answered 429 (ACI's create rate), with Retry-After `throttleRetryAfterMs`; nothing is claimed. */
  throttledClaims = 0;
  /** The next this many config map updates are answered 429 (ARM's write throttling), with Retry-After `throttleRetryAfterMs`. */
  throttledConfigMaps = 0;
  /** The next this many tags PATCHes are answered 429 (ARM's write throttling), with Retry-After `throttleRetryAfterMs`. */
  throttledTags = 0;
  throttleRetryAfterMs: number | undefined = 30_000;
  /** Per name, what its config map update throws (a PUT answered 400, or its operation ended Failed). */
  readonly configMapFailures = new Map<string, Error>();
  readonly claims: { name: string; warm: boolean; body: Record<string, unknown> }[] = [];
  readonly configMaps = new Map<string, Record<string, string>>();
  /** Each config map update's body, by group name. */
  readonly configMapBodies = new Map<string, Record<string, unknown>>();
  readonly tagged = new Map<string, Record<string, string>>();
  private readonly keyAt = new Map<string, number>();
  readonly poolInfo: StandbyPoolInfo = {
    id: "/subscriptions/s/resourceGroups/ci-agents/providers/Microsoft.StandbyPool/standbyContainerGroupPools/warm",
    name: "warm",
    location: "westeurope",
    profileId: "/subscriptions/s/resourceGroups/ci-agents/providers/Microsoft.ContainerInstance/containerGroupProfiles/warm",
    profileRevision: 1,
    maxReadyCapacity: 3,
  };
  poolExists = true;
  /** The profile's containers (AciAgentStandbyPool@1 makes one, azp-agent). */
  profileContainerNames = ["azp-agent"];

  constructor(log: CallLog, private readonly agents: FakePool) {
    super(log, agents);
  }

  standbyPool(_resourceGroup: string, nameOrId: string): Promise<StandbyPoolInfo | undefined> {
    this.requestCount++;
    this.log.record("standbyPool", nameOrId);
    return Promise.resolve(this.poolExists ? { ...this.poolInfo, maxReadyCapacity: this.ready } : undefined);
  }

  /** Every profile exists, 0.5 CPU and 1 GB, its containers profileContainerNames. */
  containerGroupProfile(resourceGroup: string, nameOrId: string): Promise<ProfileInfo | undefined> {
    this.requestCount++;
    this.log.record("containerGroupProfile", nameOrId);
    const id = nameOrId.startsWith("/") ? nameOrId : `/subscriptions/s/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerInstance/containerGroupProfiles/${nameOrId}`;
    return Promise.resolve({ id, cpu: 0.5, memoryInGB: 1, osType: "Linux", containerNames: this.profileContainerNames });
  }

  async claim(_resourceGroup: string, name: string, body: Record<string, unknown>, options?: OperationOptions): Promise<ClaimResult> {
    this.requestCount++;
    this.log.record("claim", name);
    if (this.throttledClaims > 0) {
      this.throttledClaims--;
      await this.throttledAnswer("claimThrottled", name);
    }
    const warm = this.ready > 0;
    if (warm) this.ready--;
    this.claims.push({ name, warm, body });
    // A warm claim is answered once the instance is handed out, its operation already done.
    await wait(warm ? this.claimMs : this.putMs, undefined);
    this.addGroup(name, "westeurope", 1, warm);
    this.keyAt.set(name, warm ? Date.now() : Date.now() + this.provisionMs + this.keyMs);
    const done = wait(warm ? 0 : this.provisionMs, options?.signal).then(() => {
      const group = this.groups.get(name);
      if (group !== undefined) {
        group.provisioningState = "Succeeded";
        group.state = "Running";
        const container = group.containers[0];
        if (container !== undefined) container.state = "Running";
      }
    });
    done.catch(() => undefined);
    return { isCreatedFromStandbyPool: warm, untilDone: (signal) => Promise.race([done, hang(signal)]) };
  }

  async tagGroup(_resourceGroup: string, name: string, tags: Record<string, string>): Promise<void> {
    this.requestCount++;
    this.log.record("tag", name);
    if (this.throttledTags > 0) {
      this.throttledTags--;
      await this.throttledAnswer("tagThrottled", name);
    }
    this.tagged.set(name, tags);
    const group = this.groups.get(name);
    if (group !== undefined) group.tags = { ...tags };
  }

  async updateConfigMap(_resourceGroup: string, name: string, body: Record<string, unknown>): Promise<AcceptedWrite> {
    this.requestCount++;
    this.log.record("configMap", name);
    if (this.throttledConfigMaps > 0) {
      this.throttledConfigMaps--;
      await this.throttledAnswer("configMapThrottled", name);
    }
    this.configMapBodies.set(name, body);
    const acceptedAt = Date.now();
    const failure = this.configMapFailures.get(name);
    if (failure === undefined) {
      const containers = (body.properties as { containers: { properties: { configMap: { keyValuePairs: Record<string, string> } } }[] }).containers;
      this.configMaps.set(name, containers[0]?.properties.configMap.keyValuePairs ?? {});
      setTimeout(() => { if (this.groups.has(name)) this.agents.bringOnline(name); }, this.configMapMs + this.onlineMs);
    }
    return {
      untilDone: async (signal) => {
        await wait(Math.max(0, acceptedAt + this.configMapMs - Date.now()), signal);
        if (failure !== undefined) throw failure;
      },
    };
  }

  /** A PUT answered 429 after putMs, as SdkAci throws it. */
  private async throttledAnswer(op: string, name: string): Promise<never> {
    await wait(this.putMs, undefined);
    this.log.record(op, name);
    throw new AzureError("The request is being throttled.", "TooManyRequests", 429, this.throttleRetryAfterMs);
  }

  override logs(_resourceGroup: string, name: string): Promise<string> {
    this.requestCount++;
    this.log.record("logs", name);
    const at = this.keyAt.get(name);
    if (at === undefined || this.silent.has(name) || Date.now() < at) return Promise.resolve("preparing\n");
    const modulus = this.bakedInKey ? "c2hhcmVk" : Buffer.from(`modulus of ${name}`).toString("base64");
    return Promise.resolve(`preparing\naci-agent-public-key exponent=AQAB modulus=${modulus}\nwaiting for the claim\n`);
  }
}
