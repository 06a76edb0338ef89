// The pipeline's Azure Resource Manager service connection: what it says, and the credential
// that follows from it. The ARM endpoint is the connection's URL and the authority its
// activeDirectoryAuthority, so sovereign clouds and Azure Stack need nothing special.
import {
  AzurePipelinesCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
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

export type ArmAuth =
  | { kind: "secret"; clientSecret: string }
  | { kind: "certificate"; certificatePem: string }
  | { kind: "workloadIdentity" };

export interface ArmConnection {
  connectionId: string;
  /** With a trailing slash, e.g. https://management.azure.com/ */
  armUrl: string;
  /** Without a trailing slash, e.g. https://login.microsoftonline.com */
  authorityHost: string;
  tenantId: string;
  clientId: string;
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
  const scheme = (read.scheme(connectionId) ?? "ServicePrincipal").toLowerCase();
  const armUrl = need(read.url(connectionId), "URL (is it an Azure Resource Manager connection?)");
  const tenantId = need(read.authParameter(connectionId, "tenantid"), "tenant id");
  const clientId = need(read.authParameter(connectionId, "serviceprincipalid"), "service principal (client) id");
  const subscriptionId = need(read.dataParameter(connectionId, "subscriptionId"), "subscription id (a connection scoped to a management group or workspace cannot be used)");
  const environment = (read.dataParameter(connectionId, "environment") ?? "AzureCloud").toLowerCase();
  const authority =
    read.dataParameter(connectionId, "activeDirectoryAuthority") ?? authorityByEnvironment[environment] ?? publicCloudAuthority;

  let auth: ArmAuth = { kind: "workloadIdentity" };
  if (scheme === "serviceprincipal") {
    const type = (read.authParameter(connectionId, "authenticationType") ?? "spnKey").toLowerCase();
    if (type === "spncertificate") {
      const certificatePem = need(read.authParameter(connectionId, "servicePrincipalCertificate"), "certificate");
      if (certificatePem !== "") maskSecret(certificatePem);
      auth = { kind: "certificate", certificatePem };
    } else {
      const clientSecret = need(read.authParameter(connectionId, "serviceprincipalkey"), "service principal key");
      if (clientSecret !== "") maskSecret(clientSecret);
      auth = { kind: "secret", clientSecret };
    }
  } else if (scheme !== "workloadidentityfederation") {
    problems.push(
      `azureSubscription: the service connection's scheme '${read.scheme(connectionId) ?? ""}' is not supported; use a service principal (secret or certificate) or workload identity federation`,
    );
  }
  if (problems.length > 0) throw new InputError(problems);
  return {
    connectionId,
    armUrl: armUrl.endsWith("/") ? armUrl : `${armUrl}/`,
    authorityHost: authority.replace(/\/+$/, ""),
    tenantId,
    clientId,
    subscriptionId,
    auth,
  };
}

/** The scope of ARM tokens: the endpoint URL with `.default`, never a doubled slash. */
export function armScope(connection: ArmConnection): string {
  return `${connection.armUrl}.default`;
}

export interface PipelineAccess {
  /** System.AccessToken, needed for workload identity federation. */
  systemAccessToken: string | undefined;
}

export function credentialFor(connection: ArmConnection, pipeline: PipelineAccess): TokenCredential {
  // Instance discovery asks the public cloud about the authority; the connection already names
  // the authority it trusts, which also covers Azure Stack and sovereign clouds.
  const options = { authorityHost: connection.authorityHost, disableInstanceDiscovery: true, userAgentOptions: { userAgentPrefix } };
  switch (connection.auth.kind) {
    case "secret":
      return new ClientSecretCredential(connection.tenantId, connection.clientId, connection.auth.clientSecret, options);
    case "certificate":
      return new ClientCertificateCredential(connection.tenantId, connection.clientId, { certificate: connection.auth.certificatePem }, options);
    case "workloadIdentity":
      if (pipeline.systemAccessToken === undefined) {
        throw new InputError([
          "azureSubscription: workload identity federation needs the job's access token; allow scripts to access the OAuth token (classic) or keep System.AccessToken available",
        ]);
      }
      return new AzurePipelinesCredential(connection.tenantId, connection.clientId, connection.connectionId, pipeline.systemAccessToken, options);
  }
}
