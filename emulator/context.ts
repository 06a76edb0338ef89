import type { ContainerRuntime } from "./runtime/containerRuntime";
import type { AgentPackage } from "./devops/agentPackage";
import { wellKnown, type EmulatorState } from "./state";
import type { TlsMaterial } from "./tls";
import type { TokenService } from "./tokens";

export interface EmulatorUrls {
  /** ARM endpoint, with a trailing slash like a service connection's URL. */
  arm: string;
  /** Entra authority host, without a trailing slash. */
  authority: string;
  /** Azure DevOps host root (https://host:port/). */
  devopsHost: string;
  /** The emulated organization's URL, as System.CollectionUri gives it (trailing slash). */
  organization: string;
  /** Control API root, without a trailing slash. */
  control: string;
}

export interface EmulatorContext {
  state: EmulatorState;
  tokens: TokenService;
  urls: EmulatorUrls;
  tls: TlsMaterial;
  runtime: ContainerRuntime;
  agentPackage: AgentPackage;
}

/** Issuer of access tokens of a tenant (v1 form, which ARM tokens carry). */
export function tokenIssuer(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

/** Issuer of the OIDC tokens the emulated organization hands to pipelines. */
export function devopsOidcIssuer(urls: EmulatorUrls): string {
  // Real: https://vstoken.dev.azure.com/{organizationId}; the emulator serves no discovery there.
  return `${urls.devopsHost}vstoken/${wellKnown.organization}`;
}

export const azureDevOpsResourceId = "499b84ac-1321-427f-aa17-267ca6975798";
export const federatedAudience = "api://AzureADTokenExchange";
