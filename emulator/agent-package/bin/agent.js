"use strict";
// The emulated Azure Pipelines agent (see ../README.md). Plain CommonJS, no dependencies, so the
// emulator can ship it as the agent package and run it as a container's process. It speaks the
// agent's side of the wire: registration (config.sh), the listener (run.sh) and removal.
//
// Usage: node bin/agent.js configure|remove|run [--flag] [--name value] ...
// Inputs also come from VSTS_AGENT_INPUT_<NAME> environment variables, which are read and then
// removed from this process's environment, as the real agent does.

const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const https = require("node:https");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");

const agentVersion = "4.264.2";
const apiVersion = "7.1";
const azureDevOpsScope = "499b84ac-1321-427f-aa17-267ca6975798/.default";
const root = path.resolve(__dirname, "..");
const settingsFile = path.join(root, ".agent");
const credentialsFile = path.join(root, ".credentials");
const rsaFile = path.join(root, ".credentials_rsaparams");
const flagNames = ["unattended", "replace", "acceptteeeula", "once", "help", "version"];
// Agent.Listener's ReturnCode (Constants.cs): the exit codes run.sh and wrappers act on.
const returnCode = { success: 0, terminatedError: 1, retryableError: 2, agentUpdating: 3, runOnceAgentUpdating: 4 };
const secretInputs = ["token", "clientsecret", "password"];

class AgentError extends Error {}

class HttpError extends Error {
  constructor(method, url, status, text) {
    super(`${method} ${url} answered ${status}: ${serverMessage(text)}`);
    this.status = status;
    this.text = text;
  }
}

// ---------------------------------------------------------------------------------------------
// Output

function stamp() {
  return new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function say(line) {
  process.stdout.write(`${stamp()}: ${line}\n`);
}

function serverMessage(text) {
  try {
    const body = JSON.parse(text);
    if (body && typeof body.message === "string") return body.message;
    if (body && typeof body.error_description === "string") return body.error_description;
  } catch {
    // not JSON
  }
  return String(text).slice(0, 200).replace(/\s+/g, " ");
}

// ---------------------------------------------------------------------------------------------
// Command line and VSTS_AGENT_INPUT_* inputs

function parseCommandLine(argv) {
  const commands = [];
  const args = new Map();
  const flags = new Set();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (!word.startsWith("--")) {
      commands.push(word.toLowerCase());
      continue;
    }
    const name = word.slice(2).toLowerCase();
    if (flagNames.includes(name)) {
      flags.add(name);
    } else {
      args.set(name, argv[i + 1] ?? "");
      i++;
    }
  }
  const envArgs = new Map();
  for (const key of Object.keys(process.env)) {
    if (!key.toUpperCase().startsWith("VSTS_AGENT_INPUT_")) continue;
    const value = (process.env[key] ?? "").trim();
    if (value !== "") envArgs.set(key.slice("VSTS_AGENT_INPUT_".length).toLowerCase(), value);
    delete process.env[key];
  }
  return {
    commands,
    arg(name) {
      const value = args.get(name) ?? envArgs.get(name);
      return value === undefined || value === "" ? undefined : value;
    },
    flag(name) {
      return flags.has(name) || (envArgs.get(name) ?? "").toLowerCase() === "true";
    },
  };
}

function required(settings, name, fallback) {
  const value = settings.arg(name) ?? fallback;
  if (value === undefined) {
    throw new AgentError(`Invalid configuration provided for ${name}: it is required in unattended mode.`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// HTTPS

function send(method, url, options = {}) {
  const target = new URL(url);
  const transport = target.protocol === "http:" ? http : https;
  const body = options.body;
  const headers = {
    Accept: `application/json;api-version=${apiVersion}`,
    "User-Agent": `VstsAgentCore-linux-x64/${agentVersion} (emulated)`,
    ...(options.headers ?? {}),
  };
  if (body !== undefined) headers["Content-Length"] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = transport.request(target, { method, headers, timeout: options.timeoutMs ?? 100_000 }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), text: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error(`${method} ${url} timed out`), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    const signal = options.signal;
    if (signal) {
      const abort = () => req.destroy(Object.assign(new Error("aborted"), { code: "ABORTED" }));
      if (signal.aborted) abort();
      signal.addEventListener("abort", abort, { once: true });
      req.once("close", () => signal.removeEventListener("abort", abort));
    }
    req.end(body);
  });
}

/** A JSON request to Azure DevOps; throws HttpError for any status other than 2xx with JSON. */
async function devops(method, url, authorization, payload, options = {}) {
  const headers = { Authorization: authorization };
  let body;
  if (payload !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(payload);
  }
  const res = await send(method, url, { ...options, headers, body });
  if (res.status === 204) return { status: 204, json: undefined };
  if (res.status === 203 || (res.status >= 200 && res.status < 300 && res.text !== "" && !res.type.includes("json"))) {
    // A rejected PAT gets a sign-in page instead of a 401.
    throw new HttpError(method, url, 401, "a sign-in page instead of JSON");
  }
  if (res.status < 200 || res.status >= 300) throw new HttpError(method, url, res.status, res.text);
  return { status: res.status, json: res.text === "" ? undefined : JSON.parse(res.text) };
}

function isTransient(error) {
  if (error instanceof HttpError) return error.status >= 500 || error.status === 429 || error.status === 408;
  return ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_SOCKET"].includes(error.code);
}

function isAuthFailure(error) {
  return error instanceof HttpError && (error.status === 401 || error.status === 403);
}

function delay(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Retries transient failures with exponential backoff (1 s doubling to 30 s). */
async function withRetries(what, action, { attempts = Infinity, signal } = {}) {
  let wait = 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (signal?.aborted || !isTransient(error) || attempt >= attempts) throw error;
      say(`${what} failed (${error.message}); retrying in ${wait / 1000} s.`);
      await delay(wait, signal);
      wait = Math.min(wait * 2, 30_000);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The agent's RSA key

/** About what the real agent's 2048-bit key generation takes on one core of its own. */
const keySearchMs = 200;

/**
 * A fresh 2048-bit RSA key (e = 65537), as JWK. The real agent searches for two 1024-bit primes,
 * 0.1-0.4 s of its container's own CPU; here every emulated container shares the machine's few
 * cores, and fifty such searches delayed the last of fifty agents by seconds. So the emulated
 * agent waits that long instead and multiplies two primes drawn from rsa-primes.txt: the key is
 * a valid RSA key of the same size, almost always different per agent, and not secret (see
 * ../README.md, "Key").
 */
async function agentKey() {
  const primes = fs.readFileSync(path.join(__dirname, "rsa-primes.txt"), "utf8").trim().split("\n");
  const first = crypto.randomInt(primes.length);
  const second = (first + 1 + crypto.randomInt(primes.length - 1)) % primes.length;
  const [q, p] = [BigInt(`0x${primes[first]}`), BigInt(`0x${primes[second]}`)].sort((a, b) => (a < b ? -1 : 1));
  const e = 65537n;
  const d = modularInverse(e, (p - 1n) * (q - 1n));
  await delay(keySearchMs);
  const field = (value) => {
    const hex = value.toString(16);
    return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, "hex").toString("base64url");
  };
  const key = { kty: "RSA", n: field(p * q), e: field(e), d: field(d), p: field(p), q: field(q), dp: field(d % (p - 1n)), dq: field(d % (q - 1n)), qi: field(modularInverse(q, p)) };
  // Node parses the key here, so a broken one fails at once rather than at the first signature.
  return crypto.createPrivateKey({ key, format: "jwk" }).export({ format: "jwk" });
}

function modularInverse(value, modulus) {
  let [oldR, r] = [value % modulus, modulus];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  if (oldR !== 1n) throw new Error("no modular inverse");
  return ((oldS % modulus) + modulus) % modulus;
}

// ---------------------------------------------------------------------------------------------
// Credentials used to configure and remove: a PAT, or a service principal's Entra token

async function configurationAuthorization(settings) {
  const auth = (settings.arg("auth") ?? "pat").toLowerCase();
  if (auth === "pat") {
    const token = required(settings, "token");
    return `Basic ${Buffer.from(`VstsAgent:${token}`).toString("base64")}`;
  }
  if (auth === "sp") {
    const tenantId = required(settings, "tenantid");
    const clientId = required(settings, "clientid");
    const clientSecret = required(settings, "clientsecret");
    const authority = (process.env.AZURE_AUTHORITY_HOST ?? "https://login.microsoftonline.com").replace(/\/+$/, "");
    const form = new URLSearchParams({ client_id: clientId, client_secret: clientSecret, scope: azureDevOpsScope, grant_type: "client_credentials" });
    const res = await withRetries("Getting a Microsoft Entra token", () =>
      send("POST", `${authority}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`, {
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: form.toString(),
      }).then((r) => {
        if (r.status >= 500) throw new HttpError("POST", "token", r.status, r.text);
        return r;
      }),
    { attempts: 5 });
    if (res.status !== 200) {
      throw new AgentError(`Microsoft Entra refused the service principal ${clientId}: ${serverMessage(res.text)}`);
    }
    return `Bearer ${JSON.parse(res.text).access_token}`;
  }
  throw new AgentError(`Authentication type '${auth}' is not supported by this emulated agent (use PAT or SP).`);
}

async function connect(serverUrl, authorization) {
  say(`Connecting to server ...`);
  try {
    return (await withRetries("Connecting to the server", () => devops("GET", `${serverUrl}/_apis/connectionData`, authorization), { attempts: 5 })).json;
  } catch (error) {
    if (isAuthFailure(error) || error instanceof UnauthorizedError) throw new AgentError(new UnauthorizedError(serverUrl).message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// configure

// EnvironmentCapabilitiesProvider.cs: these names are never capabilities; VSO_AGENT_IGNORE adds
// more (comma separated, trimmed, compared case-sensitively on Linux); a value of 1024
// characters or more is dropped.
const wellKnownIgnored = ["comp_wordbreaks", "ls_colors", "TERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "SHLVL", "PSMODULEPATH", "SYSTEM_ACCESSTOKEN"];
const ignoreValueLength = 1024;

function systemCapabilities(settingsName) {
  const ignored = new Set(wellKnownIgnored);
  for (const name of (process.env.VSO_AGENT_IGNORE ?? "").split(",")) {
    if (name.trim() !== "") ignored.add(name.trim());
  }
  const capabilities = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === "" || value === undefined || ignored.has(name) || value.length >= ignoreValueLength) continue;
    capabilities[name] = value;
  }
  Object.assign(capabilities, {
    "Agent.Name": settingsName,
    "Agent.Version": agentVersion,
    "Agent.ComputerName": os.hostname(),
    "Agent.HomeDirectory": root,
    "Agent.OS": "Linux",
    "Agent.OSArchitecture": process.arch === "arm64" ? "ARM64" : "X64",
  });
  return capabilities;
}

function osDescription() {
  return `${os.type()} ${os.release()} ${os.version()}`.trim();
}

function base64(urlEncoded) {
  return Buffer.from(urlEncoded, "base64url").toString("base64");
}

async function configure(settings) {
  if (fs.existsSync(settingsFile)) {
    throw new AgentError("Cannot configure the agent: it is already configured. Run './config.sh remove' first.");
  }
  if (!settings.flag("unattended")) {
    throw new AgentError("This emulated agent configures only with --unattended.");
  }
  const givenUrl = required(settings, "url");
  const serverUrl = givenUrl.replace(/\/+$/, "");
  const poolName = required(settings, "pool", "default");
  const agentName = required(settings, "agent", os.hostname());
  const workFolder = required(settings, "work", "_work");
  const replace = settings.flag("replace");

  say(">> Connect:");
  const authorization = await configurationAuthorization(settings);
  await connect(serverUrl, authorization);
  say("Successfully connected to the server.");

  say(">> Register Agent:");
  const api = `${serverUrl}/_apis/distributedtask`;
  const call = (method, url, payload) => withRetries(`${method} ${url}`, () => devops(method, url, authorization, payload), { attempts: 5 });
  const pools = (await call("GET", `${api}/pools?poolName=${encodeURIComponent(poolName)}&poolType=automation`)).json;
  const pool = pools?.value?.[0];
  if (pool === undefined) throw new AgentError(`Agent pool not found: '${poolName}'`);

  const found = (await call("GET", `${api}/pools/${pool.id}/agents?agentName=${encodeURIComponent(agentName)}`)).json;
  const existing = found?.value?.find((a) => String(a.name).toLowerCase() === agentName.toLowerCase());
  if (existing !== undefined && !replace) {
    throw new AgentError(`Pool ${pool.name} already contains an agent with name ${agentName}.`);
  }

  const jwk = await agentKey();
  // As ConfigurationManager does: the key file is written before the agent is registered.
  writeSettingsFile(rsaFile, rsaParameters(jwk));
  fs.chmodSync(rsaFile, 0o600);
  const body = {
    name: agentName,
    version: agentVersion,
    osDescription: osDescription(),
    enabled: true,
    maxParallelism: 1,
    authorization: { publicKey: { exponent: base64(jwk.e), modulus: base64(jwk.n) } },
    systemCapabilities: systemCapabilities(agentName),
  };
  let agent;
  if (existing !== undefined) {
    agent = (await call("PUT", `${api}/pools/${pool.id}/agents/${existing.id}`, { ...body, id: existing.id })).json;
    say("Successfully replaced the agent");
  } else {
    agent = (await call("POST", `${api}/pools/${pool.id}/agents`, body)).json;
    say("Successfully added the agent");
  }
  const clientId = agent?.authorization?.clientId;
  const authorizationUrl = agent?.authorization?.authorizationUrl;
  if (typeof clientId !== "string" || typeof authorizationUrl !== "string") {
    throw new AgentError("The server did not return the agent's OAuth client (authorization.clientId, authorization.authorizationUrl).");
  }

  const credentials = { scheme: "OAuth", data: { clientId, authorizationUrl, oauthEndpointUrl: authorizationUrl } };
  writeSettingsFile(credentialsFile, credentials);

  say("Testing agent connection.");
  const token = await agentAccessToken(credentials.data, serverUrl);
  await connect(serverUrl, `Bearer ${token.accessToken}`);

  // AgentSettings: members with EmitDefaultValue=false in declaration order; the URL as given.
  const settingsJson = {
    ...(settings.flag("acceptteeeula") ? { acceptTeeEula: true } : {}),
    agentId: agent.id,
    agentName: agent.name ?? agentName,
    poolId: pool.id,
    poolName: pool.name,
    serverUrl: givenUrl,
    workFolder,
  };
  writeSettingsFile(settingsFile, settingsJson);
  say("Settings Saved.");
}

/**
 * The key as RSAParametersSerializable writes it: ContainerName and UseCng first, then the eight
 * parameters as standard base64 of big-endian bytes, padded as .NET exports a 2048-bit key
 * (modulus and d to 256 bytes, the CRT values to 128).
 */
function rsaParameters(jwk) {
  const padded = (value, bytes) => {
    const raw = Buffer.from(value, "base64url");
    return Buffer.concat([Buffer.alloc(Math.max(0, bytes - raw.length)), raw]).toString("base64");
  };
  return {
    ContainerName: "",
    UseCng: false,
    d: padded(jwk.d, 256),
    dp: padded(jwk.dp, 128),
    dq: padded(jwk.dq, 128),
    exponent: base64(jwk.e),
    inverseQ: padded(jwk.qi, 128),
    modulus: padded(jwk.n, 256),
    p: padded(jwk.p, 128),
    q: padded(jwk.q, 128),
  };
}

/**
 * As IOUtil.SaveObject writes: File.WriteAllText with Encoding.UTF8 (a byte order mark first) of
 * Newtonsoft's indented JSON (two spaces, "\n" on Linux, no final newline).
 */
function writeSettingsFile(file, value) {
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, `\uFEFF${JSON.stringify(value, null, 2)}`);
}

// ---------------------------------------------------------------------------------------------
// remove

/** Reads a settings file as File.ReadAllText(path, Encoding.UTF8) does: with or without a byte order mark. */
function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8").replace(/^\uFEFF/, ""));
}

async function remove(settings) {
  if (!fs.existsSync(settingsFile)) {
    say("The agent is not configured: nothing to remove.");
    return;
  }
  const agentSettings = readJson(settingsFile);
  const serverUrl = String(agentSettings.serverUrl).replace(/\/+$/, "");
  say(">> Remove Agent:");
  const authorization = await configurationAuthorization(settings);
  await connect(serverUrl, authorization);
  say("Removing agent from the server");
  const url = `${serverUrl}/_apis/distributedtask/pools/${agentSettings.poolId}/agents/${agentSettings.agentId}`;
  try {
    await withRetries("Removing the agent", () => devops("DELETE", url, authorization), { attempts: 5 });
    say("Success: the agent was removed from the server");
  } catch (error) {
    if (!(error instanceof HttpError) || error.status !== 404) {
      throw new AgentError(`Failed to remove the agent from the server: ${error instanceof HttpError ? serverMessage(error.text) : error.message}`);
    }
    say("The agent was no longer registered on the server");
  }
  for (const file of [credentialsFile, rsaFile, settingsFile]) {
    say(`Removing ${path.basename(file)}`);
    fs.rmSync(file, { force: true });
  }
  say("Success: the agent is removed");
}

// ---------------------------------------------------------------------------------------------
// run: the listener

/** The agent's private key, from .credentials_rsaparams (RSAFileKeyManager.GetKey). */
function agentPrivateKey() {
  const rsa = readJson(rsaFile);
  const url = (value) => Buffer.from(value, "base64").toString("base64url");
  return crypto.createPrivateKey({
    key: { kty: "RSA", n: url(rsa.modulus), e: url(rsa.exponent), d: url(rsa.d), p: url(rsa.p), q: url(rsa.q), dp: url(rsa.dp), dq: url(rsa.dq), qi: url(rsa.inverseQ) },
    format: "jwk",
  });
}

/**
 * What the .NET client throws when a request stays unauthorized (a 401 after a new token, or a
 * token request the server refuses): VssUnauthorizedException, "VS30063: You are not authorized
 * to access {scheme://host}." (the request's authority, as agents' logs show it).
 */
class UnauthorizedError extends Error {
  constructor(url) {
    super(`VS30063: You are not authorized to access ${new URL(url).origin}.`);
  }
}

/**
 * VssOAuthTokenProvider: a 400 answer with a JSON `error` is thrown as VssOAuthTokenRequestException
 * with the error description as its message.
 */
class OAuthTokenRequestError extends Error {}

/** The agent's own access token: a client_credentials grant with a JWT signed by its key. */
async function agentAccessToken(credentials, serverUrl) {
  const key = agentPrivateKey();
  const now = Math.floor(Date.now() / 1000);
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${encode({ alg: "RS256", typ: "JWT" })}.${encode({
    iss: credentials.clientId,
    sub: credentials.clientId,
    aud: credentials.authorizationUrl,
    jti: crypto.randomUUID(),
    nbf: now - 30,
    iat: now,
    exp: now + 300,
  })}`;
  const signature = crypto.sign("RSA-SHA256", Buffer.from(unsigned), key).toString("base64url");
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: `${unsigned}.${signature}`,
  });
  const res = await withRetries("Getting the agent's access token", async () => {
    const r = await send("POST", credentials.authorizationUrl, {
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: form.toString(),
    });
    if (r.status >= 500 || r.status === 429) throw new HttpError("POST", credentials.authorizationUrl, r.status, r.text);
    return r;
  });
  // 400 with a JSON error: thrown as such. Any other refusal: no token, and the request that
  // needed one ends unauthorized.
  if (res.status === 400) {
    let refusal;
    try {
      refusal = JSON.parse(res.text);
    } catch {
      refusal = undefined;
    }
    if (typeof refusal?.error === "string") throw new OAuthTokenRequestError(refusal.error_description ?? refusal.error);
  }
  if (res.status !== 200) throw new UnauthorizedError(serverUrl);
  if (res.status !== 200) throw new HttpError("POST", credentials.authorizationUrl, res.status, res.text);
  const body = JSON.parse(res.text);
  return { accessToken: body.access_token, expiresAt: Date.now() + Number(body.expires_in ?? 3600) * 1000 };
}

/** The server's exception type (typeKey) of a failed call, if it said one. */
function typeKeyOf(error) {
  if (!(error instanceof HttpError)) return undefined;
  try {
    return JSON.parse(error.text).typeKey;
  } catch {
    return undefined;
  }
}

/** The exception message the real client would carry for this failure. */
function exceptionMessage(error) {
  if (error instanceof HttpError) return serverMessage(error.text);
  return error instanceof Error ? error.message : String(error);
}

/** The real listener's Terminal.WriteError: the line alone, on stderr. */
function sayError(line) {
  process.stderr.write(`${line}\n`);
}

// Strings of the real agent (src/Misc/layoutbin/en-US/strings.json).
const missingAgentLine = "The agent no longer exists on the server. Please reconfigure the agent.";
const sessionCreateFailedLine = (message) => `Failed to create session. ${message}`;
const queueConErrorLine = (message) => `${stamp()}: Agent connect error: ${message}. Retrying until reconnected.`;

class Listener {
  constructor(once) {
    this.once = once;
    this.settings = readJson(settingsFile);
    const credentials = readJson(credentialsFile);
    this.credentials = credentials.data ?? credentials;
    this.serverUrl = String(this.settings.serverUrl).replace(/\/+$/, "");
    this.api = `${this.serverUrl}/_apis/distributedtask/pools/${this.settings.poolId}`;
    this.stopping = new AbortController();
    this.token = undefined;
    this.session = undefined;
    this.job = undefined;
    this.exitCode = returnCode.success;
    this.connectFailing = false;
  }

  async authorization(refresh = false) {
    if (refresh || this.token === undefined || Date.now() > this.token.expiresAt - 60_000) {
      this.token = await agentAccessToken(this.credentials, this.serverUrl);
    }
    return `Bearer ${this.token.accessToken}`;
  }

  /** A call with the agent's token: a 401 gets one new token, then fails unauthorized; transient failures are retried. */
  async call(method, url, payload, options = {}) {
    return withRetries(`${method} ${url}`, async () => {
      try {
        return await devops(method, url, await this.authorization(), payload, options);
      } catch (error) {
        if (!(error instanceof HttpError) || error.status !== 401) throw error;
      }
      try {
        return await devops(method, url, await this.authorization(true), payload, options);
      } catch (error) {
        if (error instanceof HttpError && error.status === 401) throw new UnauthorizedError(url);
        throw error;
      }
    }, { signal: this.stopping.signal, attempts: options.attempts });
  }

  /**
   * MessageListener.CreateSessionAsync: false (after its lines on stderr) when the failure is one
   * it does not retry: the agent is gone, the pool is gone, access denied, unauthorized.
   */
  async createSession() {
    say("Scanning for tool capabilities.");
    const body = {
      ownerName: os.hostname(),
      agent: { id: this.settings.agentId, name: this.settings.agentName, version: agentVersion, osDescription: osDescription() },
      systemCapabilities: systemCapabilities(this.settings.agentName),
      useFipsEncryption: false,
    };
    say("Connecting to the server.");
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        const session = (await this.call("POST", `${this.api}/sessions`, body)).json;
        this.session = { id: session.sessionId, encryptionKey: session.encryptionKey };
        if (this.connectFailing) say("Agent reconnected.");
        this.connectFailing = false;
        return true;
      } catch (error) {
        if (this.stopping.signal.aborted) throw error;
        const typeKey = typeKeyOf(error);
        if (typeKey === "TaskAgentSessionConflictException" && Date.now() < deadline) {
          sayError("A session for this agent already exists.");
          await delay(5000, this.stopping.signal);
          continue;
        }
        if (typeKey === "TaskAgentNotFoundException") sayError(missingAgentLine);
        if (
          error instanceof UnauthorizedError ||
          ["TaskAgentNotFoundException", "TaskAgentPoolNotFoundException", "AccessDeniedException", "TaskAgentSessionConflictException"].includes(typeKey) ||
          (error instanceof HttpError && error.status === 403)
        ) {
          sayError(sessionCreateFailedLine(exceptionMessage(error)));
          return false;
        }
        // Anything else (a refused token request included): printed once, tried again every 30 s.
        if (!this.connectFailing) sayError(queueConErrorLine(exceptionMessage(error)));
        this.connectFailing = true;
        await delay(30_000, this.stopping.signal);
      }
    }
  }

  /** DeleteSessionAsync: a failure propagates (out of the run's finally, as the real one's does). */
  async deleteSession() {
    if (this.session === undefined) return;
    const sessionId = this.session.id;
    this.session = undefined;
    await withRetries("Deleting the session", async () => devops("DELETE", `${this.api}/sessions/${sessionId}`, await this.authorization()), { attempts: 3 });
  }

  /**
   * MessageListener.DecryptMessage: a message with an IV, on a session with a key, has a base64
   * AES-CBC body; the key is the session's, RSA-OAEP (SHA-1) decrypted with the agent's key.
   */
  decrypt(message) {
    const sessionKey = this.session?.encryptionKey;
    if (sessionKey?.value === undefined || sessionKey.value === "" || message.iv === undefined || message.iv === null || message.iv === "") return message.body;
    const encryptedKey = Buffer.from(sessionKey.value, "base64");
    const aesKey = sessionKey.encrypted
      ? crypto.privateDecrypt({ key: agentPrivateKey(), padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, encryptedKey)
      : encryptedKey;
    const decipher = crypto.createDecipheriv(`aes-${aesKey.length * 8}-cbc`, aesKey, Buffer.from(message.iv, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(message.body, "base64")), decipher.final()]).toString("utf8").replace(/^\uFEFF/, "");
  }

  stop(signal) {
    if (this.stopping.signal.aborted) return;
    say(`Received ${signal}: shutting down.`);
    this.stopping.abort();
    this.job?.cancel();
  }

  /** Agent.RunAsync: the exit code; an error it does not handle is thrown to main. */
  async run() {
    let created;
    try {
      created = await this.createSession();
    } catch (error) {
      // Program.cs: a cancellation during shutdown is a clean exit.
      if (this.stopping.signal.aborted) return returnCode.success;
      throw error;
    }
    if (!created) return returnCode.terminatedError;
    say("Listening for Jobs");
    try {
      await this.listen();
    } finally {
      await this.deleteSession();
    }
    return this.exitCode;
  }

  async listen() {
    let lastMessageId = 0;
    let failing = false;
    while (!this.stopping.signal.aborted) {
      let message;
      try {
        const url = `${this.api}/messages?sessionId=${encodeURIComponent(this.session.id)}&lastMessageId=${lastMessageId}`;
        message = (await this.call("GET", url, undefined, { signal: this.stopping.signal, timeoutMs: 70_000 })).json;
        if (message !== undefined) message = { ...message, body: this.decrypt(message) };
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        // GetNextMessageAsync: an expired session is recreated; if that fails, the expiry is
        // thrown. The agent, its pool, access or authorization gone: thrown at once.
        if (typeKeyOf(error) === "TaskAgentSessionExpiredException" && (await this.createSession())) continue;
        if (error instanceof HttpError || error instanceof UnauthorizedError) throw error;
        // Anything else (here: a body that does not decrypt) is retried until it works.
        if (!failing) sayError(queueConErrorLine(exceptionMessage(error)));
        failing = true;
        await delay(15_000 + crypto.randomInt(15_000), this.stopping.signal);
        continue;
      }
      if (failing) say("Agent reconnected.");
      failing = false;
      if (message === undefined) continue;
      lastMessageId = message.messageId;
      try {
        await this.call("DELETE", `${this.api}/messages/${message.messageId}?sessionId=${encodeURIComponent(this.session.id)}`, undefined, { attempts: 3 });
      } catch (error) {
        // Agent.cs logs a failed delete and goes on with the message.
        say(`Could not delete message ${message.messageId}: ${exceptionMessage(error)}`);
      }
      if (message.messageType === "AgentRefresh") {
        this.update(JSON.parse(message.body));
        break;
      }
      if (message.messageType !== "PipelineAgentJobRequest") {
        say(`Ignoring message ${message.messageId} of type ${message.messageType}.`);
        continue;
      }
      await this.runJob(JSON.parse(message.body));
      if (this.once) break;
    }
  }

  /**
   * An AgentRefresh message: the real listener downloads the new package, leaves an update
   * script that swaps the folders once it has exited, and exits 3, or 4 when it runs once.
   * The emulated one only exits.
   */
  update(refresh) {
    say(`Agent update to ${refresh.targetVersion ?? "a new version"} requested; the listener exits so that it can be replaced.`);
    this.exitCode = this.once ? returnCode.runOnceAgentUpdating : returnCode.agentUpdating;
  }

  async runJob(request) {
    const jobName = request.jobName ?? `job ${request.requestId}`;
    say(`Running job: ${jobName}`);
    const workRoot = path.resolve(root, this.settings.workFolder ?? "_work");
    const sources = path.join(workRoot, "1", "s");
    const temp = path.join(workRoot, "_temp");
    fs.mkdirSync(sources, { recursive: true });
    fs.mkdirSync(temp, { recursive: true });
    const scriptFile = path.join(temp, `${crypto.randomUUID()}.sh`);
    fs.writeFileSync(scriptFile, String(request.script ?? ""));

    const env = {
      ...process.env,
      AGENT_NAME: this.settings.agentName,
      AGENT_ID: String(this.settings.agentId),
      AGENT_VERSION: agentVersion,
      AGENT_HOMEDIRECTORY: root,
      AGENT_WORKFOLDER: workRoot,
      AGENT_TEMPDIRECTORY: temp,
      AGENT_JOBNAME: jobName,
      BUILD_SOURCESDIRECTORY: sources,
      SYSTEM_DEFAULTWORKINGDIRECTORY: sources,
    };
    // Its own process group, so that whatever the step leaves behind ends with it.
    const child = spawn("bash", ["--noprofile", "--norc", scriptFile], { cwd: sources, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.pipe(process.stdout, { end: false });
    child.stderr.pipe(process.stderr, { end: false });
    let canceled = false;
    const killGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    this.job = {
      cancel: () => {
        canceled = true;
        killGroup("SIGTERM");
        setTimeout(() => killGroup("SIGKILL"), 5000).unref();
      },
    };
    const code = await new Promise((resolve) => {
      child.once("error", (error) => { process.stderr.write(`${error.message}\n`); resolve(1); });
      child.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
    });
    killGroup("SIGKILL");
    this.job = undefined;
    fs.rmSync(scriptFile, { force: true });

    const result = canceled ? "canceled" : code === 0 ? "succeeded" : "failed";
    try {
      await this.call(
        "PATCH",
        `${this.api}/jobrequests/${request.requestId}?lockToken=${encodeURIComponent(request.lockToken ?? "")}`,
        { requestId: request.requestId, result, finishTime: new Date().toISOString() },
        { attempts: 10 },
      );
    } catch (error) {
      say(`Could not report the result of job ${jobName}: ${error.message}`);
    }
    say(`Job ${jobName} completed with result: ${result[0].toUpperCase()}${result.slice(1)}`);
  }
}

async function run(settings) {
  if (!fs.existsSync(settingsFile) || !fs.existsSync(credentialsFile)) {
    throw new AgentError("The agent is not configured. Run './config.sh' first.");
  }
  const listener = new Listener(settings.flag("once"));
  process.on("SIGTERM", () => listener.stop("SIGTERM"));
  process.on("SIGINT", () => listener.stop("SIGINT"));
  try {
    return await listener.run();
  } catch (error) {
    // Program.cs: an exception out of the run is "An error occurred: …" and RetryableError.
    sayError(`An error occurred: ${exceptionMessage(error)}`);
    return returnCode.retryableError;
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const settings = parseCommandLine(process.argv.slice(2));
  if (settings.flag("version")) {
    process.stdout.write(`${agentVersion}\n`);
    return 0;
  }
  const command = settings.commands[0] ?? "run";
  try {
    if (command === "configure") await configure(settings);
    else if (command === "remove") await remove(settings);
    else if (command === "run") return await run(settings);
    else throw new AgentError(`Unknown command '${command}'.`);
    return returnCode.success;
  } catch (error) {
    if (error instanceof AgentError) {
      say(`Error: ${error.message}`);
    } else if (isAuthFailure(error)) {
      say(`Error: the server refused the credentials (${error.message}).`);
    } else {
      say(`Error: ${error instanceof Error ? error.message : String(error)}`);
    }
    return returnCode.terminatedError;
  }
}

main().then((code) => {
  process.exitCode = code;
});
