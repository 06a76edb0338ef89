// What both tasks read from the pipeline through the platform adapter: its variables, the job's
// access token, the registration token, and ACI through the ARM service connection.
import { SdkAci } from "../azure/aci";
import { credentialFor, readArmConnection } from "../azure/connection";
import { DevOpsClient } from "../devops/client";
import type { TaskPlatform } from "../platform/types";
import { InputError } from "../core/errors";
import type { PipelineVariables } from "../core/inputSource";
import type { Registration } from "../run/inputs";

/**
 * Inputs whose value is a secret, read without echo and masked at once: tokens and passwords, and
 * the startup script, which may carry credentials for the tools it installs.
 */
const secretInputs = new Set(["registrationtoken", "registrypassword", "startupscript"]);
/** Inputs read without echo whose credentials part, if any, is masked. */
const urlInputs = new Set(["organizationurl"]);

export function inputReader(platform: TaskPlatform): { get(name: string): string | undefined } {
  return {
    get: (name) => {
      const key = name.toLowerCase();
      if (secretInputs.has(key)) return platform.getSecretInput(name);
      if (!urlInputs.has(key)) return platform.getInput(name);
      const value = platform.getQuietInput(name);
      for (const secret of urlCredentials(value)) platform.setSecret(secret);
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
export function systemAccessToken(platform: TaskPlatform): string | undefined {
  const token = platform.getEndpointAuthorizationParameter("SYSTEMVSSCONNECTION", "AccessToken") ?? platform.getVariable("System.AccessToken");
  if (token !== undefined) platform.setSecret(token);
  return token;
}

/** The token that registers (and deregisters) agents: the PAT, or the job's access token. */
export function registrationToken(platform: TaskPlatform, registration: Registration): string {
  if (registration.auth === "pat") return registration.token;
  const token = systemAccessToken(platform);
  if (token === undefined) {
    throw new InputError([
      "registrationAuth: accessToken needs the job's System.AccessToken; in a classic pipeline enable 'Allow scripts to access the OAuth token'",
    ]);
  }
  return token;
}

/** Azure DevOps as the registering identity. */
export function devopsClient(organizationUrl: string, registration: Registration, token: string): DevOpsClient {
  return new DevOpsClient(organizationUrl, registration.auth === "pat" ? { kind: "pat", token } : { kind: "bearer", token });
}

/** ACI through the ARM service connection named by the azureSubscription input. */
export function aciFromConnection(platform: TaskPlatform, connectionId: string): SdkAci {
  const connection = readArmConnection(
    {
      url: (id) => platform.getEndpointUrl(id),
      scheme: (id) => platform.getEndpointAuthorizationScheme(id),
      authParameter: (id, key) => platform.getEndpointAuthorizationParameter(id, key),
      dataParameter: (id, key) => platform.getEndpointDataParameter(id, key),
    },
    connectionId,
    (secret) => { platform.setSecret(secret); },
  );
  return new SdkAci(connection, credentialFor(connection, { systemAccessToken: systemAccessToken(platform) }));
}
