// Azure Container Instances through @azure/arm-containerinstance: the calls the tasks make,
// with ARM failures turned into one error type that keeps ARM's code.
import { ContainerInstanceManagementClient, type ContainerGroup } from "@azure/arm-containerinstance";
import { createPipelineRequest } from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/identity";
import { setTimeout as delay } from "node:timers/promises";
import { Backoff } from "../core/clock";
import { Limiter } from "../core/concurrency";
import { userAgentPrefix } from "../core/userAgent";
import { armScope, type ArmConnection } from "./connection";

/**
 * ARM's write throttling allows bursts of a couple of hundred writes per subscription and
 * refills at about ten a second; eight create or delete requests in flight stay well inside it
 * and still send fifty agents' requests within a second or two. Only the requests are bounded,
 * not the waiting for their operations.
 */
const writesInFlight = 8;
/** Deletes usually end within a minute or two; past this one is reported as not done. */
const deleteWaitMs = 15 * 60_000;


/** An ARM or ACI failure: `code` is ARM's error code (e.g. ServiceUnavailable, InaccessibleImage). */
export class AzureError extends Error {
  override readonly name = "AzureError";
  constructor(
    message: string,
    readonly code: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

export interface GroupSnapshot {
  name: string;
  location: string;
  provisioningState: string;
  /** The group's instanceView.state: Pending, Running, Succeeded, Failed, Stopped. */
  state: string | undefined;
  tags: Record<string, string>;
  containers: {
    name: string;
    state: string | undefined;
    exitCode: number | undefined;
    detailStatus: string | undefined;
    restartCount: number;
    events: AciEvent[];
  }[];
  events: AciEvent[];
}

export interface AciEvent {
  name: string;
  message: string;
  type: string;
  count: number;
  lastTimestamp: string | undefined;
}

/** A create that ARM accepted; `poll()` advances it and says whether it ended. */
export interface CreateOperation {
  poll(): Promise<"running" | "succeeded">;
}

/** What the tasks need from ACI; the SDK implementation is below, tests give fakes. */
export interface AciApi {
  resourceGroupLocation(resourceGroup: string): Promise<string>;
  /** Sends the PUT unless `signal` is aborted by the time a write slot is free. */
  beginCreate(resourceGroup: string, group: ContainerGroup, signal?: AbortSignal): Promise<CreateOperation>;
  get(resourceGroup: string, name: string): Promise<GroupSnapshot | undefined>;
  /**
   * Deletes the group; false when there was nothing to delete. Waits until it is gone unless
   * `wait` is false (ACI stops the containers as soon as it accepts the delete).
   */
  delete(resourceGroup: string, name: string, options?: { wait?: boolean }): Promise<boolean>;
  list(resourceGroup: string): Promise<GroupSnapshot[]>;
  logs(resourceGroup: string, name: string, container: string, tail?: number): Promise<string>;
  /** Requests sent so far, for the summary and the benchmark. */
  readonly requestCount: number;
}

export class SdkAci implements AciApi {
  private readonly client: ContainerInstanceManagementClient;
  private readonly writes = new Limiter(writesInFlight);
  private sent = 0;

  constructor(
    private readonly connection: ArmConnection,
    credential: TokenCredential,
  ) {
    this.client = new ContainerInstanceManagementClient(credential, connection.subscriptionId, {
      endpoint: connection.armUrl,
      credentialScopes: [armScope(connection)],
      userAgentOptions: { userAgentPrefix },
      additionalPolicies: [
        {
          position: "perCall",
          policy: {
            name: "countRequests",
            sendRequest: (request, next) => {
              this.sent++;
              return next(request);
            },
          },
        },
      ],
    });
  }

  get requestCount(): number {
    return this.sent;
  }

  async resourceGroupLocation(resourceGroup: string): Promise<string> {
    // One GET; @azure/arm-resources would add a dependency (and its v8 wants Node 22) for it.
    const url = `${this.connection.armUrl}subscriptions/${this.connection.subscriptionId}/resourcegroups/${encodeURIComponent(resourceGroup)}?api-version=2021-04-01`;
    const response = await this.client.sendRequest(createPipelineRequest({ url, method: "GET" }));
    const body = parseBody(response.bodyAsText);
    if (response.status !== 200) {
      const error = (body?.error ?? {}) as { code?: string; message?: string };
      throw new AzureError(error.message ?? `ARM answered ${response.status}`, error.code ?? "Unknown", response.status);
    }
    return typeof body?.location === "string" ? body.location : "";
  }

  async beginCreate(resourceGroup: string, group: ContainerGroup, signal?: AbortSignal): Promise<CreateOperation> {
    const poller = await wrap(() =>
      this.writes.run(() => {
        signal?.throwIfAborted();
        return this.client.containerGroups.beginCreateOrUpdate(resourceGroup, group.name ?? "", group);
      }),
    );
    return {
      poll: async () => {
        await wrap(() => poller.poll());
        if (!poller.isDone()) return "running";
        const result = poller.getResult();
        if (result?.provisioningState?.toLowerCase() === "failed") {
          throw new AzureError(`the container group ${group.name ?? ""} failed to provision`, "Failed", undefined);
        }
        return "succeeded";
      },
    };
  }

  async get(resourceGroup: string, name: string): Promise<GroupSnapshot | undefined> {
    try {
      return snapshot(await wrap(() => this.client.containerGroups.get(resourceGroup, name)));
    } catch (error) {
      if (error instanceof AzureError && error.status === 404) return undefined;
      throw error;
    }
  }

  async delete(resourceGroup: string, name: string, options: { wait?: boolean } = {}): Promise<boolean> {
    const existed = (await this.get(resourceGroup, name)) !== undefined;
    if (!existed) return false;
    const poller = await wrap(() => this.writes.run(() => this.client.containerGroups.beginDelete(resourceGroup, name)));
    if (options.wait === false) return true;
    // ACI deletes take from seconds to a minute or more: poll soon, then less and less often.
    const backoff = new Backoff(500, 5000);
    const deadline = Date.now() + deleteWaitMs;
    await wrap(async () => {
      await poller.poll();
      while (!poller.isDone()) {
        if (Date.now() > deadline) {
          throw new AzureError(`the delete did not finish within ${deleteWaitMs / 60_000} minutes`, "DeleteTimeout", undefined);
        }
        await delay(backoff.next());
        await poller.poll();
      }
    });
    return true;
  }

  async list(resourceGroup: string): Promise<GroupSnapshot[]> {
    const groups: GroupSnapshot[] = [];
    await wrap(async () => {
      for await (const group of this.client.containerGroups.listByResourceGroup(resourceGroup)) groups.push(snapshot(group));
    });
    return groups;
  }

  async logs(resourceGroup: string, name: string, container: string, tail?: number): Promise<string> {
    const logs = await wrap(() => this.client.containers.listLogs(resourceGroup, name, container, tail === undefined ? {} : { tail }));
    return logs.content ?? "";
  }
}

function snapshot(group: ContainerGroup): GroupSnapshot {
  return {
    name: group.name ?? "",
    location: group.location ?? "",
    provisioningState: group.provisioningState ?? "",
    state: group.instanceView?.state,
    tags: group.tags ?? {},
    events: (group.instanceView?.events ?? []).map(event),
    containers: group.containers.map((c) => ({
      name: c.name,
      state: c.instanceView?.currentState?.state,
      exitCode: c.instanceView?.currentState?.exitCode,
      detailStatus: c.instanceView?.currentState?.detailStatus,
      restartCount: c.instanceView?.restartCount ?? 0,
      events: (c.instanceView?.events ?? []).map(event),
    })),
  };
}

function event(e: { name?: string; message?: string; type?: string; count?: number; lastTimestamp?: Date }): AciEvent {
  return { name: e.name ?? "", message: e.message ?? "", type: e.type ?? "", count: e.count ?? 1, lastTimestamp: e.lastTimestamp?.toISOString() };
}

function parseBody(text: string | null | undefined): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text ?? "") as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Runs an SDK call and turns its RestError (or core-lro's failure) into an AzureError. */
async function wrap<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toAzureError(error);
  }
}

export function toAzureError(error: unknown): AzureError {
  if (error instanceof AzureError) return error;
  const rest = error as { code?: string; statusCode?: number; message?: string; details?: { error?: { code?: string; message?: string } } };
  const message = rest.message ?? String(error);
  // core-lro reports a failed operation as "The long-running operation has failed. {code}. {message}"
  const lro = /long-running operation has failed\.?\s*([A-Za-z]+)\.\s*([\s\S]*)$/.exec(message);
  if (lro?.[1] !== undefined) return new AzureError(lro[2] ?? message, lro[1], undefined);
  const code = rest.details?.error?.code ?? rest.code ?? "Unknown";
  return new AzureError(rest.details?.error?.message ?? message, code, rest.statusCode);
}
