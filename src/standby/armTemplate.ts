// A dry run's template: the profile and the pool, secure values as securestring parameters (as
// AciAgentStart's dry run), the agent package as parameters (a dry run reads no feed).
import { literalStrings, SecureParameters } from "../start/armTemplate";
import type { AgentPackages } from "../start/containerGroupSpec";
import type { StandbyConfig } from "./inputs";
import { POOL_API_VERSION, PROFILE_API_VERSION, poolBody, profileBody, type ProfileBody } from "./resources";

const DEPLOYMENT_TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";

/** The feed's package, filled in by whoever deploys: a dry run reads no feed. */
const PACKAGE_URL = "[parameters('agentPackageUrl')]";
const PACKAGE_SHA256 = "[parameters('agentPackageSha256')]";
const NO_PACKAGES: AgentPackages = { glibc: { platform: "linux-x64", version: "", downloadUrl: "", hashValue: "", filename: undefined }, musl: undefined };

export interface StandbyTemplate {
  template: Record<string, unknown>;
  /** Every parameter a deployment must supply. */
  parameterNames: string[];
}

export function standbyTemplateFor(config: StandbyConfig, bootstrapScript: string, description: string): StandbyTemplate {
  const location = config.location ?? "[resourceGroup().location]";
  // The user's text is made literal first; then the references the template means are put in.
  const profile = literalStrings(profileBody(config, "", NO_PACKAGES, bootstrapScript));
  const secure = new SecureParameters();
  const properties: ProfileBody["properties"] = {
    ...profile.properties,
    containers: profile.properties.containers.map((container) => ({
      ...container,
      properties: {
        ...container.properties,
        environmentVariables: container.properties.environmentVariables.map((variable) => {
          if (variable.name === "AZP_AGENT_PACKAGE_URL") return { name: variable.name, value: PACKAGE_URL };
          if (variable.name === "AZP_AGENT_PACKAGE_SHA256") return { name: variable.name, value: PACKAGE_SHA256 };
          if (variable.secureValue === undefined) return variable;
          return { name: variable.name, secureValue: secure.reference(variable.name === "AZP_STARTUP_SCRIPT" ? "startupScript" : variable.name, variable.secureValue, `Secure value of ${variable.name}`) };
        }),
      },
    })),
    ...(profile.properties.imageRegistryCredentials === undefined
      ? {}
      : {
          imageRegistryCredentials: profile.properties.imageRegistryCredentials.map((credential) => ({
            ...credential,
            password: secure.reference("registryPassword", credential.password, `Password for ${credential.server}`),
          })),
        }),
  };
  const name = literalStrings(config.standbyPool);
  const profileRef = `resourceId('Microsoft.ContainerInstance/containerGroupProfiles', '${config.standbyPool}')`;
  const pool = literalStrings(poolBody(config, "", { id: "", revision: undefined }));
  const parameters = {
    agentPackageUrl: { type: "string", metadata: { description: "downloadUrl of the linux-x64 agent package in {organizationUrl}/_apis/distributedtask/packages/agent?platform=linux-x64" } },
    agentPackageSha256: { type: "string", metadata: { description: "hashValue of that package" } },
    ...secure.declarations(),
  };
  return {
    template: {
      metadata: { description },
      $schema: DEPLOYMENT_TEMPLATE_SCHEMA,
      contentVersion: "1.0.0.0",
      parameters,
      resources: [
        {
          type: "Microsoft.ContainerInstance/containerGroupProfiles",
          apiVersion: PROFILE_API_VERSION,
          name,
          location,
          // The hash of a template's profile would not be the hash of what it deploys: apply puts it again.
          properties,
        },
        {
          type: "Microsoft.StandbyPool/standbyContainerGroupPools",
          apiVersion: POOL_API_VERSION,
          name,
          location,
          dependsOn: [`[${profileRef}]`],
          properties: {
            ...pool.properties,
            containerGroupProperties: {
              ...pool.properties.containerGroupProperties,
              containerGroupProfile: { id: `[${profileRef}]`, revision: `[reference(${profileRef}, '${PROFILE_API_VERSION}').revision]` },
            },
          },
        },
      ],
    },
    parameterNames: Object.keys(parameters),
  };
}
