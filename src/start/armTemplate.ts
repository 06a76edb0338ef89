import type {
  Container,
  ContainerGroup,
  ContainerGroupProperties,
  EnvironmentVariable,
  ImageRegistryCredential,
} from "@azure/arm-containerinstance";

/** The version @azure/arm-containerinstance 9.x speaks, so a dry run shows what a real run sends. */
export const CONTAINER_GROUP_API_VERSION = "2023-05-01";

const DEPLOYMENT_TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";

export interface SecureParameter {
  type: "securestring";
  metadata: { description: string };
}

/** A container in the REST and template shape: everything but the name under `properties`. */
export interface ContainerResource {
  name: string;
  properties: Omit<Container, "name">;
}

/** A container group in the REST and template shape: group settings under `properties`. */
export interface ContainerGroupResource {
  type: "Microsoft.ContainerInstance/containerGroups";
  apiVersion: string;
  name: string;
  location?: string;
  tags?: Record<string, string>;
  identity?: ContainerGroupProperties["identity"];
  zones?: string[];
  properties: Omit<ContainerGroupProperties, "identity" | "containers"> & { containers: ContainerResource[] };
}

export interface ArmTemplate {
  /** First, so that a reader sees why the template is what it is. */
  metadata?: { description: string };
  $schema: string;
  contentVersion: string;
  parameters: Record<string, SecureParameter>;
  resources: ContainerGroupResource[];
}

export interface DeployableTemplate {
  template: ArmTemplate;
  /** The securestring parameters a deployment must supply, in order of first use. */
  parameterNames: string[];
}

/**
 * A resource-group deployment template creating the given container groups. Every secure value
 * (secure environment values, registry passwords) becomes a securestring parameter: the template
 * holds references, never the secrets. Groups sharing a secret share its parameter.
 */
export function armTemplateFor(groups: readonly ContainerGroup[], description?: string, apiVersion = CONTAINER_GROUP_API_VERSION): DeployableTemplate {
  const parameters = new SecureParameters();
  const resources = groups.map((group) => containerGroupResource(literalStrings(group), apiVersion, parameters));
  return {
    template: {
      ...(description === undefined ? {} : { metadata: { description } }),
      $schema: DEPLOYMENT_TEMPLATE_SCHEMA,
      contentVersion: "1.0.0.0",
      parameters: parameters.declarations(),
      resources,
    },
    parameterNames: parameters.names(),
  };
}

function containerGroupResource(group: ContainerGroup, apiVersion: string, parameters: SecureParameters): ContainerGroupResource {
  const { name, location, tags, identity, zones, containers, imageRegistryCredentials, ...properties } = group;
  if (name === undefined) {
    throw new Error("armTemplateFor needs container groups with a name");
  }
  return {
    type: "Microsoft.ContainerInstance/containerGroups",
    apiVersion,
    name,
    // A group without a location deploys to its resource group's: ARM evaluates the expression.
    location: location ?? "[resourceGroup().location]",
    tags,
    identity,
    zones,
    properties: {
      ...properties,
      containers: containers.map((container) => containerResource(container, parameters)),
      imageRegistryCredentials: imageRegistryCredentials?.map((credential) => credentialResource(credential, parameters)),
    },
  };
}

function containerResource({ name, environmentVariables, ...properties }: Container, parameters: SecureParameters): ContainerResource {
  return {
    name,
    properties: { ...properties, environmentVariables: environmentVariables?.map((variable) => secureValueAsParameter(variable, parameters)) },
  };
}

function secureValueAsParameter(variable: EnvironmentVariable, parameters: SecureParameters): EnvironmentVariable {
  if (variable.secureValue === undefined) {
    return variable;
  }
  const reference = parameters.reference(parameterNames[variable.name] ?? camelCase(variable.name), variable.secureValue, `Secure value of ${variable.name}`);
  return { name: variable.name, secureValue: reference };
}

function credentialResource(credential: ImageRegistryCredential, parameters: SecureParameters): ImageRegistryCredential {
  if (credential.password === undefined) {
    return credential;
  }
  const reference = parameters.reference("registryPassword", credential.password, `Password for ${credential.server}`);
  return { ...credential, password: reference };
}

/** The names a person deploying the template knows from the task's inputs. */
const parameterNames: Record<string, string> = { AZP_TOKEN: "registrationToken", AZP_STARTUP_SCRIPT: "startupScript" };

/** AZP_TOKEN → azpToken */
function camelCase(name: string): string {
  return name.toLowerCase().replace(/_+([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** Remembers each secret's parameter; a different secret under a taken name gets a numbered name. */
export class SecureParameters {
  private readonly secretByName = new Map<string, string>();
  private readonly descriptionByName = new Map<string, string>();

  reference(baseName: string, secret: string, description: string): string {
    for (let number = 1; ; number += 1) {
      const name = number === 1 ? baseName : `${baseName}${number}`;
      const taken = this.secretByName.get(name);
      if (taken === undefined) {
        this.secretByName.set(name, secret);
        this.descriptionByName.set(name, description);
      }
      if (taken === undefined || taken === secret) {
        return `[parameters('${name}')]`;
      }
    }
  }

  names(): string[] {
    return [...this.secretByName.keys()];
  }

  declarations(): Record<string, SecureParameter> {
    return Object.fromEntries(
      [...this.descriptionByName].map(([name, description]) => [name, { type: "securestring", metadata: { description } }]),
    );
  }
}

/**
 * ARM evaluates a string in square brackets as an expression; a doubled opening bracket makes it
 * literal. Applied to every key and value taken from the groups, so that no user text (a tag, an
 * environment value) can run as an expression when the template is deployed.
 */
export function literalStrings<T>(value: T): T {
  return escapeBrackets(value) as T;
}

function escapeBrackets(value: unknown): unknown {
  if (typeof value === "string") {
    return literal(value);
  }
  if (Array.isArray(value)) {
    return value.map(escapeBrackets);
  }
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [literal(key), escapeBrackets(entry)]));
  }
  return value;
}

function literal(text: string): string {
  return text.startsWith("[") && text.endsWith("]") ? `[${text}` : text;
}
