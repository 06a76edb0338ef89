import type {
  Container,
  ContainerGroup,
  ContainerGroupIdentity,
  EnvironmentVariable as ContainerEnvironmentVariable,
  ImageRegistryCredential,
  ResourceIdentityType,
} from "@azure/arm-containerinstance";
import { uniqueIgnoringCase } from "../core/inputSource";
import type { AgentPackage } from "../devops/client";
import type { IdentityFileName } from "../run/agentIdentity";
import type { AgentCredential } from "../run/inputs";
import type { AgentIdentity, RegistryAccess, StartConfig } from "./inputs";
import { FLEET_VARIABLE, RUN_ID_VARIABLE, fleetName } from "../run/names";
import { NEVER_EXPIRES, OWN_TAGS } from "../run/tags";

/** An agent whose name and tags are decided before anything is created. */
export interface PlannedAgent {
  name: string;
  tags: Record<string, string>;
}

/** The agent packages the step read from the feed; a container picks the one its C library runs. */
export interface AgentPackages {
  glibc: AgentPackage;
  musl: AgentPackage | undefined;
}

/**
 * What the container gets to run its agent. identity: the agent the step registered, as its three
 * files (the Linux way: no credential that can register anything). token: the documented token
 * path, for Windows images and for a dry run's template, whose agent registers itself.
 */
export type AgentAccess =
  | { kind: "identity"; files: Record<IdentityFileName, string>; packages: AgentPackages }
  | AgentCredential;

/** Relative to the agent's own folder, as the agent's config.sh expects. */
export const AGENT_WORK_FOLDER = "_work";
/** The ACI secret volume with the agent's files, mounted read-only where the bootstrap reads them. */
export const IDENTITY_VOLUME = "agent-identity";
export const IDENTITY_MOUNT_PATH = "/mnt/aci-agent-identity";

/** The container group running one agent; the container is named like the group. */
export function containerGroupFor(
  config: StartConfig,
  agent: PlannedAgent,
  location: string,
  bootstrapScript: string,
  access: AgentAccess,
): ContainerGroup {
  const identity = groupIdentity(config.identity, config.registry);
  return {
    name: agent.name,
    location,
    tags: agent.tags,
    ...(identity === undefined ? {} : { identity }),
    osType: config.osType,
    priority: config.priority,
    restartPolicy: restartPolicyOf(config, access),
    containers: [agentContainer(config, agent, bootstrapScript, access)],
    ...(access.kind === "identity" ? { volumes: [{ name: IDENTITY_VOLUME, secret: base64Files(access.files) }] } : {}),
    ...(config.registry === undefined ? {} : { imageRegistryCredentials: [registryCredential(config.registry)] }),
    ...(config.subnetIds.length === 0 ? {} : { subnetIds: config.subnetIds.map((id) => ({ id })) }),
  };
}

/**
 * A long-lived agent that crashes comes back with the same identity: its files hold nothing its
 * jobs could not read already. An ephemeral agent must not take a second job, and the token path
 * would hand its registration secret again to a container its jobs could have changed.
 */
function restartPolicyOf(config: StartConfig, access: AgentAccess): "Never" | "OnFailure" {
  return access.kind === "identity" && !config.ephemeral ? "OnFailure" : "Never";
}

function agentContainer(config: StartConfig, agent: PlannedAgent, bootstrapScript: string, access: AgentAccess): Container {
  return {
    name: agent.name,
    image: config.image,
    resources: { requests: { cpu: config.cpu, memoryInGB: config.memoryGB } },
    environmentVariables: agentEnvironment(config, agent, access),
    ...(access.kind === "identity" ? { volumeMounts: [{ name: IDENTITY_VOLUME, mountPath: IDENTITY_MOUNT_PATH, readOnly: true }] } : {}),
    // The bootstrap script travels as an argument of the command rather than in a volume: any
    // image with /bin/sh runs it, and it holds no secret (the user's startup script is a secure
    // environment value), so it may show in the definition. start.sh re-executes itself from its
    // file to drop secure values from its environment, so the command first writes it to a file.
    // A prebuilt image brings its own entrypoint.
    ...(config.imageMode === "bootstrap" ? { command: bootstrapCommand(bootstrapScript) } : {}),
  };
}

function base64Files(files: Record<IdentityFileName, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([name, text]) => [name, Buffer.from(text, "utf8").toString("base64")]));
}

/**
 * `sh -c` writes the script (its $1) to a file and runs it from there. The script travels without
 * its comment lines, a third of start.sh: ARM keeps the command and sends it back in every answer
 * about the group (the create or claim, each read while its agent starts, each list of the
 * resource group), so the comments would ride along with every one of them.
 */
export function bootstrapCommand(bootstrapScript: string): string[] {
  return [
    "/bin/sh",
    "-c",
    'script="${TMPDIR:-/tmp}/aci-agent-start.sh" && printf \'%s\\n\' "$1" >"$script" && exec /bin/sh "$script"',
    "aci-agent-bootstrap",
    withoutCommentLines(bootstrapScript),
  ];
}

/**
 * The script without the lines that hold only a comment. Sound for start.sh because none of its
 * strings or here-documents has a line that starts with `#`; a unit test holds it to that by
 * comparing the program bash parses from each.
 */
function withoutCommentLines(script: string): string {
  return script
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n");
}

function agentEnvironment(config: StartConfig, agent: PlannedAgent, access: AgentAccess): ContainerEnvironmentVariable[] {
  return [
    { name: "AZP_URL", value: config.organizationUrl },
    { name: "AZP_POOL", value: config.pool },
    { name: "AZP_AGENT_NAME", value: agent.name },
    ...(access.kind === "identity" ? identityEnvironment(access.packages) : tokenEnvironment(access)),
    { name: "AZP_WORK", value: AGENT_WORK_FOLDER },
    { name: "AZP_ONCE", value: String(config.ephemeral) },
    { name: "AZP_MAX_LIFETIME_MINUTES", value: String(config.maxLifetimeMinutes) },
    // Absolute, so that a restarted container keeps the end its agent was given.
    { name: "AZP_EXPIRES_AT", value: agent.tags[OWN_TAGS.expires] ?? NEVER_EXPIRES },
    // The startup script may carry credentials for installing tools.
    ...(config.startupScript === undefined ? [] : [{ name: "AZP_STARTUP_SCRIPT", secureValue: config.startupScript }]),
    { name: RUN_ID_VARIABLE, value: config.run.runId },
    { name: FLEET_VARIABLE, value: fleetName(config.namePrefix, config.run.runId) },
    ...config.environmentVariables.map(({ name, value }) => ({ name, value })),
  ];
}

function identityEnvironment(packages: AgentPackages): ContainerEnvironmentVariable[] {
  return [
    { name: "AZP_IDENTITY_DIR", value: IDENTITY_MOUNT_PATH },
    { name: "AZP_AGENT_PACKAGE_URL", value: packages.glibc.downloadUrl },
    { name: "AZP_AGENT_PACKAGE_SHA256", value: packages.glibc.hashValue },
    ...(packages.musl === undefined
      ? []
      : [
          { name: "AZP_AGENT_MUSL_PACKAGE_URL", value: packages.musl.downloadUrl },
          { name: "AZP_AGENT_MUSL_PACKAGE_SHA256", value: packages.musl.hashValue },
        ]),
  ];
}

function tokenEnvironment(credential: AgentCredential): ContainerEnvironmentVariable[] {
  return [
    { name: "AZP_TOKEN", secureValue: credential.token },
    { name: "AZP_AUTH", value: "PAT" },
  ];
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
