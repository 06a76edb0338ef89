// Standby mode: start.sh turns the key it made with openssl into the agent's
// .credentials_rsaparams (and its public key line) with awk alone (RSA_PROGRAM, rsa_fields). It
// runs here in each shell and awk the machine has (dash and mawk as on Debian, busybox sh and awk
// as on Alpine, bash) and must write what the product's agentFiles writes for the same key.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { agentFiles, rsaParametersOf, type RsaParameters } from "../../src/run/agentIdentity";

const startScript = readFileSync(resolve(__dirname, "..", "..", "agent", "start.sh"), "utf8");

function between(startMarker: string, endMarker: string): string {
  const start = startScript.indexOf(startMarker);
  assert.ok(start >= 0, `start.sh has no ${startMarker}`);
  const end = startScript.indexOf(endMarker, start);
  assert.ok(end >= 0);
  return startScript.slice(start, end + endMarker.length);
}

const program = `${between("\nreadonly RSA_PROGRAM='", "\n}'\n")}
${between("\nrsa_fields() {\n", "\n}\n")}
key_file=$1
rsa_fields "$2" || exit 3
rsa_fields || exit 4
`;

const shells: { name: string; shell: string[]; awk: string }[] = [
  { name: "dash + mawk (Debian)", shell: ["dash"], awk: "/usr/bin/mawk" },
  { name: "busybox sh + busybox awk (Alpine)", shell: ["busybox", "sh"], awk: "/usr/bin/busybox" },
  { name: "bash + mawk", shell: ["bash"], awk: "/usr/bin/mawk" },
];

const registered = {
  agentId: 1, agentName: "a", poolId: 1, poolName: "p", serverUrl: "https://x", workFolder: "_work",
  clientId: "c", authorizationUrl: "https://x/a", oauthEndpointUrl: "https://x/o",
};

function expectedParams(parameters: RsaParameters): string {
  return agentFiles(registered, { parameters, publicKey: { exponent: parameters.exponent, modulus: parameters.modulus } }).credentials_rsaparams;
}

describe("start.sh's RSA parameters from openssl (standby mode)", function () {
  this.timeout(60_000);
  let scratch: string;

  before(function () {
    scratch = mkdtempSync(join(tmpdir(), "aci-rsa-params-"));
  });

  after(function () {
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Runs rsa_fields in `shell` with `awk` first on PATH (and `openssl` when given); the file and the public line. */
  function run(shell: string[], awk: string, keyFile: string, tag: string, fakeOpenssl?: string): { file: Buffer; line: string } {
    const bin = mkdtempSync(join(scratch, "bin-"));
    symlinkSync(awk, join(bin, "awk"));
    if (fakeOpenssl !== undefined) {
      writeFileSync(join(bin, "openssl"), `#!/bin/sh\ncat <<'TEXT'\n${fakeOpenssl}TEXT\n`);
      chmodSync(join(bin, "openssl"), 0o755);
    }
    const out = join(scratch, `params-${tag}`);
    const [command, ...args] = shell;
    const result = spawnSync(command ?? "sh", [...args, "-c", program, "rsa-test", keyFile, out], {
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` },
    });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    return { file: readFileSync(out), line: result.stdout.trim() };
  }

  for (const { name, shell, awk } of shells) {
    it(`${name}: byte for byte what agentFiles writes for three keys made by openssl genrsa, and the public key line`, function () {
      for (let i = 0; i < 3; i++) {
        const keyFile = join(scratch, `key-${i}.pem`);
        const made = spawnSync("openssl", ["genrsa", "-out", keyFile, "2048"], { encoding: "utf8" });
        assert.equal(made.status, 0, made.stderr);
        const parameters = rsaParametersOf(createPrivateKey(readFileSync(keyFile)));
        const { file, line } = run(shell, awk, keyFile, `${name.replace(/\W/g, "")}-${i}`);
        assert.ok(file.equals(Buffer.from(expectedParams(parameters), "utf8")), `differs:\n${file.toString("utf8")}`);
        assert.equal(line, `aci-agent-public-key exponent=${parameters.exponent} modulus=${parameters.modulus}`);
      }
    });

    it(`${name}: short integers are left-padded (to 128 or 256 bytes) and a leading 00 is dropped, as .NET exports them`, function () {
      const hexLines = (bytes: Buffer): string => (bytes.toString("hex").match(/../g) ?? []).join(":").replace(/(.{45})/g, "$1\n    ");
      const modulus = Buffer.alloc(256, 0xab);
      const fields = {
        privateExponent: Buffer.from([0x00, 0x80, 0x01]),
        prime1: Buffer.from([0x01]),
        prime2: Buffer.from([0x7f, 0x02, 0x03, 0x04]),
        exponent1: Buffer.alloc(128, 0xcd),
        exponent2: Buffer.concat([Buffer.from([0x00]), Buffer.alloc(127, 0xef)]),
        coefficient: Buffer.from([0x00, 0x00, 0x05]),
      };
      let text = `Private-Key: (2048 bit, 2 primes)\nmodulus:\n    00:${hexLines(modulus)}\npublicExponent: 65537 (0x10001)\n`;
      for (const [field, bytes] of Object.entries(fields)) text += `${field}:\n    ${hexLines(bytes)}\n`;
      const pad = (bytes: Buffer, length: number): string => {
        let raw = bytes;
        while (raw.length > 1 && raw[0] === 0) raw = raw.subarray(1);
        return Buffer.concat([Buffer.alloc(Math.max(0, length - raw.length)), raw]).toString("base64");
      };
      const parameters: RsaParameters = {
        modulus: modulus.toString("base64"),
        exponent: "AQAB",
        d: pad(fields.privateExponent, 256),
        p: pad(fields.prime1, 128),
        q: pad(fields.prime2, 128),
        dp: pad(fields.exponent1, 128),
        dq: pad(fields.exponent2, 128),
        inverseQ: pad(fields.coefficient, 128),
      };
      const { file } = run(shell, awk, "/nonexistent", `short-${name.replace(/\W/g, "")}`, text);
      assert.equal(file.toString("utf8"), expectedParams(parameters));
    });
  }
});
