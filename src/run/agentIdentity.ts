// An agent's identity, made outside its container: the RSA key config.sh would make, and the three
// files config.sh would write (.agent, .credentials, .credentials_rsaparams), byte for byte as the
// agent's own code writes them (agent/README.md cites the source for each detail). Node's crypto
// makes the key; the JSON is written here because the agent's layout (property order, names,
// padding, a UTF-8 byte order mark) is what the listener reads, not what a JSON library would pick.
import { generateKeyPair, type KeyObject } from "node:crypto";

/** RSA-2048 with e = 65537, as the agent's RSACryptoServiceProvider(2048) makes it. */
const KEY_BITS = 2048;
const MODULUS_BYTES = KEY_BITS / 8;
const HALF_BYTES = MODULUS_BYTES / 2;

/** The parameters of an RSA key as .NET's RSAParameters holds them: big-endian, standard base64. */
export interface RsaParameters {
  modulus: string;
  exponent: string;
  d: string;
  p: string;
  q: string;
  dp: string;
  dq: string;
  inverseQ: string;
}

/** One agent's key pair; `publicKey` is what the registration sends. */
export interface AgentKey {
  parameters: RsaParameters;
  publicKey: { exponent: string; modulus: string };
}

/**
 * A fresh key, made for one agent and never reused: generateKeyPair runs on libuv's thread pool,
 * so fifty of them do not hold up the step's requests.
 */
export async function makeAgentKey(): Promise<AgentKey> {
  const privateKey = await new Promise<KeyObject>((resolve, reject) => {
    generateKeyPair("rsa", { modulusLength: KEY_BITS, publicExponent: 0x10001 }, (error, _publicKey, key) => {
      if (error === null) resolve(key);
      else reject(error);
    });
  });
  const parameters = rsaParametersOf(privateKey);
  return { parameters, publicKey: { exponent: parameters.exponent, modulus: parameters.modulus } };
}

/** .NET's RSAParameters of a private key: each integer left-padded to the modulus length, or half of it. */
export function rsaParametersOf(privateKey: KeyObject): RsaParameters {
  const jwk = privateKey.export({ format: "jwk" });
  const field = (value: string | undefined, bytes: number | undefined): string => {
    if (value === undefined) throw new Error("not an RSA private key");
    return paddedBase64(value, bytes);
  };
  return {
    modulus: field(jwk.n, MODULUS_BYTES),
    exponent: field(jwk.e, undefined),
    d: field(jwk.d, MODULUS_BYTES),
    p: field(jwk.p, HALF_BYTES),
    q: field(jwk.q, HALF_BYTES),
    dp: field(jwk.dp, HALF_BYTES),
    dq: field(jwk.dq, HALF_BYTES),
    inverseQ: field(jwk.qi, HALF_BYTES),
  };
}

/** A JWK integer (base64url, no leading zero bytes) as .NET exports it: standard base64, left-padded to `bytes`. */
export function paddedBase64(base64url: string, bytes: number | undefined): string {
  const raw = Buffer.from(base64url, "base64url");
  if (bytes === undefined || raw.length >= bytes) return raw.toString("base64");
  return Buffer.concat([Buffer.alloc(bytes - raw.length), raw]).toString("base64");
}

/** What the registration answered, and where the agent lives. */
export interface RegisteredAgent {
  agentId: number;
  agentName: string;
  poolId: number;
  poolName: string;
  /** The URL the agent talks to: the registration answer's properties.ServerUrl, else the organization URL. */
  serverUrl: string;
  workFolder: string;
  clientId: string;
  authorizationUrl: string;
  /** Where the agent asks for its OAuth token. */
  oauthEndpointUrl: string;
}

/** The file names in the container's identity folder, and the names the agent gives them. */
export const IDENTITY_FILES = { agent: ".agent", credentials: ".credentials", credentials_rsaparams: ".credentials_rsaparams" } as const;
export type IdentityFileName = keyof typeof IDENTITY_FILES;

/** The three files, as config.sh writes them, under their names in the identity folder. */
export function agentFiles(agent: RegisteredAgent, key: AgentKey): Record<IdentityFileName, string> {
  return {
    agent: dotNetJson([
      ["agentId", agent.agentId],
      ["agentName", agent.agentName],
      ["poolId", agent.poolId],
      ["poolName", agent.poolName],
      ["serverUrl", agent.serverUrl],
      ["workFolder", agent.workFolder],
    ]),
    credentials: dotNetJson([
      ["scheme", "OAuth"],
      [
        "data",
        [
          ["clientId", agent.clientId],
          ["authorizationUrl", agent.authorizationUrl],
          ["oauthEndpointUrl", agent.oauthEndpointUrl],
        ],
      ],
    ]),
    credentials_rsaparams: dotNetJson([
      ["ContainerName", ""],
      ["UseCng", false],
      ["d", key.parameters.d],
      ["dp", key.parameters.dp],
      ["dq", key.parameters.dq],
      ["exponent", key.parameters.exponent],
      ["inverseQ", key.parameters.inverseQ],
      ["modulus", key.parameters.modulus],
      ["p", key.parameters.p],
      ["q", key.parameters.q],
    ]),
  };
}

type JsonMember = readonly [string, string | number | boolean | readonly JsonMember[]];

/**
 * Newtonsoft's Formatting.Indented (two spaces, "name": value, "\n" on Linux), written by
 * File.WriteAllText with Encoding.UTF8, which puts a byte order mark first and no newline last.
 */
function dotNetJson(members: readonly JsonMember[]): string {
  return `\uFEFF${jsonObject(members, "")}`;
}

function jsonObject(members: readonly JsonMember[], indent: string): string {
  const inner = `${indent}  `;
  const lines = members.map(([name, value]) => `${inner}${JSON.stringify(name)}: ${Array.isArray(value) ? jsonObject(value as readonly JsonMember[], inner) : JSON.stringify(value)}`);
  return `{\n${lines.join(",\n")}\n${indent}}`;
}
