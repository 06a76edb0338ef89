// The emulator's test certificate authority. Azure SDKs refuse plain HTTP, so every emulated
// service speaks HTTPS with a server certificate from a CA generated on first start; clients
// trust it through NODE_EXTRA_CA_CERTS (or SSL_CERT_FILE for curl inside a "container").
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";

export interface TlsMaterial {
  caFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

const hostNames = ["localhost"];
const ipAddresses = ["127.0.0.1", "::1"];

export function loadOrCreateTls(stateDir: string): TlsMaterial {
  mkdirSync(stateDir, { recursive: true });
  const caFile = join(stateDir, "ca.pem");
  const certFile = join(stateDir, "server.pem");
  const keyFile = join(stateDir, "server-key.pem");
  if (!existsSync(caFile) || !existsSync(certFile) || !existsSync(keyFile) || expiresSoon(certFile)) {
    const generated = generate();
    writeFileSync(keyFile, generated.keyPem, { mode: 0o600 });
    writeFileSync(certFile, generated.certPem);
    writeFileSync(caFile, generated.caPem);
  }
  return {
    caFile,
    caPem: readFileSync(caFile, "utf8"),
    certPem: readFileSync(certFile, "utf8"),
    keyPem: readFileSync(keyFile, "utf8"),
  };
}

function expiresSoon(certFile: string): boolean {
  const cert = forge.pki.certificateFromPem(readFileSync(certFile, "utf8"));
  return cert.validity.notAfter.getTime() - Date.now() < 7 * 24 * 3600 * 1000;
}

function rsaKeys(): { publicKey: forge.pki.PublicKey; privateKey: forge.pki.PrivateKey; privatePem: string } {
  // Node's generator is native and fast; forge only builds and signs the certificates.
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    privateKey: forge.pki.privateKeyFromPem(privateKey),
    privatePem: privateKey,
  };
}

function serialNumber(): string {
  // Positive, 16 bytes: the top bit cleared keeps the DER integer positive.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

function generate(): { caPem: string; certPem: string; keyPem: string } {
  const now = new Date();
  const inDays = (days: number) => new Date(now.getTime() + days * 24 * 3600 * 1000);

  const caKeys = rsaKeys();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serialNumber();
  ca.validity.notBefore = inDays(-1);
  ca.validity.notAfter = inDays(3650);
  const caSubject = [{ name: "commonName", value: "ACI Build Agents emulator test CA" }];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  ca.sign(caKeys.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());

  const serverKeys = rsaKeys();
  const server = forge.pki.createCertificate();
  server.publicKey = serverKeys.publicKey;
  server.serialNumber = serialNumber();
  server.validity.notBefore = inDays(-1);
  server.validity.notAfter = inDays(825);
  server.setSubject([{ name: "commonName", value: "localhost" }]);
  server.setIssuer(caSubject);
  server.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        ...hostNames.map((value) => ({ type: 2, value })),
        ...ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
  ]);
  server.sign(caKeys.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());

  return {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(server),
    keyPem: serverKeys.privatePem,
  };
}
