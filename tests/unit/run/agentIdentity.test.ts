import { strict as assert } from "node:assert";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { agentFiles, makeAgentKey, paddedBase64, type RegisteredAgent } from "../../../src/run/agentIdentity";
import { TEST_KEY } from "../start/fixtures";

const AGENT: RegisteredAgent = {
  agentId: 42,
  agentName: "azp-7001-1-1",
  poolId: 1,
  poolName: "aci",
  serverUrl: "https://dev.azure.com/contoso/",
  workFolder: "_work",
  clientId: "4d1a3c0e-0000-4000-8000-000000000c1d",
  authorizationUrl: "https://vstoken.dev.azure.com/e1a7c0de/_apis/oauth2/token",
  oauthEndpointUrl: "https://vstoken.dev.azure.com/e1a7c0de/_apis/oauth2/token",
};

/** The private key the agent would load from .credentials_rsaparams (as JWK, as Node reads it). */
function keyFromRsaParams(text: string) {
  const params = JSON.parse(text.replace(/^\uFEFF/, "")) as Record<string, string>;
  const url = (name: string) => Buffer.from(params[name] ?? "", "base64").toString("base64url");
  return createPrivateKey({
    key: { kty: "RSA", n: url("modulus"), e: url("exponent"), d: url("d"), p: url("p"), q: url("q"), dp: url("dp"), dq: url("dq"), qi: url("inverseQ") },
    format: "jwk",
  });
}

describe("agent identity", () => {
  it("writes .agent as config.sh does: a UTF-8 byte order mark, two-space indentation, \\n, no final newline", () => {
    assert.equal(
      agentFiles(AGENT, TEST_KEY).agent,
      '\uFEFF{\n  "agentId": 42,\n  "agentName": "azp-7001-1-1",\n  "poolId": 1,\n  "poolName": "aci",\n  "serverUrl": "https://dev.azure.com/contoso/",\n  "workFolder": "_work"\n}',
    );
  });

  it("writes .credentials with the OAuth scheme and the client, authorization and token endpoint, in that order", () => {
    assert.equal(
      agentFiles(AGENT, TEST_KEY).credentials,
      `\uFEFF{\n  "scheme": "OAuth",\n  "data": {\n    "clientId": "${AGENT.clientId}",\n    "authorizationUrl": "${AGENT.authorizationUrl}",\n    "oauthEndpointUrl": "${AGENT.oauthEndpointUrl}"\n  }\n}`,
    );
  });

  it("writes .credentials_rsaparams with RSAParametersSerializable's names, in its order, integers left-padded to 256 and 128 bytes", () => {
    const text = agentFiles(AGENT, TEST_KEY).credentials_rsaparams;
    assert.ok(text.startsWith('\uFEFF{\n  "ContainerName": "",\n  "UseCng": false,\n  "d": "'), text.slice(0, 80));
    const params = JSON.parse(text.slice(1)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(params), ["ContainerName", "UseCng", "d", "dp", "dq", "exponent", "inverseQ", "modulus", "p", "q"]);
    const bytes = (name: string) => Buffer.from(String(params[name]), "base64").length;
    assert.deepEqual(
      ["modulus", "d", "p", "q", "dp", "dq", "inverseQ"].map((name) => [name, bytes(name)]),
      [["modulus", 256], ["d", 256], ["p", 128], ["q", 128], ["dp", 128], ["dq", 128], ["inverseQ", 128]],
    );
    assert.equal(params.exponent, "AQAB");
    assert.ok(!text.endsWith("\n"));
  });

  const paddings: [string, string, number | undefined, string][] = [
    ["a full-length integer as it is", Buffer.from([0x80, 1, 2]).toString("base64url"), 3, Buffer.from([0x80, 1, 2]).toString("base64")],
    ["a short one with leading zero bytes", Buffer.from([1, 2]).toString("base64url"), 4, Buffer.from([0, 0, 1, 2]).toString("base64")],
    ["the exponent unpadded", "AQAB", undefined, "AQAB"],
    ["base64url's - and _ as standard base64's + and /", "-_8", 2, "+/8="],
  ];
  for (const [title, jwk, bytes, expected] of paddings) {
    it(`writes ${title}`, () => {
      assert.equal(paddedBase64(jwk, bytes), expected);
    });
  }

  it("makes a key whose files sign what the registered public key verifies, and a fresh one every time", async function () {
    this.timeout(20_000);
    const [first, second] = await Promise.all([makeAgentKey(), makeAgentKey()]);
    assert.notEqual(first.publicKey.modulus, second.publicKey.modulus);
    const privateKey = keyFromRsaParams(agentFiles(AGENT, first).credentials_rsaparams);
    const publicKey = createPublicKey({
      key: { kty: "RSA", n: Buffer.from(first.publicKey.modulus, "base64").toString("base64url"), e: Buffer.from(first.publicKey.exponent, "base64").toString("base64url") },
      format: "jwk",
    });
    const signature = sign("sha256", Buffer.from("a JWT's signing input"), privateKey);
    assert.ok(verify("sha256", Buffer.from("a JWT's signing input"), publicKey, signature));
    assert.equal(Buffer.from(first.publicKey.modulus, "base64").length, 256);
  });
});
