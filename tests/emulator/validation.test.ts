import { strict as assert } from "node:assert";
import { ContainerInstanceManagementClient, type ContainerGroup } from "@azure/arm-containerinstance";
import { createHttpHeaders, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import {
  armErrorBody,
  authorizationFailed,
  capacityUnavailable,
  containerGroupNotFound,
  resourceGroupNotFound,
  type ArmError,
} from "../../emulator/arm/errors";
import { isImageReference, validateContainerGroupPut } from "../../emulator/arm/validation";

// The wire shape of a container group PUT, loose enough for tests to break it.
interface EnvironmentVariable {
  name: string;
  value?: string;
  secureValue?: string;
}
interface Amounts {
  cpu?: number;
  memoryInGB?: number;
}
interface Container {
  name?: string;
  properties: {
    image?: string;
    command?: string[];
    ports?: { port: number; protocol?: string }[];
    environmentVariables?: EnvironmentVariable[];
    resources?: { requests?: Amounts; limits?: Amounts };
    volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  };
}
interface Group {
  location?: string;
  tags?: Record<string, string>;
  identity?: { type?: string; userAssignedIdentities?: Record<string, object> };
  properties?: {
    containers?: Container[];
    osType?: string;
    restartPolicy?: string;
    sku?: string;
    priority?: string;
    imageRegistryCredentials?: { server: string; username?: string; password?: string; identity?: string }[];
    volumes?: { name: string; secret?: Record<string, string>; emptyDir?: object }[];
    subnetIds?: { id: string }[];
    ipAddress?: { type: string; ports: { port: number; protocol?: string }[]; dnsNameLabel?: string };
  };
}

const groupName = "azp-agent-42";
const subnetId =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/agents-rg/providers/Microsoft.Network/virtualNetworks/agents/subnets/aci";
const identityId =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/agents-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/agent-pull";

/** A realistic agent group: one container, a secure token, run once, Linux. */
function baseline(): Group {
  return {
    location: "westeurope",
    tags: { "aci-build-agents": "true", pipeline: "build-42" },
    properties: {
      osType: "Linux",
      restartPolicy: "Never",
      containers: [
        {
          name: "azp-agent-42",
          properties: {
            image: "contoso.azurecr.io/azp/agent:3.248.0",
            command: ["/azp/start.sh", "--once"],
            environmentVariables: [
              { name: "AZP_URL", value: "https://dev.azure.com/contoso" },
              { name: "AZP_POOL", value: "aci" },
              { name: "AZP_TOKEN", secureValue: "pat-value" },
            ],
            resources: { requests: { cpu: 1, memoryInGB: 2 } },
            volumeMounts: [{ name: "agent-config", mountPath: "/azp/config", readOnly: true }],
          },
        },
      ],
      imageRegistryCredentials: [{ server: "contoso.azurecr.io", username: "contoso", password: "registry-password" }],
      volumes: [{ name: "agent-config", secret: { "settings.json": Buffer.from('{"pool":"aci"}').toString("base64") } }],
    },
  };
}

/**
 * The body @azure/arm-containerinstance 9.1.0 sends for a typical agent group (captured from the
 * SDK; the test "the SDK still serializes ..." below keeps it honest). Group fields sit under
 * `properties`, identity/location/tags at the top.
 */
const sdkSerializedBody = {
  location: "westeurope",
  tags: { "aci-build-agents": "true", pipeline: "build-42" },
  identity: { type: "UserAssigned", userAssignedIdentities: { [identityId]: {} } },
  properties: {
    containers: [
      {
        name: "azp-agent-42",
        properties: {
          image: "contoso.azurecr.io/azp/agent:3.248.0",
          command: ["/azp/start.sh", "--once"],
          environmentVariables: [
            { name: "AZP_URL", value: "https://dev.azure.com/contoso" },
            { name: "AZP_POOL", value: "aci" },
            { name: "AZP_AGENT_NAME", value: "azp-agent-42" },
            { name: "AZP_TOKEN", secureValue: "pat-value" },
          ],
          resources: { requests: { memoryInGB: 4, cpu: 2 } },
        },
      },
    ],
    imageRegistryCredentials: [{ server: "contoso.azurecr.io", identity: identityId }],
    restartPolicy: "Never",
    osType: "Linux",
    sku: "Standard",
  },
};

/** The same group as the SDK's own model. */
const sdkModel: ContainerGroup = {
  location: "westeurope",
  tags: { "aci-build-agents": "true", pipeline: "build-42" },
  identity: { type: "UserAssigned", userAssignedIdentities: { [identityId]: {} } },
  osType: "Linux",
  restartPolicy: "Never",
  sku: "Standard",
  containers: [
    {
      name: "azp-agent-42",
      image: "contoso.azurecr.io/azp/agent:3.248.0",
      command: ["/azp/start.sh", "--once"],
      resources: { requests: { cpu: 2, memoryInGB: 4 } },
      environmentVariables: [
        { name: "AZP_URL", value: "https://dev.azure.com/contoso" },
        { name: "AZP_POOL", value: "aci" },
        { name: "AZP_AGENT_NAME", value: "azp-agent-42" },
        { name: "AZP_TOKEN", secureValue: "pat-value" },
      ],
    },
  ],
  imageRegistryCredentials: [{ server: "contoso.azurecr.io", identity: identityId }],
};

function props(body: Group): NonNullable<Group["properties"]> {
  if (body.properties === undefined) throw new Error("baseline has properties");
  return body.properties;
}

function container(body: Group, index = 0): Container {
  const found = props(body).containers?.[index];
  if (found === undefined) throw new Error(`baseline has container ${String(index)}`);
  return found;
}

function resources(body: Group): { requests?: Amounts; limits?: Amounts } {
  const found = container(body).properties.resources;
  if (found === undefined) throw new Error("baseline has resources");
  return found;
}

function requests(body: Group): Amounts {
  const found = resources(body).requests;
  if (found === undefined) throw new Error("baseline has requests");
  return found;
}

function environment(body: Group): EnvironmentVariable[] {
  const found = container(body).properties.environmentVariables;
  if (found === undefined) throw new Error("baseline has environment variables");
  return found;
}

function secondContainer(name: string, cpu: number, memoryInGB: number): Container {
  return { name, properties: { image: "busybox:1.36", resources: { requests: { cpu, memoryInGB } } } };
}

function validate(mutate: (body: Group) => void, name = groupName): ArmError | undefined {
  const body = baseline();
  mutate(body);
  return validateContainerGroupPut(name, body);
}

interface Accepted {
  title: string;
  mutate: (body: Group) => void;
  groupName?: string;
}

const accepted: Accepted[] = [
  { title: "the baseline agent group", mutate: () => undefined },
  {
    title: "readOnly members a client echoes back from a GET",
    mutate: (b) => {
      Object.assign(b, { id: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g", name: "g", type: "t" });
      Object.assign(props(b), { provisioningState: "Succeeded", instanceView: { state: "Running", events: [{ name: "Pulled" }] } });
      Object.assign(container(b).properties, { instanceView: { restartCount: 0, currentState: { state: "Running" } } });
      b.identity = { type: "SystemAssigned" };
      Object.assign(b.identity, { principalId: "p", tenantId: "t" });
    },
  },
  { title: "enum values in another case (ACI reads them case-insensitively)", mutate: (b) => Object.assign(props(b), { restartPolicy: "never", osType: "linux" }) },
  { title: "an explicit null for an optional member", mutate: (b) => Object.assign(props(b), { restartPolicy: null }) },
  { title: "an environment variable with neither value nor secureValue", mutate: (b) => environment(b).push({ name: "AZP_WORK" }) },
  {
    title: "a registry credential with a managed identity instead of a password",
    mutate: (b) => {
      b.identity = { type: "UserAssigned", userAssignedIdentities: { [identityId]: {} } };
      props(b).imageRegistryCredentials = [{ server: "contoso.azurecr.io", identity: identityId }];
    },
  },
  {
    title: "a Windows group with Spot priority (Spot supports Windows)",
    mutate: (b) => {
      Object.assign(props(b), { osType: "Windows", priority: "Spot" });
      // Windows groups have no secret volumes.
      delete props(b).volumes;
      delete container(b).properties.volumeMounts;
    },
  },
  { title: "secret file names with a leading dot, digits, '-' and '_'", mutate: (b) => (props(b).volumes = [{ name: "agent-config", secret: { ".agent": "eA==", "credentials_rsaparams-2": "eA==" } }]) },
  { title: "a Linux group in a subnet with a private IP", mutate: (b) => Object.assign(props(b), { subnetIds: [{ id: subnetId }], ipAddress: { type: "Private", ports: [{ port: 80 }] } }) },
  {
    title: "limits between the container's request and the group's total request",
    mutate: (b) => {
      props(b).containers?.push(secondContainer("sidecar", 1, 1));
      resources(b).limits = { cpu: 2, memoryInGB: 3 };
    },
  },
  { title: "exactly the Standard maximum of 4 CPU and 16 GB", mutate: (b) => Object.assign(requests(b), { cpu: 4, memoryInGB: 16 }) },
  { title: "a 63-character group name", mutate: () => undefined, groupName: "a".repeat(63) },
  { title: "a public DNS name label", mutate: (b) => (props(b).ipAddress = { type: "Public", ports: [{ port: 443, protocol: "TCP" }], dnsNameLabel: "contoso-agent-42" }) },
];

interface Rejected {
  title: string;
  mutate: (body: Group) => void;
  groupName?: string;
  status: number;
  code: string;
  /** A substring of the message (the whole message where it is verified). */
  message: string;
}

const rejected: Rejected[] = [
  // ARM envelope
  { title: "no location", mutate: (b) => delete b.location, status: 400, code: "LocationRequired", message: "The location property is required for this definition." },
  { title: "an empty location", mutate: (b) => (b.location = ""), status: 400, code: "LocationRequired", message: "location property is required" },

  // Schema: missing required members
  {
    title: "no properties",
    mutate: (b) => delete b.properties,
    status: 400,
    code: "InvalidRequestContent",
    message: "The request content was invalid and could not be deserialized: 'Required property 'properties' not found in JSON. Path '', line 1",
  },
  { title: "no containers array", mutate: (b) => delete props(b).containers, status: 400, code: "InvalidRequestContent", message: "Required property 'containers' not found in JSON. Path 'properties'" },
  {
    title: "a container without an image",
    mutate: (b) => delete container(b).properties.image,
    status: 400,
    code: "InvalidRequestContent",
    message: "Required property 'image' not found in JSON. Path 'properties.containers[0].properties'",
  },
  { title: "a container without a name", mutate: (b) => delete container(b).name, status: 400, code: "InvalidRequestContent", message: "Required property 'name' not found in JSON. Path 'properties.containers[0]'" },
  {
    title: "a volume mount without a mountPath",
    mutate: (b) => (container(b).properties.volumeMounts = [{ name: "agent-config" } as { name: string; mountPath: string }]),
    status: 400,
    code: "InvalidRequestContent",
    message: "Required property 'mountPath' not found in JSON. Path 'properties.containers[0].properties.volumeMounts[0]'",
  },
  {
    title: "a subnet id entry without id",
    mutate: (b) => (props(b).subnetIds = [{ name: "aci" } as unknown as { id: string }]),
    status: 400,
    code: "InvalidRequestContent",
    message: "Required property 'id' not found in JSON. Path 'properties.subnetIds[0]'",
  },
  {
    title: "no osType (ACI's own check)",
    mutate: (b) => delete props(b).osType,
    status: 400,
    code: "InvalidOsType",
    message: "The 'osType' for container group '<null>' is invalid. The value must be one of 'Windows,Linux'.",
  },
  {
    title: "no resources (ACI's own check)",
    mutate: (b) => delete container(b).properties.resources,
    status: 400,
    code: "ResourceRequestsNotSpecified",
    message:
      "The resource requests are not specified in container 'azp-agent-42' of contain group 'azp-agent-42'. Both memory and CPU requests are required since API version '2017-07-01-preview'.",
  },
  { title: "no resource requests", mutate: (b) => delete resources(b).requests, status: 400, code: "ResourceRequestsNotSpecified", message: "The resource requests are not specified" },
  {
    title: "a memory request missing",
    mutate: (b) => delete requests(b).memoryInGB,
    status: 400,
    code: "ResourceSomeRequestsNotSpecified",
    message: "The 'MemoryInGB' request is not specified in 'Microsoft.Azure.CloudConsole.Providers.Common.Entities.ComputeResources' in container 'azp-agent-42'",
  },
  { title: "a CPU request missing", mutate: (b) => delete requests(b).cpu, status: 400, code: "ResourceSomeRequestsNotSpecified", message: "The 'Cpu' request is not specified" },

  // Schema: unknown members
  {
    title: "identity put inside properties (a real mistake)",
    mutate: (b) => Object.assign(props(b), { identity: { type: "SystemAssigned" } }),
    status: 400,
    code: "InvalidRequestContent",
    message: "Could not find member 'identity' on object of type 'ContainerGroupPropertiesDefinition'. Path 'properties.identity', line 1, position",
  },
  {
    title: "cpu put directly on the container properties",
    mutate: (b) => Object.assign(container(b).properties, { cpu: 1 }),
    status: 400,
    code: "InvalidRequestContent",
    message: "Could not find member 'cpu' on object of type 'ContainerPropertiesDefinition'. Path 'properties.containers[0].properties.cpu'",
  },
  { title: "an unknown top-level member", mutate: (b) => Object.assign(b, { kind: "agent" }), status: 400, code: "InvalidRequestContent", message: "Could not find member 'kind' on object of type 'ContainerGroupDefinition'. Path 'kind'" },
  {
    title: "an unknown member in an environment variable",
    mutate: (b) => Object.assign(environment(b)[0] ?? {}, { secret: true }),
    status: 400,
    code: "InvalidRequestContent",
    message: "Could not find member 'secret' on object of type 'ContainerEnvironmentVariable'",
  },
  {
    title: "a non-empty emptyDir volume",
    mutate: (b) => props(b).volumes?.push({ name: "scratch", emptyDir: { sizeLimit: "1Gi" } }),
    status: 400,
    code: "InvalidRequestContent",
    message: "Could not find member 'sizeLimit' on object of type 'EmptyDirVolume'. Path 'properties.volumes[1].emptyDir.sizeLimit'",
  },

  // Schema: enums
  { title: "restartPolicy Sometimes", mutate: (b) => (props(b).restartPolicy = "Sometimes"), status: 400, code: "InvalidRequestContent", message: "Error converting value \"Sometimes\" to type 'ContainerGroupRestartPolicy'. Path 'properties.restartPolicy'" },
  { title: "osType Mac", mutate: (b) => (props(b).osType = "Mac"), status: 400, code: "InvalidOsType", message: "The 'osType' for container group '<null>' is invalid. The value must be one of 'Windows,Linux'." },
  { title: "priority Low", mutate: (b) => (props(b).priority = "Low"), status: 400, code: "InvalidRequestContent", message: "Error converting value \"Low\" to type 'ContainerGroupPriority'. Path 'properties.priority'" },
  { title: "sku Premium", mutate: (b) => (props(b).sku = "Premium"), status: 400, code: "InvalidRequestContent", message: "Error converting value \"Premium\" to type 'ContainerGroupSku'. Path 'properties.sku'" },
  { title: "identity type Managed", mutate: (b) => (b.identity = { type: "Managed" }), status: 400, code: "InvalidRequestContent", message: "Error converting value \"Managed\" to type 'ResourceIdentityType'. Path 'identity.type'" },
  {
    title: "a port protocol SCTP",
    mutate: (b) => (container(b).properties.ports = [{ port: 80, protocol: "SCTP" }]),
    status: 400,
    code: "InvalidRequestContent",
    message: "Error converting value \"SCTP\" to type 'ContainerNetworkProtocol'. Path 'properties.containers[0].properties.ports[0].protocol'",
  },
  {
    title: "an IP address type Internal",
    mutate: (b) => (props(b).ipAddress = { type: "Internal", ports: [{ port: 80 }] }),
    status: 400,
    code: "InvalidRequestContent",
    message: "Error converting value \"Internal\" to type 'ContainerGroupIpAddressType'",
  },

  // Schema: wrong JSON types
  { title: "cpu as a word", mutate: (b) => Object.assign(requests(b), { cpu: "two" }), status: 400, code: "InvalidRequestContent", message: "Could not convert string to double: two. Path 'properties.containers[0].properties.resources.requests.cpu'" },
  {
    title: "environmentVariables as an object",
    mutate: (b) => Object.assign(container(b).properties, { environmentVariables: { AZP_URL: "x" } }),
    status: 400,
    code: "InvalidRequestContent",
    message: "Cannot deserialize the current JSON object (e.g. {\"name\":\"value\"}) into type 'ContainerEnvironmentVariable[]'",
  },
  { title: "an image as a number", mutate: (b) => Object.assign(container(b).properties, { image: 5 }), status: 400, code: "InvalidRequestContent", message: "Error converting value 5 to type 'System.String'. Path 'properties.containers[0].properties.image'" },
  { title: "a tag value as a number", mutate: (b) => Object.assign(b, { tags: { build: 42 } }), status: 400, code: "InvalidRequestContent", message: "Error converting value 42 to type 'System.String'. Path 'tags.build'" },
  { title: "command as a string", mutate: (b) => Object.assign(container(b).properties, { command: "/azp/start.sh" }), status: 400, code: "InvalidRequestContent", message: "Path 'properties.containers[0].properties.command'" },
  { title: "a fractional port", mutate: (b) => (container(b).properties.ports = [{ port: 80.5 }]), status: 400, code: "InvalidRequestContent", message: "Input string '80.5' is not a valid integer." },
  { title: "a port beyond Int32", mutate: (b) => (container(b).properties.ports = [{ port: 99999999999 }]), status: 400, code: "InvalidRequestContent", message: "JSON integer 99999999999 is too large or small for an Int32." },
  { title: "osType as a number (ACI's own check)", mutate: (b) => Object.assign(props(b), { osType: 1 }), status: 400, code: "InvalidOsType", message: "The 'osType' for container group" },

  // Group and container names
  {
    title: "a group name with an underscore",
    mutate: () => undefined,
    groupName: "azp_agent",
    status: 400,
    code: "InvalidContainerGroupName",
    message: "The container group name 'azp_agent' is invalid.",
  },
  { title: "a 64-character group name", mutate: () => undefined, groupName: "a".repeat(64), status: 400, code: "InvalidContainerGroupName", message: "no more than 63 characters" },
  { title: "a group name ending with a hyphen", mutate: () => undefined, groupName: "agent-", status: 400, code: "InvalidContainerGroupName", message: "'agent-'" },
  {
    title: "a container name with capitals",
    mutate: (b) => (container(b).name = "Agent"),
    status: 400,
    code: "InvalidContainerName",
    message:
      "The container name 'Agent' in container group 'azp-agent-42' is invalid. The container name must contain no more than 63 characters and must match the regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?' (e.g. 'my-name').",
  },
  { title: "a 64-character container name", mutate: (b) => (container(b).name = "a".repeat(64)), status: 400, code: "InvalidContainerName", message: "is invalid" },
  { title: "an empty container name", mutate: (b) => (container(b).name = ""), status: 400, code: "InvalidContainerName", message: "The container name ''" },
  { title: "no containers", mutate: (b) => (props(b).containers = []), status: 400, code: "ContainersNotSpecified", message: "At least one container is required." },
  {
    title: "two containers with one name",
    mutate: (b) => props(b).containers?.push(secondContainer("azp-agent-42", 0.5, 0.5)),
    status: 400,
    code: "DuplicateContainerName",
    message: "The container name 'azp-agent-42' is used more than once",
  },

  // Images
  { title: "an image with capitals in the repository", mutate: (b) => (container(b).properties.image = "contoso.azurecr.io/AZP/Agent:1"), status: 400, code: "InaccessibleImage", message: "The image 'contoso.azurecr.io/AZP/Agent:1' in container group 'azp-agent-42' is not accessible. Please check the image and registry credential." },
  { title: "an image with a URL scheme", mutate: (b) => (container(b).properties.image = "https://contoso.azurecr.io/azp/agent:1"), status: 400, code: "InaccessibleImage", message: "is not accessible" },
  { title: "an image with a short digest", mutate: (b) => (container(b).properties.image = "alpine@sha256:abc123"), status: 400, code: "InaccessibleImage", message: "'alpine@sha256:abc123'" },
  { title: "an empty image", mutate: (b) => (container(b).properties.image = ""), status: 400, code: "InaccessibleImage", message: "The image ''" },

  // Resources
  { title: "zero CPU", mutate: (b) => (requests(b).cpu = 0), status: 400, code: "InvalidContainerResourceRequest", message: "The 'Cpu' request value must be greater than 0." },
  { title: "negative memory", mutate: (b) => (requests(b).memoryInGB = -1), status: 400, code: "InvalidContainerResourceRequest", message: "The 'MemoryInGB' request value must be greater than 0." },
  {
    title: "4.5 CPU in a Standard Linux group",
    mutate: (b) => (requests(b).cpu = 4.5),
    status: 409,
    code: "ServiceUnavailable",
    message:
      "The requested resource is not available in the location 'westeurope' at this moment. Please retry with a different resource request or in another location. Resource requested: '4.5' CPU '2' GB memory 'Linux' OS",
  },
  { title: "16.5 GB in a Standard Linux group", mutate: (b) => (requests(b).memoryInGB = 16.5), status: 409, code: "ServiceUnavailable", message: "Resource requested: '1' CPU '16.5' GB memory 'Linux' OS" },
  {
    title: "5 CPU over two containers",
    mutate: (b) => {
      requests(b).cpu = 3;
      props(b).containers?.push(secondContainer("sidecar", 2, 1));
    },
    status: 409,
    code: "ServiceUnavailable",
    message: "Resource requested: '5' CPU '3' GB memory 'Linux' OS",
  },
  {
    title: "too much CPU in a subnet",
    mutate: (b) => {
      requests(b).cpu = 8;
      props(b).subnetIds = [{ id: subnetId }];
    },
    status: 409,
    code: "ServiceUnavailable",
    message: "'Linux' OS virtual network",
  },
  {
    title: "memory not in steps of 0.1 GB",
    mutate: (b) => (requests(b).memoryInGB = 1.25),
    status: 400,
    code: "InvalidMemoryRequirement",
    message: "The memory requirement is '1.25' in container 'azp-agent-42' of container group 'azp-agent-42'. The memory requirement should be in increments of 0.1 GB.",
  },
  {
    title: "a memory limit below the request",
    mutate: (b) => (resources(b).limits = { memoryInGB: 1 }),
    status: 400,
    code: "ResourceLimitsLessThanRequests",
    message:
      "The resource requirement '{\"requests\":{\"memoryInGB\":2.0,\"cpu\":1.0},\"limits\":{\"memoryInGB\":1.0}}' in container 'azp-agent-42' of contain group 'azp-agent-42' is invalid. The 'MemoryInGB' limit value must be greater than or equal to the request value.",
  },
  {
    title: "a CPU limit above the group's total request",
    mutate: (b) => (resources(b).limits = { cpu: 1.5 }),
    status: 400,
    code: "ContainerLimitGreaterThanContainerGroupTotalRequest",
    message: "The 'Cpu' limit '1.5' in container 'azp-agent-42' is greater than the total request '1' of container group 'azp-agent-42'.",
  },
  { title: "a zero CPU limit", mutate: (b) => (resources(b).limits = { cpu: 0 }), status: 400, code: "InvalidContainerResourceRequest", message: "The 'Cpu' limit value must be greater than 0." },

  // Environment variables
  {
    title: "an environment variable without a name",
    mutate: (b) => environment(b).push({ name: "", value: "x" }),
    status: 400,
    code: "InvalidContainerEnvironmentVariable",
    message:
      "The environment variable name in container 'azp-agent-42' of container group 'azp-agent-42' is invalid. A valid environment variable name must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName').",
  },
  { title: "an environment variable name with a dot", mutate: (b) => environment(b).push({ name: "discovery.type", value: "single-node" }), status: 400, code: "InvalidContainerEnvironmentVariable", message: "is invalid" },
  { title: "an environment variable defined twice", mutate: (b) => environment(b).push({ name: "AZP_POOL", value: "other" }), status: 400, code: "DuplicateContainerEnvironmentVariable", message: "'AZP_POOL' is defined more than once" },
  { title: "both value and secureValue", mutate: (b) => environment(b).push({ name: "AZP_PASSWORD", value: "a", secureValue: "b" }), status: 400, code: "InvalidContainerEnvironmentVariableValue", message: "has both 'value' and 'secureValue'" },

  // Networking and priority
  { title: "a Windows group in a subnet", mutate: (b) => Object.assign(props(b), { osType: "Windows", subnetIds: [{ id: subnetId }] }), status: 400, code: "UnsupportedOsTypeForVirtualNetwork", message: "only Linux container groups can be deployed into a virtual network" },
  { title: "a Spot group in a subnet", mutate: (b) => Object.assign(props(b), { priority: "Spot", subnetIds: [{ id: subnetId }] }), status: 400, code: "UnsupportedPriorityForVirtualNetwork", message: "Spot container groups cannot be deployed into a virtual network" },
  {
    title: "a private IP outside a subnet",
    mutate: (b) => (props(b).ipAddress = { type: "Private", ports: [{ port: 80 }] }),
    status: 400,
    code: "PrivateIPAddressNotSupported",
    message: "IP Address type in container group 'azp-agent-42' is invalid. Private IP address is only supported when network profile is defined.",
  },
  {
    title: "a DNS name label with capitals",
    mutate: (b) => (props(b).ipAddress = { type: "Public", ports: [{ port: 80 }], dnsNameLabel: "Teste" }),
    status: 400,
    code: "InvalidDnsNameLabel",
    message:
      "The DNS name label 'Teste' in container group 'azp-agent-42' is invalid. It can contain only lowercase letters, numbers and hyphens. The first character must be a letter. The last character must be a letter or number. The value must be between 5 and 63 characters long.",
  },

  // Volumes
  { title: "a secret that is not base64", mutate: (b) => (props(b).volumes = [{ name: "agent-config", secret: { "settings.json": "{\"pool\":\"aci\"}" } }]), status: 400, code: "InvalidSecretVolumeValue", message: "secret 'settings.json' in secret volume 'agent-config'" },
  { title: "two volumes with one name", mutate: (b) => props(b).volumes?.push({ name: "agent-config", emptyDir: {} }), status: 400, code: "DuplicateVolumeName", message: "The volume name 'agent-config' is used more than once" },
  {
    title: "a secret volume on a Windows group",
    mutate: (b) => (props(b).osType = "Windows"),
    status: 400,
    code: "SecretVolumesNotSupportedOnWindows",
    message: "Secret volumes are not supported for Windows container groups.",
  },
  {
    title: "an emptyDir volume on a Windows group",
    mutate: (b) => {
      props(b).osType = "Windows";
      props(b).volumes = [{ name: "agent-config", emptyDir: {} }];
    },
    status: 400,
    code: "EmptyDirVolumesNotSupportedOnWindows",
    message: "EmptyDir volumes are not supported for Windows container groups.",
  },
  { title: "a secret file name with a slash", mutate: (b) => (props(b).volumes = [{ name: "agent-config", secret: { "../agent": "eA==" } }]), status: 400, code: "InvalidSecretVolumeFileName", message: "The secret name '../agent' in secret volume 'agent-config'" },
  { title: "a secret file name '..'", mutate: (b) => (props(b).volumes = [{ name: "agent-config", secret: { "..": "eA==" } }]), status: 400, code: "InvalidSecretVolumeFileName", message: "is invalid" },
  {
    title: "a volume mount of an undeclared volume",
    mutate: (b) => (container(b).properties.volumeMounts = [{ name: "work", mountPath: "/azp/_work" }]),
    status: 400,
    code: "InvalidVolumeMount",
    message: "The volume mount 'work' in container 'azp-agent-42'",
  },

  // Registry credentials
  { title: "a registry credential without password or identity", mutate: (b) => (props(b).imageRegistryCredentials = [{ server: "contoso.azurecr.io", username: "contoso" }]), status: 400, code: "InvalidImageRegistryPassword", message: "The password in the 'imageRegistryCredentials' of container group 'azp-agent-42' cannot be empty." },
  { title: "a registry credential with an empty password", mutate: (b) => (props(b).imageRegistryCredentials = [{ server: "contoso.azurecr.io", username: "contoso", password: "" }]), status: 400, code: "InvalidImageRegistryPassword", message: "cannot be empty" },
  {
    title: "a registry server with a scheme",
    mutate: (b) => (props(b).imageRegistryCredentials = [{ server: "https://contoso.azurecr.io", username: "u", password: "p" }]),
    status: 400,
    code: "InvalidImageRegistryServer",
    message: "The server 'https://contoso.azurecr.io' in the 'imageRegistryCredentials' of container group 'azp-agent-42' is invalid. It should be a valid host name without protocol.",
  },
  { title: "a template placeholder as registry server", mutate: (b) => (props(b).imageRegistryCredentials = [{ server: "<registry-name>", username: "u", password: "p" }]), status: 400, code: "InvalidImageRegistryServer", message: "The server '<registry-name>'" },
  {
    title: "more registry credentials than containers",
    mutate: (b) => props(b).imageRegistryCredentials?.push({ server: "docker.io", username: "u", password: "p" }),
    status: 400,
    code: "MoreImageRegistryCredentialsThanContainers",
    message: "More image registry credentials provided than containers in container group 'azp-agent-42'.",
  },

  // Identity
  { title: "UserAssigned without identities", mutate: (b) => (b.identity = { type: "UserAssigned" }), status: 400, code: "InvalidIdentity", message: "requires at least one user assigned identity" },
  { title: "SystemAssigned, UserAssigned with an empty map", mutate: (b) => (b.identity = { type: "SystemAssigned, UserAssigned", userAssignedIdentities: {} }), status: 400, code: "InvalidIdentity", message: "'SystemAssigned, UserAssigned'" },
  {
    title: "a managed identity on a Windows group",
    mutate: (b) => {
      b.identity = { type: "SystemAssigned" };
      props(b).osType = "Windows";
    },
    status: 400,
    code: "UnsupportedManagedIdentity",
    message: "Managed service identity is not supported for Windows container groups.",
  },

  // Which problem is reported first
  {
    title: "osType before resource requests (the order real ACI reports them in)",
    mutate: (b) => {
      delete props(b).osType;
      delete container(b).properties.resources;
    },
    status: 400,
    code: "InvalidOsType",
    message: "'osType'",
  },
  {
    title: "deserialization before ACI's own checks",
    mutate: (b) => {
      delete props(b).osType;
      props(b).restartPolicy = "Sometimes";
    },
    status: 400,
    code: "InvalidRequestContent",
    message: "ContainerGroupRestartPolicy",
  },
  {
    title: "the first problem in the body wins",
    mutate: (b) => {
      Object.assign(b, { kind: "agent" });
      delete container(b).properties.image;
    },
    status: 400,
    code: "InvalidRequestContent",
    message: "Required property 'image'",
  },
  {
    title: "an invalid container name before an invalid group name",
    mutate: (b) => (container(b).name = "Agent"),
    groupName: "Agent",
    status: 400,
    code: "InvalidContainerName",
    message: "The container name 'Agent'",
  },
];

describe("emulator ARM validation: container group PUT", () => {
  describe("accepts", () => {
    for (const row of accepted) {
      it(row.title, () => {
        assert.equal(validate(row.mutate, row.groupName), undefined);
      });
    }

    it("the body @azure/arm-containerinstance 9.x sends for a typical group", () => {
      assert.equal(validateContainerGroupPut(groupName, structuredClone(sdkSerializedBody)), undefined);
    });

    it("a real PUT response (Azure CLI recording) sent back as a request", () => {
      const recorded: unknown = JSON.parse(
        '{"properties":{"provisioningState":"Pending","containers":[{"name":"clicontainer000002","properties":{"image":"alpine:latest",' +
          '"command":["/bin/sh","-c","while true; do echo hello; sleep 20; done"],"ports":[{"protocol":"TCP","port":8000}],' +
          '"environmentVariables":[{"name":"KEY1","value":"VALUE1"}],"resources":{"requests":{"memoryInGB":1.0,"cpu":1.0}},' +
          '"volumeMounts":[{"name":"secrets","mountPath":"/s"}]}}],"restartPolicy":"Never","osType":"Linux",' +
          '"volumes":[{"name":"secrets","secret":{}}],"instanceView":{"events":[],"state":"Pending"}},' +
          '"id":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/clitest.rg000001/providers/Microsoft.ContainerInstance/containerGroups/clicontainer000002",' +
          '"name":"clicontainer000002","type":"Microsoft.ContainerInstance/containerGroups","location":"westus","tags":{}}',
      );
      assert.equal(validateContainerGroupPut("clicontainer000002", recorded), undefined);
    });

    it("the SDK still serializes the typical group exactly like that", async () => {
      let sent = "";
      const httpClient: HttpClient = {
        sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
          sent = typeof request.body === "string" ? request.body : "";
          // Stop the long-running operation at once: the test only needs the request.
          return Promise.resolve({ request, status: 400, headers: createHttpHeaders({ "content-type": "application/json" }), bodyAsText: '{"error":{"code":"Stop","message":"stop"}}' });
        },
      };
      const credential = { getToken: () => Promise.resolve({ token: "token", expiresOnTimestamp: Date.now() + 3_600_000 }) };
      const client = new ContainerInstanceManagementClient(credential, "00000000-0000-0000-0000-000000000000", { httpClient });
      await assert.rejects(client.containerGroups.beginCreateOrUpdate("agents-rg", groupName, sdkModel));
      assert.deepEqual(JSON.parse(sent), sdkSerializedBody);
      assert.equal(validateContainerGroupPut(groupName, JSON.parse(sent)), undefined);
    });
  });

  describe("rejects", () => {
    for (const row of rejected) {
      it(`${row.title} → ${String(row.status)} ${row.code}`, () => {
        const error = validate(row.mutate, row.groupName);
        assert.ok(error !== undefined, "expected the body to be rejected");
        assert.equal(error.code, row.code, error.message);
        assert.equal(error.status, row.status);
        assert.ok(error.message.includes(row.message), `message was: ${error.message}`);
      });
    }

    it("a body that is no JSON object", () => {
      assert.equal(validateContainerGroupPut(groupName, undefined)?.code, "InvalidRequestContent");
      assert.equal(validateContainerGroupPut(groupName, [baseline()])?.code, "InvalidRequestContent");
      assert.equal(validateContainerGroupPut(groupName, "{}")?.status, 400);
    });

    it("reports the path and position in the compact body, as ARM does", () => {
      assert.deepEqual(validateContainerGroupPut(groupName, { location: "westus2" }), {
        status: 400,
        code: "InvalidRequestContent",
        message: "The request content was invalid and could not be deserialized: 'Required property 'properties' not found in JSON. Path '', line 1, position 22.'.",
      });
      const error = validate((b) => Object.assign(props(b), { identity: {} }));
      const body = JSON.stringify({ ...baseline(), properties: { ...props(baseline()), identity: {} } });
      const position = body.indexOf('"identity":') + '"identity":'.length;
      assert.ok(error !== undefined);
      assert.equal(error.target, "properties.identity");
      assert.ok(error.message.endsWith(`Path 'properties.identity', line 1, position ${String(position)}.'.`), error.message);
    });
  });

  it("reads image references like docker does", () => {
    const good = [
      "alpine",
      "alpine:3.19",
      "library/ubuntu:22.04",
      "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-20.04",
      "localhost:5000/team/app_v2:1.0",
      `ghcr.io/contoso/agent@sha256:${"a".repeat(64)}`,
      `contoso.azurecr.io/azp/agent:3.248.0@sha256:${"0".repeat(64)}`,
    ];
    const bad = ["", "Alpine", "alpine:", "alpine:-x", "contoso.azurecr.io/", "a b", "alpine@sha256:XYZ", `alpine@sha256:${"a".repeat(63)}`, `a/${"b".repeat(256)}`];
    for (const reference of good) assert.ok(isImageReference(reference), reference);
    for (const reference of bad) assert.ok(!isImageReference(reference), reference);
  });
});

describe("emulator ARM errors", () => {
  it("serializes as {error:{code,message}} without the status", () => {
    assert.deepEqual(armErrorBody(resourceGroupNotFound("agents-rg")), { error: { code: "ResourceGroupNotFound", message: "Resource group 'agents-rg' could not be found." } });
    assert.equal(resourceGroupNotFound("agents-rg").status, 404);
  });

  it("names the missing container group like ARM", () => {
    const error = containerGroupNotFound("agents-rg", "azp-agent-42");
    assert.equal(error.status, 404);
    assert.equal(error.code, "ResourceNotFound");
    assert.equal(
      error.message,
      "The Resource 'Microsoft.ContainerInstance/containerGroups/azp-agent-42' under resource group 'agents-rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    );
  });

  it("words an authorization failure like ARM", () => {
    const error = authorizationFailed({
      clientId: "11111111-1111-1111-1111-111111111111",
      objectId: "22222222-2222-2222-2222-222222222222",
      action: "Microsoft.ContainerInstance/containerGroups/write",
      scope: "/subscriptions/s/resourceGroups/agents-rg/providers/Microsoft.ContainerInstance/containerGroups/azp-agent-42",
    });
    assert.equal(error.status, 403);
    assert.equal(error.code, "AuthorizationFailed");
    assert.ok(error.message.startsWith("The client '11111111-1111-1111-1111-111111111111' with object id '22222222-2222-2222-2222-222222222222' does not have authorization to perform action 'Microsoft.ContainerInstance/containerGroups/write' over scope '/subscriptions/s/"));
    assert.ok(error.message.endsWith("or the scope is invalid. If access was recently granted, please refresh your credentials."));
  });

  it("keeps target and details when set", () => {
    const body = armErrorBody({ status: 400, code: "C", message: "m", target: "t", details: [{ code: "D", message: "n" }] });
    assert.deepEqual(body, { error: { code: "C", message: "m", target: "t", details: [{ code: "D", message: "n" }] } });
  });

  it("words a capacity shortfall like ACI, with 'virtual network' for subnets", () => {
    const error = capacityUnavailable({ location: "westus", cpu: 4, memoryInGB: 16, osType: "Linux", virtualNetwork: true });
    assert.equal(error.status, 409);
    assert.equal(
      error.message,
      "The requested resource is not available in the location 'westus' at this moment. Please retry with a different resource request or in another location. Resource requested: '4' CPU '16' GB memory 'Linux' OS virtual network",
    );
  });
});
