import type {
  Container,
  ContainerGroup,
  ContainerGroupIdentity,
  EnvironmentVariable as ContainerEnvironmentVariable,
  ImageRegistryCredential,
  ResourceIdentityType,
} from "@azure/arm-containerinstance";
import { uniqueIgnoringCase } from "../core/inputSource";
import type { AgentCredential } from "../run/inputs";
import type { AgentIdentity, RegistryAccess, StartConfig } from "./inputs";
import { FLEET_VARIABLE, RUN_ID_VARIABLE, fleetName } from "../run/names";

/** An agent whose name and tags are decided before anything is created. */
export interface PlannedAgent {
  name: string;
  tags: Record<string, string>;
}

/** Relative to the agent's own folder, as the agent's config.sh expects. */
const AGENT_WORK_FOLDER = "_work";

/** The container group running one agent; the container is named like the group. */
export function containerGroupFor(
  config: StartConfig,
  agent: PlannedAgent,
  location: string,
  bootstrapScript: string,
  credential: AgentCredential,
): ContainerGroup {
  const identity = groupIdentity(config.identity, config.registry);
  return {
    name: agent.name,
    location,
    tags: agent.tags,
    ...(identity === undefined ? {} : { identity }),
    osType: config.osType,
    priority: config.priority,
    // Never, for every agent. A restart would hand the registration secret again to a container
    // whose jobs (root in bootstrap mode) could have replaced any program in it; and an
    // ephemeral agent would register afresh and take another job.
    restartPolicy: "Never",
    containers: [agentContainer(config, agent.name, bootstrapScript, credential)],
    ...(config.registry === undefined ? {} : { imageRegistryCredentials: [registryCredential(config.registry)] }),
    ...(config.subnetIds.length === 0 ? {} : { subnetIds: config.subnetIds.map((id) => ({ id })) }),
  };
}

function agentContainer(config: StartConfig, name: string, bootstrapScript: string, credential: AgentCredential): Container {
  return {
    name,
    image: config.image,
    resources: { requests: { cpu: config.cpu, memoryInGB: config.memoryGB } },
    environmentVariables: agentEnvironment(config, name, credential),
    // The bootstrap script travels as an argument of the command rather than in a secret volume:
    // no volume mount is needed, any image with /bin/sh runs it, and it holds no secret (the
    // token and the user's startup script are secure environment values), so it may show in the
    // definition. start.sh re-executes itself from its file to drop the secret from its
    // environment, so the command first writes it to a file. A prebuilt image brings its own
    // entrypoint.
    ...(config.imageMode === "bootstrap" ? { command: bootstrapCommand(bootstrapScript) } : {}),
  };
}

/** `sh -c` writes the script (its $1) to a file and runs it from there. */
export function bootstrapCommand(bootstrapScript: string): string[] {
  return [
    "/bin/sh",
    "-c",
    'script="${TMPDIR:-/tmp}/aci-agent-start.sh" && printf \'%s\\n\' "$1" >"$script" && exec /bin/sh "$script"',
    "aci-agent-bootstrap",
    bootstrapScript,
  ];
}

function agentEnvironment(config: StartConfig, agentName: string, credential: AgentCredential): ContainerEnvironmentVariable[] {
  return [
    { name: "AZP_URL", value: config.organizationUrl },
    { name: "AZP_POOL", value: config.pool },
    { name: "AZP_AGENT_NAME", value: agentName },
    ...credentialEnvironment(credential),
    { name: "AZP_WORK", value: AGENT_WORK_FOLDER },
    { name: "AZP_ONCE", value: String(config.ephemeral) },
    { name: "AZP_MAX_LIFETIME_MINUTES", value: String(config.maxLifetimeMinutes) },
    // The startup script may carry credentials for installing tools.
    ...(config.startupScript === undefined ? [] : [{ name: "AZP_STARTUP_SCRIPT", secureValue: config.startupScript }]),
    { name: RUN_ID_VARIABLE, value: config.run.runId },
    { name: FLEET_VARIABLE, value: fleetName(config.namePrefix, config.run.runId) },
    ...config.environmentVariables.map(({ name, value }) => ({ name, value })),
  ];
}

function credentialEnvironment(credential: AgentCredential): ContainerEnvironmentVariable[] {
  switch (credential.kind) {
    case "token":
      return [
        { name: "AZP_TOKEN", secureValue: credential.token },
        { name: "AZP_AUTH", value: "PAT" },
      ];
    case "servicePrincipal":
      return [
        { name: "AZP_AUTH", value: "SP" },
        { name: "AZP_TENANT_ID", value: credential.tenantId },
        { name: "AZP_CLIENT_ID", value: credential.clientId },
        { name: "AZP_CLIENT_SECRET", secureValue: credential.clientSecret },
        // Where the agent (Azure.Identity) and start.sh ask Entra for the Azure DevOps token.
        { name: "AZURE_AUTHORITY_HOST", value: credential.authorityHost },
      ];
  }
}

function groupIdentity(identity: AgentIdentity, registry: RegistryAccess | undefined): ContainerGroupIdentity | undefined {
  // ACI pulls with a user-assigned identity only when the group has that identity too.
  const pullIdentity = registry?.kind === "identity" ? [registry.identity] : [];
  const userAssignedIds = uniqueIgnoringCase([...identity.userAssignedIds, ...pullIdentity]);
  const type = identityType(identity.systemAssigned, userAssignedIds.length > 0);
  if (type === undefined) {
    return undefined;
  }
  return {
    type,
    ...(userAssignedIds.length === 0 ? {} : { userAssignedIdentities: Object.fromEntries(userAssignedIds.map((id) => [id, {}])) }),
  };
}

function identityType(systemAssigned: boolean, userAssigned: boolean): ResourceIdentityType | undefined {
  if (systemAssigned && userAssigned) {
    return "SystemAssigned, UserAssigned";
  }
  if (systemAssigned) {
    return "SystemAssigned";
  }
  return userAssigned ? "UserAssigned" : undefined;
}

function registryCredential(registry: RegistryAccess): ImageRegistryCredential {
  return registry.kind === "password"
    ? { server: registry.server, username: registry.username, password: registry.password }
    : { server: registry.server, identity: registry.identity };
}
