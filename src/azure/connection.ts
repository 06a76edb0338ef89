// The pipeline's Azure Resource Manager service connection: what it says, and the credential
// that follows from it. The ARM endpoint is the connection's URL and the authority its
// activeDirectoryAuthority, so sovereign clouds and Azure Stack need nothing special.
import {
  AuthenticationError,
  AzurePipelinesCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  CredentialUnavailableError,
  ManagedIdentityCredential,
  type TokenCredential,
} from "@azure/identity";
import { InputError } from "../core/errors";
import { userAgentPrefix } from "../core/userAgent";

/** How a connection's values are read (the platform adapter supplies it). */
export interface ConnectionReader {
  url(connectionId: string): string | undefined;
  scheme(connectionId: string): string | undefined;
  authParameter(connectionId: string, key: string): string | undefined;
  dataParameter(connectionId: string, key: string): string | undefined;
}

/** An app registration (service principal) of a tenant. */
export interface ServicePrincipal {
  tenantId: string;
  clientId: string;
}

export type ArmAuth =
  | ({ kind: "secret"; clientSecret: string } & ServicePrincipal)
  | ({ kind: "certificate"; certificatePem: string } & ServicePrincipal)
  | ({ kind: "workloadIdentity" } & ServicePrincipal)
  /** The identity of the machine the pipeline agent runs on; a user-assigned one by client id. */
  | { kind: "managedIdentity"; userAssignedClientId: string | undefined };

export interface ArmConnection {
  connectionId: string;
  /** With a trailing slash, e.g. https://management.azure.com/ */
  armUrl: string;
  /** Without a trailing slash, e.g. https://login.microsoftonline.com */
  authorityHost: string;
  subscriptionId: string;
  auth: ArmAuth;
}

const publicCloudAuthority = "https://login.microsoftonline.com";

const authorityByEnvironment: Record<string, string> = {
  azurecloud: publicCloudAuthority,
  azureusgovernment: "https://login.microsoftonline.us",
  azurechinacloud: "https://login.chinacloudapi.cn",
};

/**
 * Reads the connection, or throws an InputError naming `azureSubscription` and what is missing.
 * Every secret it reads is handed to `maskSecret` before anything else happens.
 */
export function readArmConnection(read: ConnectionReader, connectionId: string, maskSecret: (value: string) => void): ArmConnection {
  const problems: string[] = [];
  const need = (value: string | undefined, what: string): string => {
    if (value === undefined || value.trim() === "") {
      problems.push(`azureSubscription: the service connection has no ${what}`);
      return "";
    }
    return value.trim();
  };
  const schemeName = read.scheme(connectionId) ?? "ServicePrincipal";
  const scheme = schemeName.toLowerCase();
  const armUrl = need(read.url(connectionId), "URL (is it an Azure Resource Manager connection?)");
  const subscriptionId = need(read.dataParameter(connectionId, "subscriptionId"), "subscription id (a connection scoped to a management group or workspace cannot be used)");
  const environment = (read.dataParameter(connectionId, "environment") ?? "AzureCloud").toLowerCase();
  // environmentAuthorityUrl is the older (ADAL-era) name of the same value.
  const authority =
    read.dataParameter(connectionId, "activeDirectoryAuthority") ??
    read.dataParameter(connectionId, "environmentAuthorityUrl") ??
    authorityByEnvironment[environment] ??
    publicCloudAuthority;
  const principal = (): ServicePrincipal => ({
    tenantId: need(read.authParameter(connectionId, "tenantid"), "tenant id"),
    clientId: need(read.authParameter(connectionId, "serviceprincipalid"), "service principal (client) id"),
  });

  let auth: ArmAuth | undefined;
  if (scheme === "serviceprincipal") {
    const type = (read.authParameter(connectionId, "authenticationType") ?? "spnKey").toLowerCase();
    if (type === "spncertificate") {
      const certificatePem = need(read.authParameter(connectionId, "servicePrincipalCertificate"), "certificate");
      if (certificatePem !== "") maskSecret(certificatePem);
      auth = { kind: "certificate", certificatePem, ...principal() };
    } else {
      const clientSecret = need(read.authParameter(connectionId, "serviceprincipalkey"), "service principal key");
      if (clientSecret !== "") maskSecret(clientSecret);
      auth = { kind: "secret", clientSecret, ...principal() };
    }
  } else if (scheme === "workloadidentityfederation") {
    auth = { kind: "workloadIdentity", ...principal() };
  } else if (scheme === "managedserviceidentity") {
    // Empty for the machine's system-assigned identity.
    auth = { kind: "managedIdentity", userAssignedClientId: read.dataParameter(connectionId, "msiclientId")?.trim() || undefined };
  } else {
    problems.push(
      `azureSubscription: the service connection's scheme '${schemeName}' is not supported; use a service principal (secret or certificate), workload identity federation or a managed identity`,
    );
  }
  if (problems.length > 0 || auth === undefined) throw new InputError(problems);
  return {
    connectionId,
    armUrl: armUrl.endsWith("/") ? armUrl : `${armUrl}/`,
    authorityHost: authority.replace(/\/+$/, ""),
    subscriptionId,
    auth,
  };
}

/** The scope of ARM tokens: the endpoint URL with `.default`, never a doubled slash. */
export function armScope(connection: ArmConnection): string {
  return `${connection.armUrl}.default`;
}

/** Azure DevOps' resource (application) id: the same in every cloud. */
export const azureDevOpsScope = "499b84ac-1321-427f-aa17-267ca6975798/.default";

export interface PipelineAccess {
  /** System.AccessToken, needed for workload identity federation. */
  systemAccessToken: string | undefined;
}

/**
 * The connection's credential, made at its first use (so that a problem of the registration
 * inputs is reported before one of the connection); a token it cannot get is reported as a
 * problem of azureSubscription.
 */
export function credentialFor(connection: ArmConnection, pipeline: PipelineAccess): TokenCredential {
  let credential: TokenCredential | undefined;
  return {
    async getToken(scopes, options) {
      credential ??= sdkCredentialFor(connection, pipeline);
      try {
        return await credential.getToken(scopes, options);
      } catch (error) {
        if (error instanceof AuthenticationError || error instanceof CredentialUnavailableError) {
          throw new InputError([`azureSubscription: the service connection could not get a token: ${error.message}`]);
        }
        throw error;
      }
    },
  };
}

function sdkCredentialFor(connection: ArmConnection, pipeline: PipelineAccess): TokenCredential {
  // Instance discovery asks the public cloud about the authority; the connection already names
  // the authority it trusts, which also covers Azure Stack and sovereign clouds.
  const options = { authorityHost: connection.authorityHost, disableInstanceDiscovery: true, userAgentOptions: { userAgentPrefix } };
  const auth = connection.auth;
  switch (auth.kind) {
    case "secret":
      return new ClientSecretCredential(auth.tenantId, auth.clientId, auth.clientSecret, options);
    case "certificate":
      return new ClientCertificateCredential(auth.tenantId, auth.clientId, { certificate: auth.certificatePem }, options);
    case "workloadIdentity":
      if (pipeline.systemAccessToken === undefined) {
        throw new InputError([
          "azureSubscription: workload identity federation needs the job's access token; allow scripts to access the OAuth token (classic) or keep System.AccessToken available",
        ]);
      }
      return new AzurePipelinesCredential(auth.tenantId, auth.clientId, connection.connectionId, pipeline.systemAccessToken, options);
    case "managedIdentity":
      // The machine's instance metadata service answers for the machine's own cloud.
      return new ManagedIdentityCredential({
        ...(auth.userAssignedClientId === undefined ? {} : { clientId: auth.userAssignedClientId }),
        userAgentOptions: { userAgentPrefix },
      });
  }
}
