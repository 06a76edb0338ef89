// Azure Container Instances through @azure/arm-containerinstance: the calls the tasks make,
// with ARM failures turned into one error type that keeps ARM's code.
import { ContainerInstanceManagementClient, type ContainerGroup } from "@azure/arm-containerinstance";
import { setTimeout as sleep } from "node:timers/promises";
import { createPipelineRequest } from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/identity";
import { abortWith, RequestTimeout, unlessAborted, withDeadline } from "../core/deadline";
import { userAgentPrefix } from "../core/userAgent";
import { armScope, type ArmConnection } from "./connection";

/** An ARM request that has not answered by then is taken as hung. */
export const ARM_REQUEST_DEADLINE_MS = 60_000;
/** How often a create or delete operation is polled (core-lro's default is about 2 s). */
const operationPollMs = 2000;
/** The resource provider's API version for reading a provider's resource types and regions. */
const providersApiVersion = "2021-04-01";
/** Container Instances' API version for a region's usage (Location_ListUsage in the swagger). */
const usagesApiVersion = "2023-05-01";
/**
 * Container Instances' API version for profiles, claims and config maps (CI-2025-09-01; the
 * emulator accepts any from 2024-05-01-preview). @azure/arm-containerinstance 9.1.0 speaks
 * 2023-05-01, which has none of them, and @azure/arm-standbypool would add a second client with
 * its own pipeline: these few requests go through this client's pipeline (credential, retries,
 * request counting) with `sendRequest`, under the same deadline and abort handling as the rest.
 */
const standbyContainerApiVersion = "2025-09-01";
/** Microsoft.StandbyPool's API version (SP-2026-04-01). */
const standbyPoolApiVersion = "2026-04-01";

/** An ARM or ACI failure: `code` is ARM's error code (e.g. ServiceUnavailable, InaccessibleImage). */
export class AzureError extends Error {
  override readonly name = "AzureError";
  constructor(
    message: string,
    readonly code: string,
    readonly status: number | undefined,
    /** How long ARM asked to wait before trying again (Retry-After of a 429), when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** One line of a region's Container Instances usage: `name` as ARM lists it in `name.value` (ContainerGroups, StandardCores, …). */
export interface AciUsage {
  name: string;
  current: number;
  limit: number;
}

export interface GroupSnapshot {
  name: string;
  location: string;
  provisioningState: string;
  /** The group's instanceView.state: Pending, Running, Succeeded, Failed, Stopped. */
  state: string | undefined;
  tags: Record<string, string>;
  containers: ContainerSnapshot[];
  events: AciEvent[];
}

export interface ContainerSnapshot {
  name: string;
  state: string | undefined;
  exitCode: number | undefined;
  detailStatus: string | undefined;
  restartCount: number;
  /** When the current run started and (once it has ended) finished, ISO 8601; a list item has neither. */
  startTime?: string;
  finishTime?: string;
  /** The state before the current one: after a restart, how the last run ended (and when it ran). */
  previousState?: { state: string | undefined; exitCode: number | undefined; startTime?: string; finishTime?: string };
  /** What the container requests (`resources.requests`), which ACI bills; list items carry it too. */
  requests?: { cpu: number; memoryInGB: number };
  events: AciEvent[];
}

export interface AciEvent {
  name: string;
  message: string;
  type: string;
  count: number;
  lastTimestamp: string | undefined;
}

/** A create that ARM accepted; `untilDone` polls it until it ends (and throws if it failed). */
export interface CreateOperation {
  untilDone(signal?: AbortSignal): Promise<void>;
}

export interface RequestOptions {
  /** The step's cancel and timeout; each request also has a deadline of its own. */
  signal?: AbortSignal;
}

export interface OperationOptions extends RequestOptions {
  /** Between two polls of the operation (default 2 s); a step following many groups polls less often. */
  pollIntervalMs?: number;
}

export interface CreateOptions extends OperationOptions {
  /**
   * Called when ARM has answered the PUT. The SDK polls the operation once before its begin…
   * returns, so a hang after this call is in that first poll, not in the create.
   */
  onAccepted?: () => void;
}

/** What the tasks need from ACI; the SDK implementation is below, tests give fakes. */
export interface AciApi {
  resourceGroupLocation(resourceGroup: string, options?: RequestOptions): Promise<string>;
  /** The regions (programmatic names, e.g. eastus) where the subscription can create container groups. */
  containerGroupRegions(options?: RequestOptions): Promise<string[]>;
  /** The subscription's Container Instances usage and limits in a region (programmatic name, e.g. westeurope). */
  usages(location: string, options?: RequestOptions): Promise<AciUsage[]>;
  /**
   * Sends a create-only PUT (`If-None-Match: *`) at once, unless `signal` is already aborted.
   * A PUT sent is left to answer (within its own deadline), so that a group it creates is known.
   * A PUT answered 429 fails at once with an AzureError that carries ARM's Retry-After: the
   * caller waits, on its own clock and within its own time.
   */
  beginCreate(resourceGroup: string, group: ContainerGroup, options?: CreateOptions): Promise<CreateOperation>;
  get(resourceGroup: string, name: string, options?: RequestOptions): Promise<GroupSnapshot | undefined>;
  /**
   * Sends the DELETE at once (no read first); false when there was nothing to delete (204, 404).
   * Waits until the group is gone unless `wait` is false (ACI stops the containers as soon as it
   * accepts the delete).
   */
  delete(resourceGroup: string, name: string, options?: OperationOptions & { wait?: boolean }): Promise<boolean>;
  list(resourceGroup: string, options?: RequestOptions): Promise<GroupSnapshot[]>;
  logs(resourceGroup: string, name: string, container: string, tail?: number, options?: RequestOptions): Promise<string>;
  /** Requests sent so far, for the summary and the benchmark. */
  readonly requestCount: number;
}

/** A standby pool as AciAgentStart reads it: where it is and the profile revision its instances are made from. */
export interface StandbyPoolInfo {
  id: string;
  name: string;
  location: string;
  profileId: string;
  profileRevision: number | undefined;
  maxReadyCapacity: number;
}

/** What a container group profile's containers request, summed (what each instance holds). */
export interface ProfileInfo {
  id: string;
  cpu: number;
  memoryInGB: number;
  osType: string;
  containerNames: string[];
}

/** A write ARM took, whose operation `untilDone` follows until it ends (its failure is an AzureError). */
export interface AcceptedWrite {
  untilDone(signal?: AbortSignal): Promise<void>;
}

/** The claim's answer: whether a warm instance of the pool was handed out, and its operation. */
export interface ClaimResult extends AcceptedWrite {
  isCreatedFromStandbyPool: boolean;
}

/** The calls of a standby start (claims from a standby pool), beside AciApi. */
export interface StandbyApi {
  /** The pool, by name in `resourceGroup` or by resource id; undefined when it does not exist. */
  standbyPool(resourceGroup: string, nameOrId: string, options?: RequestOptions): Promise<StandbyPoolInfo | undefined>;
  /** The profile (its current revision), by name in `resourceGroup` or by resource id; undefined when it does not exist. */
  containerGroupProfile(resourceGroup: string, nameOrId: string, options?: RequestOptions): Promise<ProfileInfo | undefined>;
  /**
   * The claim: a create-only PUT of `name` naming the pool and its profile, whose one container
   * carries only an (empty) config map; answers once ARM answered the PUT (the group exists, and a
   * warm one's container runs), with its operation to follow. As beginCreate, it sends nothing
   * when `signal` is already aborted, and a PUT sent is left to answer whatever `signal` does.
   */
  claim(resourceGroup: string, name: string, body: Record<string, unknown>, options?: OperationOptions): Promise<ClaimResult>;
  /** A tags-only PATCH (a claim's tags are not kept). */
  tagGroup(resourceGroup: string, name: string, tags: Record<string, string>, options?: RequestOptions): Promise<void>;
  /**
   * A config-map-only PUT on the claimed group (no restart); answers once ARM took it. Its
   * operation is polled every pollIntervalMs: the agent coming online tells its success sooner.
   */
  updateConfigMap(resourceGroup: string, name: string, body: Record<string, unknown>, options?: OperationOptions): Promise<AcceptedWrite>;
}

/**
 * A fleet's creates and claims are all sent at once, with no cap on how many are in flight. ARM's
 * write bucket (200 per subscription, 10 a second back) holds the 50 creates of the largest fleet;
 * ACI's own create limits count creates per 5 minutes and per hour, which no cap on concurrency
 * changes; a 429 is the caller's to wait out. A cap would only make the fleet wait for ARM's
 * answers in waves, and let a few hung PUTs hold every other agent back for their deadline.
 */
export class SdkAci implements AciApi, StandbyApi {
  private readonly client: ContainerInstanceManagementClient;
  /** PUTs that update a group (the config-map-only update): no If-None-Match. */
  private readonly updates = new WeakSet();
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
        {
          // Inside the SDK's retry loop: a PUT or PATCH answered 429 (ACI's create rate, or ARM's
          // write throttling) is not retried by the SDK after Retry-After, which could be minutes,
          // all inside the one request's deadline: the caller waits and sends it again. Nothing was
          // written. Every other 429 (reads, deletes) is still the SDK's to retry.
          position: "perRetry",
          policy: {
            name: "throttledWriteToCaller",
            sendRequest: async (request, next) => {
              const response = await next(request);
              if ((request.method !== "PUT" && request.method !== "PATCH") || response.status !== 429) return response;
              throw throttled(response.status, response.bodyAsText, (name) => response.headers.get(name));
            },
          },
        },
        {
          position: "perCall",
          policy: {
            // Only on the PUT: the operation's polls and final GET would be answered 304.
            name: "createOnly",
            sendRequest: (request, next) => {
              if (request.method === "PUT" && !this.updates.has(request)) request.headers.set("If-None-Match", "*");
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

  async resourceGroupLocation(resourceGroup: string, options: RequestOptions = {}): Promise<string> {
    // One GET; @azure/arm-resources would add a dependency (and its v8 wants Node 22) for it.
    const body = await this.armGet(
      `resource group ${resourceGroup}`,
      `subscriptions/${this.connection.subscriptionId}/resourcegroups/${encodeURIComponent(resourceGroup)}?api-version=2021-04-01`,
      options,
    );
    return typeof body.location === "string" ? body.location : "";
  }

  async containerGroupRegions(options: RequestOptions = {}): Promise<string[]> {
    const body = await this.armGet(
      "the Microsoft.ContainerInstance resource provider",
      `subscriptions/${this.connection.subscriptionId}/providers/Microsoft.ContainerInstance?api-version=${providersApiVersion}`,
      options,
    );
    return containerGroupRegionsOf(body);
  }

  async usages(location: string, options: RequestOptions = {}): Promise<AciUsage[]> {
    const body = await this.armGet(
      `the Container Instances usage of ${location}`,
      `subscriptions/${this.connection.subscriptionId}/providers/Microsoft.ContainerInstance/locations/${encodeURIComponent(location)}/usages?api-version=${usagesApiVersion}`,
      options,
    );
    return usagesOf(body);
  }

  async beginCreate(resourceGroup: string, group: ContainerGroup, options: CreateOptions = {}): Promise<CreateOperation> {
    const name = group.name ?? "";
    let accepted = false;
    // core-lro sends the operation's polls and final GET with the abortSignal given here, not with
    // pollUntilDone's: they follow the PUT's deadline, then untilDone's caller, so that a hung poll
    // is cut off (its open socket would keep the step's process alive after the step ended).
    const requests = new AbortController();
    // An aborted signal stops the PUT from going out; once sent, it runs to its answer.
    options.signal?.throwIfAborted();
    const poller = await this.arm(`create of container group ${name}`, undefined, (abortSignal) => {
      abortWith(requests, abortSignal);
      return this.client.containerGroups.beginCreateOrUpdate(resourceGroup, name, group, {
        abortSignal: requests.signal,
        updateIntervalInMs: options.pollIntervalMs ?? operationPollMs,
        // The first response is the PUT's; the polls' responses come after it.
        onResponse: () => {
          if (accepted) return;
          accepted = true;
          options.onAccepted?.();
        },
      });
    }).catch((error: unknown) => {
      if (accepted && error instanceof RequestTimeout) throw new RequestTimeout(`ARM: first poll of the create operation of container group ${name}`, error.afterMs);
      throw error;
    });
    return {
      untilDone: async (signal) => {
        const stopFollowing = abortWith(requests, signal);
        try {
          const result = await unlessAborted(wrap(() => poller.pollUntilDone({ abortSignal: signal })), signal);
          if (result.provisioningState?.toLowerCase() === "failed") {
            throw new AzureError(`the container group ${name} failed to provision`, "Failed", undefined);
          }
        } finally {
          stopFollowing();
        }
      },
    };
  }

  async get(resourceGroup: string, name: string, options: RequestOptions = {}): Promise<GroupSnapshot | undefined> {
    try {
      return snapshot(await this.arm(`GET of container group ${name}`, options.signal, (abortSignal) => this.client.containerGroups.get(resourceGroup, name, { abortSignal })));
    } catch (error) {
      if (error instanceof AzureError && error.status === 404) return undefined;
      throw error;
    }
  }

  async delete(resourceGroup: string, name: string, options: OperationOptions & { wait?: boolean } = {}): Promise<boolean> {
    let status: number | undefined;
    // As in beginCreate: the polls carry this signal, which follows the caller's.
    const requests = new AbortController();
    const deleting = this.arm(`DELETE of container group ${name}`, options.signal, (abortSignal) => {
      abortWith(requests, abortSignal);
      return this.client.containerGroups.beginDelete(resourceGroup, name, {
        abortSignal: requests.signal,
        updateIntervalInMs: options.pollIntervalMs ?? operationPollMs,
        onResponse: (response) => { status ??= response.status; },
      });
    });
    const poller = await deleting.catch((error: unknown) => {
      if (error instanceof AzureError && error.status === 404) return undefined;
      throw error;
    });
    if (poller === undefined) return false;
    if (options.wait !== false) {
      const stopFollowing = abortWith(requests, options.signal);
      try {
        await unlessAborted(wrap(() => poller.pollUntilDone({ abortSignal: options.signal })), options.signal);
      } finally {
        stopFollowing();
      }
    }
    return status !== 204;
  }

  async list(resourceGroup: string, options: RequestOptions = {}): Promise<GroupSnapshot[]> {
    return this.arm(`list of the container groups in ${resourceGroup}`, options.signal, async (abortSignal) => {
      const groups: GroupSnapshot[] = [];
      for await (const group of this.client.containerGroups.listByResourceGroup(resourceGroup, { abortSignal })) groups.push(snapshot(group));
      return groups;
    });
  }

  async logs(resourceGroup: string, name: string, container: string, tail?: number, options: RequestOptions = {}): Promise<string> {
    const logs = await this.arm(`log of container group ${name}`, options.signal, (abortSignal) =>
      this.client.containers.listLogs(resourceGroup, name, container, { abortSignal, ...(tail === undefined ? {} : { tail }) }),
    );
    return logs.content ?? "";
  }

  async standbyPool(resourceGroup: string, nameOrId: string, options: RequestOptions = {}): Promise<StandbyPoolInfo | undefined> {
    const path = this.resourcePath(resourceGroup, "Microsoft.StandbyPool/standbyContainerGroupPools", nameOrId);
    const body = await this.armGetOptional(`standby pool ${nameOrId}`, `${path}?api-version=${standbyPoolApiVersion}`, options);
    return body === undefined ? undefined : standbyPoolOf(body);
  }

  async containerGroupProfile(resourceGroup: string, nameOrId: string, options: RequestOptions = {}): Promise<ProfileInfo | undefined> {
    const path = this.resourcePath(resourceGroup, "Microsoft.ContainerInstance/containerGroupProfiles", nameOrId);
    const body = await this.armGetOptional(`container group profile ${nameOrId}`, `${path}?api-version=${standbyContainerApiVersion}`, options);
    return body === undefined ? undefined : profileOf(body);
  }

  /** The ARM path (no leading slash) of a resource of `type` given by name in `resourceGroup` or by resource id. */
  private resourcePath(resourceGroup: string, type: string, nameOrId: string): string {
    if (nameOrId.startsWith("/")) return nameOrId.replace(/^\/+/, "");
    return `subscriptions/${this.connection.subscriptionId}/resourceGroups/${encodeURIComponent(resourceGroup)}/providers/${type}/${encodeURIComponent(nameOrId)}`;
  }

  async claim(resourceGroup: string, name: string, body: Record<string, unknown>, options: OperationOptions = {}): Promise<ClaimResult> {
    const what = `claim of container group ${name}`;
    // As a create's: an aborted signal stops the PUT from going out; once sent, it runs to its
    // answer (within its deadline), so that a group it made is known and removed.
    options.signal?.throwIfAborted();
    const answer = await this.groupPut(what, resourceGroup, name, body, false, {});
    // The config map waits for the claim's end: polled soon, then less often.
    return { isCreatedFromStandbyPool: answer.isCreatedFromStandbyPool, ...this.accepted(what, answer.operation, options, 250) };
  }

  async tagGroup(resourceGroup: string, name: string, tags: Record<string, string>, options: RequestOptions = {}): Promise<void> {
    await this.arm(`PATCH of the tags of container group ${name}`, options.signal, (abortSignal) => this.client.containerGroups.update(resourceGroup, name, { tags }, { abortSignal }));
  }

  async updateConfigMap(resourceGroup: string, name: string, body: Record<string, unknown>, options: OperationOptions = {}): Promise<AcceptedWrite> {
    const what = `config map update of container group ${name}`;
    const { operation } = await this.groupPut(what, resourceGroup, name, body, true, options);
    return this.accepted(what, operation, options, options.pollIntervalMs ?? operationPollMs);
  }

  /** The write ARM took: its operation (when it has one), followed from firstPollMs on. */
  private accepted(what: string, operation: string | undefined, options: OperationOptions, firstPollMs: number): AcceptedWrite {
    return {
      untilDone: async (signal) => {
        if (operation !== undefined) await this.untilOperationEnds(what, operation, { ...options, signal: signal ?? options.signal }, firstPollMs);
      },
    };
  }

  /** A PUT of a container group at the standby api-version: the answer, and its Azure-AsyncOperation URL when it has one. */
  private async groupPut(what: string, resourceGroup: string, name: string, body: Record<string, unknown>, update: boolean, options: RequestOptions): Promise<{ isCreatedFromStandbyPool: boolean; operation: string | undefined }> {
    const url = `${this.connection.armUrl}subscriptions/${this.connection.subscriptionId}/resourceGroups/${encodeURIComponent(resourceGroup)}/providers/Microsoft.ContainerInstance/containerGroups/${encodeURIComponent(name)}?api-version=${standbyContainerApiVersion}`;
    const response = await this.arm(what, options.signal, (abortSignal) => {
      const request = createPipelineRequest({ url, method: "PUT", abortSignal, body: JSON.stringify(body) });
      request.headers.set("Content-Type", "application/json");
      if (update) this.updates.add(request);
      return this.client.sendRequest(request);
    });
    const answer = parseBody(response.bodyAsText);
    if (response.status === 429) throw throttled(response.status, response.bodyAsText, (header) => response.headers.get(header));
    if (response.status !== 200 && response.status !== 201) {
      const error = (answer?.error ?? {}) as { code?: string; message?: string };
      throw new AzureError(error.message ?? `ARM answered ${response.status}`, error.code ?? "Unknown", response.status);
    }
    const properties = (answer?.properties ?? {}) as { isCreatedFromStandbyPool?: unknown };
    return { isCreatedFromStandbyPool: properties.isCreatedFromStandbyPool === true, operation: response.headers.get("azure-asyncoperation") };
  }

  /**
   * Polls an Azure-AsyncOperation URL until its status is Succeeded; a Failed or Canceled one
   * throws its error. The first poll comes after firstPollMs, the pause doubles up to
   * pollIntervalMs.
   */
  private async untilOperationEnds(what: string, url: string, options: OperationOptions, firstPollMs: number): Promise<void> {
    let pauseMs = firstPollMs;
    await sleep(pauseMs, undefined, { signal: options.signal });
    for (;;) {
      const response = await this.arm(`poll of the ${what}`, options.signal, (abortSignal) => this.client.sendRequest(createPipelineRequest({ url, method: "GET", abortSignal })));
      const body = parseBody(response.bodyAsText) ?? {};
      const status = typeof body.status === "string" ? body.status.toLowerCase() : "";
      if (status === "succeeded") return;
      if (status === "failed" || status === "canceled") {
        const error = (body.error ?? {}) as { code?: string; message?: string };
        throw new AzureError(error.message ?? `the ${what} ended ${status}`, error.code ?? "Failed", undefined);
      }
      pauseMs = Math.min(pauseMs * 2, options.pollIntervalMs ?? operationPollMs);
      await sleep(pauseMs, undefined, { signal: options.signal });
    }
  }

  /** A GET whose 404 answers undefined. */
  private async armGetOptional(what: string, path: string, options: RequestOptions): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.armGet(what, path, options);
    } catch (error) {
      if (error instanceof AzureError && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * One ARM call with its deadline. ARM's failures become AzureErrors; the deadline's
   * RequestTimeout and the caller's abort reason stay as they are.
   */
  private arm<T>(what: string, signal: AbortSignal | undefined, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(`ARM: ${what}`, ARM_REQUEST_DEADLINE_MS, signal, (abortSignal) => wrap(() => call(abortSignal)));
  }

  private async armGet(what: string, path: string, options: RequestOptions): Promise<Record<string, unknown>> {
    const response = await this.arm(`GET of ${what}`, options.signal, (abortSignal) =>
      this.client.sendRequest(createPipelineRequest({ url: `${this.connection.armUrl}${path}`, method: "GET", abortSignal })),
    );
    const body = parseBody(response.bodyAsText);
    if (response.status !== 200) {
      const error = (body?.error ?? {}) as { code?: string; message?: string };
      throw new AzureError(error.message ?? `ARM answered ${response.status}`, error.code ?? "Unknown", response.status);
    }
    return body ?? {};
  }
}

/**
 * The regions of the provider's containerGroups resource type, as programmatic names: ARM lists
 * display names ("East US"), which lower case without spaces are the names a PUT takes.
 */
export function containerGroupRegionsOf(provider: Record<string, unknown>): string[] {
  const types = Array.isArray(provider.resourceTypes) ? (provider.resourceTypes as { resourceType?: unknown; locations?: unknown }[]) : [];
  const groups = types.find((type) => typeof type.resourceType === "string" && type.resourceType.toLowerCase() === "containergroups");
  const locations = Array.isArray(groups?.locations) ? groups.locations : [];
  return locations.filter((location): location is string => typeof location === "string").map(regionKey);
}

/** A usage listing's lines (`value[]`: `name.value`, `currentValue`, `limit`); lines without those are left out. */
export function usagesOf(listing: Record<string, unknown>): AciUsage[] {
  const lines = Array.isArray(listing.value) ? (listing.value as { name?: { value?: unknown }; currentValue?: unknown; limit?: unknown }[]) : [];
  return lines.flatMap((line) => {
    const name = line.name?.value;
    const { currentValue: current, limit } = line;
    return typeof name === "string" && typeof current === "number" && typeof limit === "number" ? [{ name, current, limit }] : [];
  });
}

/** An answer 429 as an AzureError with ARM's code and message and the wait it asked for. */
export function throttled(status: number, bodyText: string | null | undefined, header: (name: string) => string | undefined): AzureError {
  const error = (parseBody(bodyText)?.error ?? {}) as { code?: string; message?: string };
  return new AzureError(error.message ?? `ARM answered ${status}`, error.code ?? "TooManyRequests", status, retryAfterMs(header));
}

/** Retry-After as core-rest-pipeline reads it: retry-after-ms, x-ms-retry-after-ms, then Retry-After in seconds or as a date. */
export function retryAfterMs(header: (name: string) => string | undefined, now = Date.now()): number | undefined {
  for (const name of ["retry-after-ms", "x-ms-retry-after-ms"]) {
    const value = header(name);
    const ms = Number(value);
    if (value !== undefined && value.trim() !== "" && Number.isFinite(ms) && ms >= 0) return ms;
  }
  const value = header("retry-after");
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** A standby pool's GET answer as StandbyPoolInfo. */
export function standbyPoolOf(body: Record<string, unknown>): StandbyPoolInfo {
  const properties = (body.properties ?? {}) as {
    elasticityProfile?: { maxReadyCapacity?: unknown };
    containerGroupProperties?: { containerGroupProfile?: { id?: unknown; revision?: unknown } };
  };
  const profile = properties.containerGroupProperties?.containerGroupProfile;
  return {
    id: typeof body.id === "string" ? body.id : "",
    name: typeof body.name === "string" ? body.name : "",
    location: regionKey(typeof body.location === "string" ? body.location : ""),
    profileId: typeof profile?.id === "string" ? profile.id : "",
    profileRevision: typeof profile?.revision === "number" ? profile.revision : undefined,
    maxReadyCapacity: typeof properties.elasticityProfile?.maxReadyCapacity === "number" ? properties.elasticityProfile.maxReadyCapacity : 0,
  };
}

/** A profile's GET answer as ProfileInfo: its containers' requests summed. */
export function profileOf(body: Record<string, unknown>): ProfileInfo {
  const properties = (body.properties ?? {}) as { containers?: { name?: unknown; properties?: { resources?: { requests?: { cpu?: unknown; memoryInGB?: unknown } } } }[]; osType?: unknown };
  let cpu = 0;
  let memoryInGB = 0;
  for (const container of properties.containers ?? []) {
    const requests = container.properties?.resources?.requests;
    if (typeof requests?.cpu === "number") cpu += requests.cpu;
    if (typeof requests?.memoryInGB === "number") memoryInGB += requests.memoryInGB;
  }
  const containerNames = (properties.containers ?? []).flatMap((container) => (typeof container.name === "string" ? [container.name] : []));
  return { id: typeof body.id === "string" ? body.id : "", cpu, memoryInGB, osType: typeof properties.osType === "string" ? properties.osType : "Linux", containerNames };
}

/** "East US", "eastus" and "EastUS" name one region. */
export function regionKey(name: string): string {
  return name.replace(/\s+/g, "").toLowerCase();
}

function snapshot(group: ContainerGroup): GroupSnapshot {
  return {
    name: group.name ?? "",
    location: group.location ?? "",
    provisioningState: group.provisioningState ?? "",
    state: group.instanceView?.state,
    tags: group.tags ?? {},
    events: (group.instanceView?.events ?? []).map(event),
    containers: group.containers.map((c) => {
      const current = c.instanceView?.currentState;
      const previous = c.instanceView?.previousState;
      // Typed as always there; read defensively, since a foreign group's body is whatever ARM holds.
      const requests = (c.resources as { requests?: { cpu?: unknown; memoryInGB?: unknown } } | undefined)?.requests;
      return {
        name: c.name,
        state: current?.state,
        exitCode: current?.exitCode,
        detailStatus: current?.detailStatus,
        restartCount: c.instanceView?.restartCount ?? 0,
        ...times(current),
        previousState: previous === undefined ? undefined : { state: previous.state, exitCode: previous.exitCode, ...times(previous) },
        ...(typeof requests?.cpu === "number" && typeof requests.memoryInGB === "number" ? { requests: { cpu: requests.cpu, memoryInGB: requests.memoryInGB } } : {}),
        events: (c.instanceView?.events ?? []).map(event),
      };
    }),
  };
}

/** A container state's start and finish times as ISO 8601 (the SDK gives Dates), each only when known. */
function times(state: { startTime?: Date; finishTime?: Date } | undefined): { startTime?: string; finishTime?: string } {
  const startTime = isoTime(state?.startTime);
  const finishTime = isoTime(state?.finishTime);
  return { ...(startTime === undefined ? {} : { startTime }), ...(finishTime === undefined ? {} : { finishTime }) };
}

function isoTime(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const at = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(at) ? undefined : new Date(at).toISOString();
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
