// Signing keys of the emulated Entra tenant and of the emulated Azure DevOps OIDC issuer.
// Access tokens are RS256 JWTs, as Entra's are, so clients that peek into them see real claims.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";

/** Entra tolerates five minutes of clock skew; MSAL rounds nbf up to half a second ahead. */
const clockSkewSeconds = 300;

export class TokenService {
  readonly publicKey: string;
  readonly keyId: string;
  // Parsed once: parsing the PEM for every token and every request was a good share of the
  // emulator's CPU when fifty agents start at once.
  private readonly signingKey: KeyObject;
  private readonly verifyingKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
    this.publicKey = pair.publicKey;
    this.keyId = createHash("sha256").update(pair.publicKey).digest("base64url").slice(0, 27);
    this.signingKey = createPrivateKey(pair.privateKey);
    this.verifyingKey = createPublicKey(pair.publicKey);
  }

  sign(claims: Record<string, unknown>, issuer: string, lifetimeSeconds: number): string {
    return jwt.sign({ ...claims, jti: randomBytes(12).toString("base64url") }, this.signingKey, {
      algorithm: "RS256",
      issuer,
      expiresIn: lifetimeSeconds,
      keyid: this.keyId,
    });
  }

  /** Verifies a token this emulator signed; undefined when it is not one or has expired. */
  verify(token: string, issuer: string): Record<string, unknown> | undefined {
    try {
      const payload = jwt.verify(token, this.verifyingKey, { algorithms: ["RS256"], issuer, clockTolerance: clockSkewSeconds });
      return typeof payload === "string" ? undefined : payload;
    } catch {
      return undefined;
    }
  }
}

/** Verifies a client assertion signed with a certificate's key, the way MSAL builds one. */
export function verifyCertificateAssertion(
  assertion: string,
  certificatePem: string,
  clientId: string,
  audience: string,
): boolean {
  try {
    const publicKey = new X509Certificate(certificatePem).publicKey;
    const payload = jwt.verify(assertion, publicKey, {
      algorithms: ["RS256", "PS256"],
      clockTolerance: clockSkewSeconds,
      audience,
      issuer: clientId,
      subject: clientId,
    });
    return typeof payload !== "string";
  } catch {
    return false;
  }
}

/** Both thumbprint forms MSAL may put in the assertion header (x5t, x5t#S256), base64url. */
export function certificateThumbprints(certificatePem: string): string[] {
  const der = new X509Certificate(certificatePem).raw;
  return [createHash("sha1").update(der).digest("base64url"), createHash("sha256").update(der).digest("base64url")];
}

export function decodeHeader(token: string): Record<string, unknown> | undefined {
  const decoded = jwt.decode(token, { complete: true });
  return decoded === null ? undefined : (decoded.header as unknown as Record<string, unknown>);
}
