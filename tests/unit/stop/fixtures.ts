// Shared pieces of the AciAgentStop unit tests: inputs and pipeline variables of a typical run,
// snapshots of container groups and agents, and small in-memory fakes of ACI, the pool and time.
import type { AciApi, AciUsage, ContainerSnapshot, CreateOperation, GroupSnapshot } from "../../../src/azure/aci";
import type { Clock } from "../../../src/core/clock";
import type { AgentPool, PoolAgent } from "../../../src/devops/client";
import type { PoolApi } from "../../../src/run/pools";
import { OWN_TAGS } from "../../../src/run/tags";
import { parseStopInputs } from "../../../src/stop/inputs";
import { PROJECT_ID, RUN_ID, parserWith, requiredInputs } from "../fixtures";

export { BUILD_VARIABLES, PROJECT_ID, RUN_ID, readerOf } from "../fixtures";

export const PAT = "stop-pat-0123456789-secret";
/** The `aci-agents-run` tag of run 1234 of the project in organization contoso. */
export const RUN_TAG = `contoso/${PROJECT_ID}/${RUN_ID}`;

/** The inputs of the design's example cleanup job. */
export const REQUIRED_INPUTS = requiredInputs(PAT);

/** Parses the required inputs with the given ones on top; "" leaves an input unset. */
export const stopConfigWith = parserWith(parseStopInputs, REQUIRED_INPUTS);

export interface GroupOptions {
  tags?: Record<string, string>;
  state?: string | undefined;
  /** Container log returned by `logs`. */
  log?: string;
  /** Instance view and requests of its container, over the defaults (running since 11:50, 2 vCPU, 4 GB). */
  container?: Partial<ContainerSnapshot>;
}

/** When the default container started: ten minutes before FakeClock's moment. */
export const STARTED = "2026-03-01T11:50:00.000Z";

/** A container group as the SDK gateway reports it (one container named like the group). */
export function groupSnapshot(name: string, options: GroupOptions = {}): GroupSnapshot {
  return {
    name,
    location: "westeurope",
    provisioningState: "Succeeded",
    state: "state" in options ? options.state : "Running",
    tags: options.tags ?? {},
    containers: [
      { name, state: "Running", exitCode: undefined, detailStatus: undefined, restartCount: 0, startTime: STARTED, requests: { cpu: 2, memoryInGB: 4 }, events: [], ...options.container },
    ],
    events: [],
  };
}

/** The tags AciAgentStart puts on a group of run `runTag`; its fleet is its name without attempt and index. */
export function ownTags(name: string, runTag = RUN_TAG, expires = "2099-01-01T00:00:00Z", created = "2026-03-01T10:00:00Z"): Record<string, string> {
  return {
    [OWN_TAGS.run]: runTag,
    [OWN_TAGS.fleet]: name.replace(/-\d+-\d+$/, ""),
    [OWN_TAGS.pool]: "aci",
    [OWN_TAGS.agent]: name,
    [OWN_TAGS.created]: created,
    [OWN_TAGS.expires]: expires,
  };
}

export function poolAgent(id: number, name: string, status: PoolAgent["status"] = "online"): PoolAgent {
  return { id, name, status, enabled: true };
}

/**
 * ACI in memory. `list` leaves out the instance views, as ARM's list does (the group's `state`,
 * its containers' states and times); `get` returns the full snapshot.
 */
export class FakeAci implements AciApi {
  readonly groups = new Map<string, GroupSnapshot>();
  readonly logsOf = new Map<string, string>();
  /** Errors thrown by `delete` of a name, every time. */
  readonly deleteFailures = new Map<string, Error>();
  /** Errors thrown by `get` of a name. */
  readonly getFailures = new Map<string, Error>();
  /** Errors thrown by `logs` of a name. */
  readonly logFailures = new Map<string, Error>();
  /** Groups that vanish between `list` and `delete` (someone else removed them). */
  readonly vanishBeforeDelete = new Set<string>();
  readonly calls: string[] = [];
  readonly requestCount = 0;
  private deletesInFlight = 0;
  maxDeletesInFlight = 0;

  add(group: GroupSnapshot, log?: string): this {
    this.groups.set(group.name, group);
    if (log !== undefined) this.logsOf.set(group.name, log);
    return this;
  }

  resourceGroupLocation(): Promise<string> {
    return Promise.reject(new Error("the stop task does not need the resource group's location"));
  }

  containerGroupRegions(): Promise<string[]> {
    return Promise.reject(new Error("the stop task does not need the regions"));
  }

  usages(): Promise<AciUsage[]> {
    return Promise.reject(new Error("the stop task does not need the usage"));
  }

  beginCreate(): Promise<CreateOperation> {
    return Promise.reject(new Error("the stop task must not create anything"));
  }

  get(resourceGroup: string, name: string): Promise<GroupSnapshot | undefined> {
    this.calls.push(`get ${resourceGroup}/${name}`);
    const failure = this.getFailures.get(name);
    if (failure !== undefined) return Promise.reject(failure);
    return Promise.resolve(this.groups.get(name));
  }

  async delete(resourceGroup: string, name: string): Promise<boolean> {
    this.calls.push(`delete ${resourceGroup}/${name}`);
    this.deletesInFlight++;
    this.maxDeletesInFlight = Math.max(this.maxDeletesInFlight, this.deletesInFlight);
    try {
      // Let other deletes start, so that concurrency shows.
      await new Promise((resolve) => setImmediate(resolve));
      const failure = this.deleteFailures.get(name);
      if (failure !== undefined) throw failure;
      if (this.vanishBeforeDelete.has(name)) this.groups.delete(name);
      return this.groups.delete(name);
    } finally {
      this.deletesInFlight--;
    }
  }

  list(resourceGroup: string): Promise<GroupSnapshot[]> {
    this.calls.push(`list ${resourceGroup}`);
    return Promise.resolve(
      [...this.groups.values()].map((g) => ({
        ...g,
        state: undefined,
        events: [],
        containers: g.containers.map((c) => ({
          name: c.name,
          state: undefined,
          exitCode: undefined,
          detailStatus: undefined,
          restartCount: 0,
          ...(c.requests === undefined ? {} : { requests: c.requests }),
          events: [],
        })),
      })),
    );
  }

  logs(resourceGroup: string, name: string, container: string): Promise<string> {
    this.calls.push(`logs ${resourceGroup}/${name}/${container}`);
    const failure = this.logFailures.get(name);
    if (failure !== undefined) return Promise.reject(failure);
    return Promise.resolve(this.logsOf.get(name) ?? "");
  }

  /** The names `delete` was called with, in order. */
  get deleted(): string[] {
    return this.calls.filter((c) => c.startsWith("delete ")).map((c) => c.replace(/^delete [^/]+\//, ""));
  }
}

/** An agent pool in memory. */
export class FakePools implements PoolApi {
  readonly pool: AgentPool = { id: 7, name: "aci", isHosted: false };
  readonly agents = new Map<number, PoolAgent>();
  /** Makes the pool invisible (findPool answers undefined). */
  hidden = false;
  /** Errors `deleteAgent` throws for an agent id, one per call, in order; then it succeeds. */
  readonly deleteErrors = new Map<number, Error[]>();
  /** An error `deleteAgent` throws for an agent id on every call. */
  readonly deleteAlways = new Map<number, Error>();
  /** Agents that deregister themselves just before `deleteAgent` reaches them. */
  readonly vanishBeforeDelete = new Set<number>();
  readonly deleteCalls: number[] = [];
  /** Azure DevOps down: `findPool` or `listAgents` rejects with this every time. */
  readonly lookupFailures: { findPool?: Error; listAgents?: Error } = {};
  /** Azure DevOps hanging: `findPool` never settles. */
  hangs = false;
  readonly requestCount = 0;

  add(...agents: PoolAgent[]): this {
    for (const agent of agents) this.agents.set(agent.id, agent);
    return this;
  }

  findPool(name: string): Promise<AgentPool | undefined> {
    if (this.hangs) return new Promise(() => undefined);
    if (this.lookupFailures.findPool !== undefined) return Promise.reject(this.lookupFailures.findPool);
    return Promise.resolve(this.hidden || name.toLowerCase() !== this.pool.name ? undefined : this.pool);
  }

  canManagePool(): Promise<boolean> {
    return Promise.resolve(true);
  }

  listAgents(poolId: number): Promise<PoolAgent[]> {
    if (poolId !== this.pool.id) return Promise.reject(new Error(`no pool ${poolId}`));
    if (this.lookupFailures.listAgents !== undefined) return Promise.reject(this.lookupFailures.listAgents);
    return Promise.resolve([...this.agents.values()]);
  }

  deleteAgent(poolId: number, agentId: number): Promise<boolean> {
    this.deleteCalls.push(agentId);
    if (poolId !== this.pool.id) return Promise.reject(new Error(`no pool ${poolId}`));
    const always = this.deleteAlways.get(agentId);
    if (always !== undefined) return Promise.reject(always);
    const next = this.deleteErrors.get(agentId)?.shift();
    if (next !== undefined) return Promise.reject(next);
    if (this.vanishBeforeDelete.has(agentId)) this.agents.delete(agentId);
    return Promise.resolve(this.agents.delete(agentId));
  }

  /** Names of the agents still registered. */
  get names(): string[] {
    return [...this.agents.values()].map((a) => a.name).sort();
  }
}

/** A clock that stands still; `sleep` returns at once and remembers how long it was asked to wait. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];

  constructor(private readonly at: number = Date.parse("2026-03-01T12:00:00Z")) {}

  now(): number {
    return this.at;
  }

  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    return Promise.resolve();
  }
}
