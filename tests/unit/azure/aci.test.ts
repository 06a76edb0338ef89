// SdkAci's long-running operations: core-lro sends an operation's polls and its final GET with the
// abortSignal given to begin…, not with the one given to pollUntilDone. The SDK's operation methods
// are replaced by fakes that keep that signal; what matters is whether it aborts when the caller
// stops waiting, since a poll left running holds its socket and keeps the step's process alive.
import { strict as assert } from "node:assert";
import type { ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
import type { TokenCredential } from "@azure/identity";
import sinon from "sinon";
import { createHttpHeaders, type HttpClient, type PipelineRequest } from "@azure/core-rest-pipeline";
import { AzureError, retryAfterMs, SdkAci } from "../../../src/azure/aci";
import { RequestTimeout } from "../../../src/core/deadline";
import type { ArmConnection } from "../../../src/azure/connection";

const connection = { armUrl: "https://management.example/", subscriptionId: "00000000-0000-4000-8000-000000000001" } as ArmConnection;
const credential: TokenCredential = { getToken: () => Promise.resolve({ token: "t", expiresOnTimestamp: Date.now() + 3_600_000 }) };

/** A poller whose polls never answer, and the abortSignal its operation's requests were given. */
function hungOperation(): { seen: { signal?: AbortSignal }; begin: (...args: unknown[]) => Promise<unknown> } {
  const seen: { signal?: AbortSignal } = {};
  const begin = (...args: unknown[]) => {
    seen.signal = (args.at(-1) as { abortSignal?: AbortSignal }).abortSignal;
    return Promise.resolve({ pollUntilDone: () => new Promise(() => {}) });
  };
  return { seen, begin };
}

function sdkAciWith(operations: Partial<ContainerInstanceManagementClient["containerGroups"]>): SdkAci {
  const aci = new SdkAci(connection, credential);
  const client = (aci as unknown as { client: ContainerInstanceManagementClient }).client;
  Object.assign(client.containerGroups, operations);
  return aci;
}

describe("SdkAci: the requests of a long-running operation end when its caller stops waiting", () => {
  it("a create's polls are aborted when untilDone's signal aborts", async () => {
    const { seen, begin } = hungOperation();
    const aci = sdkAciWith({ beginCreateOrUpdate: begin as ContainerInstanceManagementClient["containerGroups"]["beginCreateOrUpdate"] });
    const operation = await aci.beginCreate("rg", { name: "azp-1-1-1", osType: "Linux", containers: [] });
    const caller = new AbortController();
    const done = operation.untilDone(caller.signal).catch((error: unknown) => error);
    assert.equal(seen.signal?.aborted, false);
    caller.abort(new Error("the step's deadline"));
    assert.ok((await done) instanceof Error);
    assert.equal(seen.signal.aborted, true, "the operation's polls go on after the caller gave up");
  });

  it("a delete's polls are aborted when the caller's signal aborts", async () => {
    const { seen, begin } = hungOperation();
    const aci = sdkAciWith({ beginDelete: begin as ContainerInstanceManagementClient["containerGroups"]["beginDelete"] });
    const caller = new AbortController();
    const done = aci.delete("rg", "azp-1-1-1", { signal: caller.signal }).catch((error: unknown) => error);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(seen.signal?.aborted, false);
    caller.abort(new Error("the clean-up's bound"));
    assert.ok((await done) instanceof Error);
    assert.equal(seen.signal.aborted, true, "the operation's polls go on after the caller gave up");
  });
});

describe("SdkAci: a create that hangs is named by what hangs", () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => { clock = sinon.useFakeTimers(); });
  afterEach(() => { clock.restore(); });

  /** The SDK's begin…: answers the PUT (its onResponse) when `putAnswered`, then waits forever on its first poll. */
  function hangingBegin(putAnswered: boolean) {
    return ((...args: unknown[]) => {
      const options = args.at(-1) as { onResponse?: () => void };
      if (putAnswered) options.onResponse?.();
      return new Promise(() => {});
    }) as ContainerInstanceManagementClient["containerGroups"]["beginCreateOrUpdate"];
  }

  for (const [putAnswered, named] of [
    [false, /^ARM: create of container group azp-1-1-1: no answer within 60 s$/],
    [true, /^ARM: first poll of the create operation of container group azp-1-1-1: no answer within 60 s$/],
  ] as const) {
    it(`${putAnswered ? "the PUT answered, its first poll hangs" : "the PUT hangs"}: the deadline's error says so`, async () => {
      const aci = sdkAciWith({ beginCreateOrUpdate: hangingBegin(putAnswered) });
      let accepted = false;
      const creating = aci.beginCreate("rg", { name: "azp-1-1-1", osType: "Linux", containers: [] }, { onAccepted: () => { accepted = true; } }).catch((error: unknown) => error);
      await clock.tickAsync(60_000);
      const error = await creating;
      assert.ok(error instanceof RequestTimeout, String(error));
      assert.match(error.message, named);
      assert.equal(accepted, putAnswered, "onAccepted was not called exactly when the PUT was answered");
    });
  }
});

describe("SdkAci: a group's snapshot keeps what its usage is computed from", () => {
  const resources = { requests: { cpu: 2, memoryInGB: 4 } };
  /** A container as the SDK deserializes it (times as Dates), with the given instance view. */
  const container = (instanceView: Record<string, unknown> | undefined) => ({ name: "azp-1-1-1", image: "agent", resources, ...(instanceView === undefined ? {} : { instanceView }) });
  const cases: [string, Record<string, unknown> | undefined, Record<string, unknown>][] = [
    [
      "a running container: its start, no finish",
      { restartCount: 0, currentState: { state: "Running", startTime: new Date("2026-03-01T10:00:01.500Z") } },
      { state: "Running", startTime: "2026-03-01T10:00:01.500Z", finishTime: undefined, previousState: undefined },
    ],
    [
      "an ended container: its start and finish",
      { restartCount: 0, currentState: { state: "Terminated", exitCode: 0, startTime: new Date("2026-03-01T10:00:00Z"), finishTime: new Date("2026-03-01T10:12:00Z") } },
      { state: "Terminated", startTime: "2026-03-01T10:00:00.000Z", finishTime: "2026-03-01T10:12:00.000Z", previousState: undefined },
    ],
    [
      "a restarted container: the previous run's start and finish too",
      {
        restartCount: 1,
        currentState: { state: "Running", startTime: new Date("2026-03-01T10:05:00Z") },
        previousState: { state: "Terminated", exitCode: 1, startTime: new Date("2026-03-01T10:00:00Z"), finishTime: new Date("2026-03-01T10:04:50Z") },
      },
      {
        state: "Running",
        startTime: "2026-03-01T10:05:00.000Z",
        finishTime: undefined,
        previousState: { state: "Terminated", exitCode: 1, startTime: "2026-03-01T10:00:00.000Z", finishTime: "2026-03-01T10:04:50.000Z" },
      },
    ],
    ["a list item: no instance view, no times", undefined, { state: undefined, startTime: undefined, finishTime: undefined, previousState: undefined }],
  ];
  for (const [title, instanceView, expected] of cases) {
    it(`${title}, and the requested cpu and memory`, async () => {
      const group = { name: "azp-1-1-1", location: "westeurope", osType: "Linux", containers: [container(instanceView)] };
      const aci = sdkAciWith({ get: () => Promise.resolve(group) });
      const snapshot = await aci.get("rg", "azp-1-1-1");
      const [read] = snapshot?.containers ?? [];
      assert.ok(read !== undefined);
      assert.deepEqual(
        { state: read.state, startTime: read.startTime, finishTime: read.finishTime, previousState: read.previousState },
        expected,
      );
      assert.deepEqual(read.requests, { cpu: 2, memoryInGB: 4 });
    });
  }
});

/** An HTTP client in place of the network, under the SDK's whole pipeline: each request answered by `answer`. */
function sdkAciAnswering(answer: (request: PipelineRequest) => { status: number; body?: unknown; headers?: Record<string, string> }): { aci: SdkAci; sent: PipelineRequest[] } {
  const aci = new SdkAci(connection, credential);
  const sent: PipelineRequest[] = [];
  const httpClient: HttpClient = {
    sendRequest: (request) => {
      sent.push(request);
      const { status, body, headers = {} } = answer(request);
      return Promise.resolve({ request, status, headers: createHttpHeaders({ "content-type": "application/json", ...headers }), bodyAsText: body === undefined ? "" : JSON.stringify(body) });
    },
  };
  (aci as unknown as { client: { _httpClient: HttpClient } }).client._httpClient = httpClient;
  return { aci, sent };
}

describe("SdkAci.usages", () => {
  it("reads a region's Container Instances usage with api-version 2023-05-01", async () => {
    const { aci, sent } = sdkAciAnswering(() => ({
      status: 200,
      body: {
        value: [
          { unit: "Count", currentValue: 4, limit: 10, name: { value: "StandardCores", localizedValue: "Standard Cores" } },
          { unit: "Count", currentValue: 2, limit: 100, name: { value: "ContainerGroups", localizedValue: "Container Groups" } },
          { unit: "Count", name: { value: "Incomplete" } },
        ],
      },
    }));
    assert.deepEqual(await aci.usages("westeurope"), [
      { name: "StandardCores", current: 4, limit: 10 },
      { name: "ContainerGroups", current: 2, limit: 100 },
    ]);
    assert.deepEqual(sent.map((r) => `${r.method} ${r.url}`), [`GET https://management.example/subscriptions/${connection.subscriptionId}/providers/Microsoft.ContainerInstance/locations/westeurope/usages?api-version=2023-05-01`]);
  });

  it("fails with ARM's code when the identity may not read it", async () => {
    const { aci } = sdkAciAnswering(() => ({ status: 403, body: { error: { code: "AuthorizationFailed", message: "The client 'x' does not have authorization to perform action 'Microsoft.ContainerInstance/locations/usages/read'" } } }));
    const error = await aci.usages("westeurope").catch((e: unknown) => e);
    assert.ok(error instanceof AzureError, String(error));
    assert.equal(error.code, "AuthorizationFailed");
    assert.equal(error.status, 403);
  });
});

describe("SdkAci: a write answered 429 is the caller's to wait for", () => {
  it("fails the PUT at once, without the SDK's own retries, with ARM's code and Retry-After", async () => {
    const { aci, sent } = sdkAciAnswering(() => ({
      status: 429,
      headers: { "retry-after": "37" },
      body: { error: { code: "TooManyRequests", message: "Too many container groups were created in this subscription." } },
    }));
    const error = await aci.beginCreate("rg", { name: "azp-1-1-1", location: "westeurope", osType: "Linux", containers: [] }).catch((e: unknown) => e);
    assert.ok(error instanceof AzureError, String(error));
    assert.deepEqual({ code: error.code, status: error.status, retryAfterMs: error.retryAfterMs, message: error.message }, {
      code: "TooManyRequests",
      status: 429,
      retryAfterMs: 37_000,
      message: "Too many container groups were created in this subscription.",
    });
    assert.deepEqual(sent.map((r) => r.method), ["PUT"], "the SDK sent the PUT again itself");
  });

  it("fails a tags PATCH answered 429 at once too, with ARM's code and Retry-After", async () => {
    const { aci, sent } = sdkAciAnswering(() => ({
      status: 429,
      headers: { "retry-after": "12" },
      body: { error: { code: "SubscriptionRequestsThrottled", message: "Number of 'write' requests for subscription exceeded the limit." } },
    }));
    const error = await aci.tagGroup("rg", "azp-1-1-1", { "aci-agents-agent": "azp-1-1-1" }).catch((e: unknown) => e);
    assert.ok(error instanceof AzureError, String(error));
    assert.deepEqual({ code: error.code, status: error.status, retryAfterMs: error.retryAfterMs }, { code: "SubscriptionRequestsThrottled", status: 429, retryAfterMs: 12_000 });
    assert.deepEqual(sent.map((r) => r.method), ["PATCH"], "the SDK sent the PATCH again itself");
  });

  it("leaves a read answered 429 to the SDK's own retries", async () => {
    let answered = 0;
    const { aci, sent } = sdkAciAnswering(() => (answered++ === 0 ? { status: 429, headers: { "retry-after": "0" }, body: { error: { code: "TooManyRequests", message: "throttled" } } } : { status: 200, body: { value: [] } }));
    assert.deepEqual(await aci.usages("westeurope"), []);
    assert.equal(sent.length, 2);
  });
});

describe("retryAfterMs", () => {
  const now = Date.parse("2026-03-01T12:00:00Z");
  const cases: [string, Record<string, string>, number | undefined][] = [
    ["seconds", { "retry-after": "30" }, 30_000],
    ["milliseconds first", { "retry-after-ms": "1500", "retry-after": "30" }, 1_500],
    ["x-ms-retry-after-ms", { "x-ms-retry-after-ms": "250" }, 250],
    ["an HTTP date", { "retry-after": "Sun, 01 Mar 2026 12:00:45 GMT" }, 45_000],
    ["a date past", { "retry-after": "Sun, 01 Mar 2026 11:00:00 GMT" }, 0],
    ["none", {}, undefined],
    ["nonsense", { "retry-after": "soon" }, undefined],
  ];
  for (const [name, headers, expected] of cases) it(`${name}: ${String(expected)}`, () => { assert.equal(retryAfterMs((header) => headers[header], now), expected); });
});

describe("SdkAci: the operations of a claim and of a config map update", () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => { clock = sinon.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] }); });
  afterEach(() => { clock.restore(); });

  /** A PUT answered with an operation that runs for `runsMs`, and the times of the operation's polls. */
  function operationRunning(runsMs: number) {
    const polls: number[] = [];
    let acceptedAt = Number.NaN;
    const { aci } = sdkAciAnswering((request) => {
      if (request.method === "PUT") {
        acceptedAt = Date.now();
        return { status: 200, headers: { "azure-asyncoperation": "https://management.example/operations/op-1?api-version=x" }, body: { properties: { isCreatedFromStandbyPool: true } } };
      }
      polls.push(Date.now() - acceptedAt);
      return { status: 200, body: { status: Date.now() - acceptedAt >= runsMs ? "Succeeded" : "InProgress" } };
    });
    return { aci, polls };
  }
  const body = { properties: { containers: [] } };

  it("a claim's operation is polled soon (250 ms, then doubling), since the config map waits for its end", async () => {
    const { aci, polls } = operationRunning(1_000);
    const claim = await aci.claim("rg", "azp-1-1-1", body, { pollIntervalMs: 2_500 });
    const done = claim.untilDone();
    await clock.tickAsync(5_000);
    await done;
    assert.deepEqual(polls, [250, 750, 1_750]);
  });

  it("a config map update is answered once ARM takes the PUT; its operation, followed only for a failure, is polled at the fleet's pace", async () => {
    const { aci, polls } = operationRunning(1_000);
    const update = await aci.updateConfigMap("rg", "azp-1-1-1", body, { pollIntervalMs: 2_500 });
    assert.deepEqual(polls, [], "polled before the caller asked");
    const done = update.untilDone();
    await clock.tickAsync(6_000);
    await done;
    assert.deepEqual(polls, [2_500]);
  });
});

describe("SdkAci: a fleet's writes go out together, however slowly ARM answers them", () => {
  /** An HTTP client that holds every request until `answerAll`, and answers at once after it; `sent` is what reached it. */
  function sdkAciHolding() {
    const aci = new SdkAci(connection, credential);
    const sent: PipelineRequest[] = [];
    const held: (() => void)[] = [];
    let answering = false;
    const httpClient: HttpClient = {
      sendRequest: (request) => {
        sent.push(request);
        return new Promise((resolve) => {
          const answer = () => {
            resolve({ request, status: 201, headers: createHttpHeaders({ "content-type": "application/json" }), bodyAsText: JSON.stringify({ name: "g", properties: { provisioningState: "Succeeded", containers: [] } }) });
          };
          if (answering) answer();
          else held.push(answer);
        });
      },
    };
    (aci as unknown as { client: { _httpClient: HttpClient } }).client._httpClient = httpClient;
    const answerAll = () => {
      answering = true;
      for (const answer of held.splice(0)) answer();
    };
    return { aci, sent, answerAll };
  }
  const settle = async () => { for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve)); };
  const names = Array.from({ length: 20 }, (_, i) => `azp-1-1-${i + 1}`);

  it("twenty claims: every PUT is sent before ARM answers the first (DESIGN: the groups are made concurrently)", async () => {
    const { aci, sent, answerAll } = sdkAciHolding();
    const claims = names.map((name) => aci.claim("rg", name, { properties: { containers: [] } }));
    await settle();
    const sentBeforeAnyAnswer = sent.length;
    answerAll();
    await Promise.all(claims);
    assert.equal(sentBeforeAnyAnswer, 20, "claims waited for earlier claims' answers");
  });

  it("a claim and a create asked for after their caller gave up send nothing", async () => {
    const { aci, sent } = sdkAciHolding();
    const gaveUp = AbortSignal.abort(new Error("the step was cancelled"));
    await assert.rejects(aci.claim("rg", "azp-1-1-1", { properties: { containers: [] } }, { signal: gaveUp }), /cancelled/);
    await assert.rejects(aci.beginCreate("rg", { name: "azp-1-1-2", location: "westeurope", osType: "Linux", containers: [] }, { signal: gaveUp }), /cancelled/);
    assert.deepEqual(sent, []);
  });

  it("a claim sent runs to its answer when its caller gives up, so that the group it made is known (and removed)", async () => {
    const { aci, sent, answerAll } = sdkAciHolding();
    const caller = new AbortController();
    const claim = aci.claim("rg", "azp-1-1-1", { properties: { containers: [] } }, { signal: caller.signal });
    await settle();
    caller.abort(new Error("the step was cancelled"));
    await settle();
    const put = sent.find((r) => r.method === "PUT");
    assert.equal(put?.abortSignal?.aborted ?? false, false, "the claim's PUT was cut off on this side, so ARM may make its group unseen");
    answerAll();
    assert.equal((await claim).isCreatedFromStandbyPool, false);
  });

  it("twenty creates: every PUT is sent before ARM answers the first", async () => {
    const { aci, sent, answerAll } = sdkAciHolding();
    const creates = names.map((name) => aci.beginCreate("rg", { name, location: "westeurope", osType: "Linux", containers: [] }));
    await settle();
    const sentBeforeAnyAnswer = sent.filter((r) => r.method === "PUT").length;
    answerAll();
    await Promise.all(creates);
    assert.equal(sentBeforeAnyAnswer, 20, "creates waited for earlier creates' answers");
  });
});
