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

interface CertificateSpec {
  publicKey: forge.pki.PublicKey;
  subject: forge.pki.CertificateField[];
  issuer: forge.pki.CertificateField[];
  validDays: number;
  extensions: object[];
  signingKey: forge.pki.PrivateKey;
}

function certificate(spec: CertificateSpec): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.publicKey;
  cert.serialNumber = serialNumber();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(now + spec.validDays * 24 * 3600 * 1000);
  cert.setSubject(spec.subject);
  cert.setIssuer(spec.issuer);
  cert.setExtensions(spec.extensions);
  cert.sign(spec.signingKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return cert;
}

function generate(): { caPem: string; certPem: string; keyPem: string } {
  const caKeys = rsaKeys();
  const caSubject = [{ name: "commonName", value: "ACI Build Agents emulator test CA" }];
  const ca = certificate({
    publicKey: caKeys.publicKey,
    subject: caSubject,
    issuer: caSubject,
    validDays: 3650,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
      { name: "subjectKeyIdentifier" },
    ],
    signingKey: caKeys.privateKey,
  });

  const serverKeys = rsaKeys();
  const server = certificate({
    publicKey: serverKeys.publicKey,
    subject: [{ name: "commonName", value: "localhost" }],
    issuer: caSubject,
    validDays: 825,
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [...hostNames.map((value) => ({ type: 2, value })), ...ipAddresses.map((ip) => ({ type: 7, ip }))],
      },
    ],
    signingKey: caKeys.privateKey,
  });

  return {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(server),
    keyPem: serverKeys.privatePem,
  };
}
