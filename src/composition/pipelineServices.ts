// What both tasks read from the pipeline through the platform adapter: its variables, the job's
// access token, the registration credential, and ACI through the ARM service connection. Every
// secret read here is masked at once and remembered, so that the step can mask text it writes
// to files (container logs) too.
import type { TokenCredential } from "@azure/identity";
import { SdkAci } from "../azure/aci";
import { azureDevOpsScope, credentialFor, readArmConnection, type ArmConnection } from "../azure/connection";
import { InputError } from "../core/errors";
import { httpsBaseUrl, parseValue, required, type PipelineVariables } from "../core/inputSource";
import { maskSecrets } from "../core/masking";
import { DevOpsClient, type DevOpsAuth } from "../devops/client";
import type { TaskPlatform } from "../platform/types";
import type { AgentCredential, Registration } from "../run/inputs";

/** The secrets one step knows: each is masked in the log when added and can be masked in text. */
export class StepSecrets {
  private readonly values: string[] = [];

  constructor(private readonly platform: TaskPlatform) {}

  add(value: string | undefined): void {
    if (value === undefined || value.trim() === "" || this.values.includes(value)) return;
    this.platform.setSecret(value);
    this.values.push(value);
  }

  /** A secret the platform has masked already (a secret input). */
  remember(value: string | undefined): void {
    if (value !== undefined && value.trim() !== "" && !this.values.includes(value)) this.values.push(value);
  }

  mask(text: string): string {
    return maskSecrets(text, this.values);
  }
}

/**
 * Inputs whose value is a secret, read without echo and masked at once: tokens and passwords, and
 * the startup script, which may carry credentials for the tools it installs.
 */
const secretInputs = new Set(["registrationtoken", "registrypassword", "startupscript"]);
/** Inputs read without echo whose credentials part, if any, is masked. */
const urlInputs = new Set(["organizationurl"]);

export function inputReader(platform: TaskPlatform, secrets: StepSecrets): { get(name: string): string | undefined } {
  return {
    get: (name) => {
      const key = name.toLowerCase();
      if (secretInputs.has(key)) {
        const value = platform.getSecretInput(name);
        secrets.remember(value);
        return value;
      }
      if (!urlInputs.has(key)) return platform.getInput(name);
      const value = platform.getQuietInput(name);
      for (const secret of urlCredentials(value)) secrets.add(secret);
      return value;
    },
  };
}

/** The user name and password in a URL such as https://user:password@host/, as given and decoded. */
export function urlCredentials(text: string | undefined): string[] {
  const url = text !== undefined && URL.canParse(text) ? new URL(text) : undefined;
  const parts = [url?.username ?? "", url?.password ?? ""].filter((part) => part !== "");
  return [...new Set(parts.flatMap((part) => [part, safeDecode(part)]))];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function pipelineVariables(platform: TaskPlatform): PipelineVariables {
  return {
    buildId: platform.getVariable("Build.BuildId"),
    releaseId: platform.getVariable("Release.ReleaseId"),
    jobAttempt: platform.getVariable("System.JobAttempt"),
    collectionUri: platform.getVariable("System.CollectionUri"),
    teamProjectId: platform.getVariable("System.TeamProjectId"),
    teamProject: platform.getVariable("System.TeamProject"),
  };
}

/** System.AccessToken, masked; undefined when the job does not expose it. */
function systemAccessToken(platform: TaskPlatform, secrets: StepSecrets): string | undefined {
  const token = platform.getEndpointAuthorizationParameter("SYSTEMVSSCONNECTION", "AccessToken") ?? platform.getVariable("System.AccessToken");
  secrets.add(token);
  return token;
}

/** The ARM service connection named by azureSubscription, and its credential. */
export interface ArmAccess {
  connection: ArmConnection;
  credential: TokenCredential;
}

export function armAccess(platform: TaskPlatform, connectionId: string, secrets: StepSecrets): ArmAccess {
  const connection = readArmConnection(
    {
      url: (id) => platform.getEndpointUrl(id),
      scheme: (id) => platform.getEndpointAuthorizationScheme(id),
      authParameter: (id, key) => platform.getEndpointAuthorizationParameter(id, key),
      dataParameter: (id, key) => platform.getEndpointDataParameter(id, key),
    },
    connectionId,
    (secret) => { secrets.add(secret); },
  );
  return { connection, credential: maskingTokens(credentialFor(connection, { systemAccessToken: systemAccessToken(platform, secrets) }), secrets) };
}

/** Every access token the credential hands out (for ARM or Azure DevOps) is a secret of the step. */
function maskingTokens(credential: TokenCredential, secrets: StepSecrets): TokenCredential {
  return {
    async getToken(scopes, options) {
      const token = await credential.getToken(scopes, options);
      secrets.add(token?.token);
      return token;
    },
  };
}

/** ACI through the ARM service connection. */
export function aciFrom(arm: ArmAccess): SdkAci {
  return new SdkAci(arm.connection, arm.credential);
}

/** Azure DevOps as the registering identity, and what the agents register with. */
export interface RegistrationAccess {
  /** Where agents register: organizationUrl, or the URL of registrationConnection. */
  organizationUrl: string;
  pools: DevOpsClient;
  /** What an agent that registers itself (a Windows image) configures itself with; an Entra token is asked for here, just before use. */
  agentCredential(): Promise<AgentCredential>;
}

export function registrationAccess(
  platform: TaskPlatform,
  registration: Registration,
  organizationUrl: string,
  arm: ArmAccess,
  secrets: StepSecrets,
): RegistrationAccess {
  const withToken = (url: string, token: string, auth: DevOpsAuth): RegistrationAccess => ({
    organizationUrl: url,
    pools: new DevOpsClient(url, auth),
    agentCredential: () => Promise.resolve({ kind: "token", token }),
  });
  switch (registration.auth) {
    case "pat":
      secrets.add(registration.token);
      return withToken(organizationUrl, registration.token, { kind: "pat", token: registration.token });
    case "accessToken": {
      const token = systemAccessToken(platform, secrets);
      if (token === undefined) {
        throw new InputError([
          "registrationAuth: accessToken needs the job's System.AccessToken; in a classic pipeline enable 'Allow scripts to access the OAuth token'",
        ]);
      }
      return withToken(organizationUrl, token, { kind: "bearer", token });
    }
    case "serviceConnection": {
      const connection = readTfsConnection(platform, registration.connection, secrets);
      return withToken(connection.url, connection.token, { kind: "pat", token: connection.token });
    }
    case "entraToken":
      return {
        organizationUrl,
        pools: new DevOpsClient(organizationUrl, { kind: "entra", credential: arm.credential }),
        agentCredential: async () => {
          const token = await arm.credential.getToken(azureDevOpsScope);
          if (token === null) throw new InputError(["azureSubscription: the service connection got no token for Azure DevOps"]);
          return { kind: "token", token: token.token };
        },
      };
  }
}

/**
 * An "Azure Repos/Team Foundation Server" connection (type externaltfs): its URL is the
 * organization's, and it authenticates with scheme Token (parameter apitoken) or
 * UsernamePassword (parameter password, a PAT on Azure DevOps Services).
 */
function readTfsConnection(platform: TaskPlatform, connectionId: string, secrets: StepSecrets): { url: string; token: string } {
  const scheme = platform.getEndpointAuthorizationScheme(connectionId);
  const tokenParameter = { token: "apitoken", usernamepassword: "password" }[scheme?.toLowerCase() ?? ""];
  if (tokenParameter === undefined) {
    throw new InputError([
      `registrationConnection: the service connection's scheme '${scheme ?? ""}' is not supported; use an Azure Repos/Team Foundation Server connection with a personal access token`,
    ]);
  }
  const token = platform.getEndpointAuthorizationParameter(connectionId, tokenParameter);
  secrets.add(token);
  const url = parseValue("registrationConnection", platform.getEndpointUrl(connectionId), required(httpsBaseUrl, "the service connection has no URL"));
  const problems = [...(url.ok ? [] : url.problems), ...(token === undefined ? ["registrationConnection: the service connection has no token"] : [])];
  if (!url.ok || token === undefined) throw new InputError(problems);
  return { url: url.value, token };
}
