// The emulated instance metadata service of the agent machine: the managed identity token route
// as Azure documents it, and @azure/identity's ManagedIdentityCredential reaching it through
// AZURE_POD_IDENTITY_AUTHORITY_HOST.
import { strict as assert } from "node:assert";
import { request } from "node:http";
import { ManagedIdentityCredential } from "@azure/identity";
import jwt from "jsonwebtoken";
import { agentMachineIdentities } from "../../emulator/imds/routes";
import { azureDevOpsResource, useEmulator, type EmulatorInfo } from "../helpers/emulator";

function imdsGet(info: EmulatorInfo, query: string, headers: Record<string, string> = { Metadata: "true" }): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${info.imdsUrl}/metadata/identity/oauth2/token?${query}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> }); });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("emulated instance metadata service (managed identity tokens)", function () {
  const emulator = useEmulator();

  it("refuses a request without the Metadata header", async function () {
    const res = await imdsGet(emulator().info, "api-version=2018-02-01&resource=https://management.azure.com/", {});
    assert.equal(res.status, 400);
    assert.equal(res.json.error, "invalid_request");
  });

  it("gives the system-assigned identity's token for the resource as asked, numbers as strings", async function () {
    const res = await imdsGet(emulator().info, `api-version=2018-02-01&resource=${azureDevOpsResource}`);
    assert.equal(res.status, 200);
    assert.equal(res.json.resource, azureDevOpsResource);
    assert.equal(typeof res.json.expires_on, "string");
    const claims = jwt.decode(String(res.json.access_token), { json: true });
    assert.ok(claims !== null);
    assert.equal(claims.aud, azureDevOpsResource);
    assert.equal(claims.appid, agentMachineIdentities.systemAssigned.clientId);
  });

  it("answers Identity not found for a client id the machine does not have", async function () {
    const res = await imdsGet(emulator().info, "api-version=2018-02-01&resource=https://management.azure.com/&client_id=00000000-0000-4000-8000-000000000000");
    assert.equal(res.status, 400);
    assert.equal(res.json.error_description, "Identity not found");
  });

  it("serves ManagedIdentityCredential of @azure/identity, for a user-assigned identity, through AZURE_POD_IDENTITY_AUTHORITY_HOST", async function () {
    const { info } = emulator();
    const identity = agentMachineIdentities.userAssigned[0];
    assert.ok(identity !== undefined);
    const previous = process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
    process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = info.imdsUrl;
    try {
      const token = await new ManagedIdentityCredential({ clientId: identity.clientId }).getToken(`${info.armUrl}.default`);
      const claims = jwt.decode(token.token, { json: true });
      assert.ok(claims !== null);
      assert.equal(claims.appid, identity.clientId);
      assert.equal(claims.aud, info.armUrl.replace(/\/$/, ""));
    } finally {
      if (previous === undefined) delete process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
      else process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = previous;
    }
  });
});
