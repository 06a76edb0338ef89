// SdkStandbyArm over a fake transport: ARM's answers for profiles and pools, the pool's
// long-running PUT (Azure-AsyncOperation) and DELETE (202 and Location), and ARM's errors.
import { strict as assert } from "node:assert";
import type { TokenCredential } from "@azure/identity";
import { createHttpHeaders, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { AzureError } from "../../../src/azure/aci";
import type { ArmConnection } from "../../../src/azure/connection";
import { SdkStandbyArm } from "../../../src/azure/standby";

const connection = { armUrl: "https://management.example/", subscriptionId: "00000000-0000-4000-8000-000000000001" } as ArmConnection;
const credential: TokenCredential = { getToken: () => Promise.resolve({ token: "t", expiresOnTimestamp: Date.now() + 3_600_000 }) };
const POOL = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.StandbyPool/standbyContainerGroupPools/warm";

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

/** An SdkStandbyArm whose client answers from `replies` in order, and the requests it sent. */
function armWith(replies: Reply[]): { arm: SdkStandbyArm; sent: string[] } {
  const arm = new SdkStandbyArm(connection, credential, 0);
  const sent: string[] = [];
  const client = (arm as unknown as { client: { sendRequest(request: PipelineRequest): Promise<PipelineResponse> } }).client;
  client.sendRequest = (request) => {
    sent.push(`${request.method} ${request.url}`);
    const reply = replies.shift();
    assert.ok(reply !== undefined, `no answer left for ${request.method} ${request.url}`);
    return Promise.resolve({
      request,
      status: reply.status,
      headers: createHttpHeaders(reply.headers),
      bodyAsText: reply.body === undefined ? "" : JSON.stringify(reply.body),
    });
  };
  return { arm, sent };
}

describe("SdkStandbyArm", function () {
  it("waits for a pool PUT's operation, then reads the pool", async function () {
    const { arm, sent } = armWith([
      { status: 201, body: { properties: {} }, headers: { "azure-asyncoperation": "https://management.example/op/1" } },
      { status: 200, body: { status: "InProgress" } },
      { status: 200, body: { status: "Succeeded" } },
      { status: 200, body: { id: POOL, properties: { provisioningState: "Succeeded" } } },
    ]);
    const pool = await arm.put(POOL, "2026-04-01", { properties: {} });
    assert.equal(pool.id, POOL);
    assert.deepEqual(sent, [
      `PUT https://management.example${POOL}?api-version=2026-04-01`,
      "GET https://management.example/op/1",
      "GET https://management.example/op/1",
      `GET https://management.example${POOL}?api-version=2026-04-01`,
    ]);
  });

  it("a failed operation is an AzureError with its code", async function () {
    const { arm } = armWith([
      { status: 201, body: {}, headers: { "azure-asyncoperation": "https://management.example/op/2" } },
      { status: 200, body: { status: "Failed", error: { code: "ProfileNotFound", message: "no such profile" } } },
    ]);
    await assert.rejects(arm.put(POOL, "2026-04-01", {}), (error: unknown) => error instanceof AzureError && error.code === "ProfileNotFound");
  });

  it("a DELETE answered 202 is followed at its Location until it ends; 204 and 404 mean it was gone", async function () {
    const running = armWith([
      { status: 202, headers: { location: "https://management.example/opresult/3" } },
      { status: 202 },
      { status: 204 },
    ]);
    assert.equal(await running.arm.delete(POOL, "2026-04-01"), true);
    assert.equal(running.sent.length, 3);
    assert.equal(await armWith([{ status: 204 }]).arm.delete(POOL, "2026-04-01"), false);
    assert.equal(await armWith([{ status: 404, body: { error: { code: "ResourceNotFound" } } }]).arm.delete(POOL, "2026-04-01"), false);
  });

  it("GET 404 is undefined; an ARM error keeps its code, status and message", async function () {
    assert.equal(await armWith([{ status: 404 }]).arm.get(POOL, "2026-04-01"), undefined);
    const { arm } = armWith([{ status: 400, body: { error: { code: "InvalidRequestContent", message: "maxReadyCapacity must be at most 2000" } } }]);
    await assert.rejects(
      arm.put(POOL, "2026-04-01", {}),
      (error: unknown) => error instanceof AzureError && error.code === "InvalidRequestContent" && error.status === 400 && /maxReadyCapacity/.test(error.message),
    );
  });
});
