// Container group profiles and standby pools over ARM. Requests go through the ACI SDK client's
// sendRequest (the connection's credential, retries and user agent) with the deadline and errors of
// aci.ts. Not @azure/arm-standbypool (published, 1.0.0–3.0.0): it would add a dependency for three
// routes, and @azure/arm-containerinstance 9.1.0 speaks 2023-05-01, which has no profiles, so the
// profile needs plain requests anyway.
import { ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
import { createPipelineRequest, type HttpMethods } from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/identity";
import { systemClock } from "../core/clock";
import { withDeadline } from "../core/deadline";
import { userAgentPrefix } from "../core/userAgent";
import { ARM_REQUEST_DEADLINE_MS, AzureError, retryAfterMs, toAzureError } from "./aci";
import { armScope, type ArmConnection } from "./connection";

export interface ArmResource {
  id?: string;
  location?: string;
  tags?: Record<string, string>;
  properties?: Record<string, unknown>;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** What AciAgentStandbyPool needs from ARM; tests give fakes. */
export interface StandbyArmApi {
  readonly subscriptionId: string;
  /** undefined when there is none (404). */
  get(resourceId: string, apiVersion: string, options?: RequestOptions): Promise<ArmResource | undefined>;
  /** PUT, and for a long-running one (Azure-AsyncOperation) waits until it ends; the resource as ARM answers it. */
  put(resourceId: string, apiVersion: string, body: unknown, options?: RequestOptions): Promise<ArmResource>;
  /** DELETE, waiting for a long-running one; false when there was nothing to delete (204, 404). */
  delete(resourceId: string, apiVersion: string, options?: RequestOptions): Promise<boolean>;
}

const operationPollMs = 2000;

export class SdkStandbyArm implements StandbyArmApi {
  private readonly client: ContainerInstanceManagementClient;
  readonly subscriptionId: string;

  constructor(
    private readonly connection: ArmConnection,
    credential: TokenCredential,
    private readonly pollMs = operationPollMs,
  ) {
    this.subscriptionId = connection.subscriptionId;
    // No create-only policy here (unlike aci.ts): apply updates what exists.
    this.client = new ContainerInstanceManagementClient(credential, connection.subscriptionId, {
      endpoint: connection.armUrl,
      credentialScopes: [armScope(connection)],
      userAgentOptions: { userAgentPrefix },
    });
  }

  async get(resourceId: string, apiVersion: string, options: RequestOptions = {}): Promise<ArmResource | undefined> {
    const answer = await this.send("GET", this.url(resourceId, apiVersion), undefined, options);
    if (answer.status === 404) return undefined;
    return this.resourceOf(answer, `GET of ${resourceId}`);
  }

  async put(resourceId: string, apiVersion: string, body: unknown, options: RequestOptions = {}): Promise<ArmResource> {
    const answer = await this.send("PUT", this.url(resourceId, apiVersion), body, options);
    const resource = this.resourceOf(answer, `PUT of ${resourceId}`);
    const operation = answer.header("azure-asyncoperation");
    if (operation === undefined) return resource;
    await this.untilSucceeded(operation, `PUT of ${resourceId}`, options);
    return (await this.get(resourceId, apiVersion, options)) ?? resource;
  }

  async delete(resourceId: string, apiVersion: string, options: RequestOptions = {}): Promise<boolean> {
    const answer = await this.send("DELETE", this.url(resourceId, apiVersion), undefined, options);
    if (answer.status === 404 || answer.status === 204) return false;
    if (answer.status >= 300) throw errorOf(answer, `DELETE of ${resourceId}`);
    const location = answer.header("location");
    if (answer.status === 202 && location !== undefined) {
      for (let poll = answer; poll.status === 202; ) {
        await this.pause(poll, options);
        poll = await this.send("GET", location, undefined, options);
        if (poll.status >= 300 && poll.status !== 404) throw errorOf(poll, `DELETE of ${resourceId}`);
      }
    }
    return true;
  }

  private async untilSucceeded(operationUrl: string, what: string, options: RequestOptions): Promise<void> {
    for (;;) {
      const poll = await this.send("GET", operationUrl, undefined, options);
      if (poll.status >= 300) throw errorOf(poll, what);
      const status = typeof poll.body?.status === "string" ? poll.body.status : "Succeeded";
      if (/^succeeded$/i.test(status)) return;
      if (/^(failed|canceled|cancelled)$/i.test(status)) {
        const error = (poll.body?.error ?? {}) as { code?: string; message?: string };
        throw new AzureError(error.message ?? `the ${what} ended ${status}`, error.code ?? status, undefined);
      }
      await this.pause(poll, options);
    }
  }

  private async pause(answer: Answer, options: RequestOptions): Promise<void> {
    const ms = Math.min(answer.retryAfterMs ?? this.pollMs, 30_000);
    await systemClock.sleep(ms, options.signal);
  }

  private url(resourceId: string, apiVersion: string): string {
    return `${this.connection.armUrl.replace(/\/+$/, "")}${resourceId}?api-version=${apiVersion}`;
  }

  private resourceOf(answer: Answer, what: string): ArmResource {
    if (answer.status >= 300) throw errorOf(answer, what);
    const resource: ArmResource = answer.body ?? {};
    return resource;
  }

  /** One request with aci.ts' deadline; a transport failure becomes an AzureError. */
  private async send(method: HttpMethods, url: string, body: unknown, options: RequestOptions): Promise<Answer> {
    const response = await withDeadline(`ARM: ${method} ${url.replace(/\?.*$/, "")}`, ARM_REQUEST_DEADLINE_MS, options.signal, async (abortSignal) => {
      try {
        const request = createPipelineRequest({ url, method, abortSignal, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
        if (body !== undefined) request.headers.set("Content-Type", "application/json");
        return await this.client.sendRequest(request);
      } catch (error) {
        throw toAzureError(error);
      }
    });
    const header = (name: string): string | undefined => response.headers.get(name) ?? undefined;
    return { status: response.status, body: parseBody(response.bodyAsText), header, retryAfterMs: retryAfterMs(header) };
  }
}

interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
  header(name: string): string | undefined;
  retryAfterMs: number | undefined;
}

function errorOf(answer: Answer, what: string): AzureError {
  const error = (answer.body?.error ?? {}) as { code?: string; message?: string };
  return new AzureError(`${what}: ${error.message ?? `ARM answered ${answer.status}`}`, error.code ?? "Unknown", answer.status);
}

function parseBody(text: string | null | undefined): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text ?? "") as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
