import {
  asIs,
  choice,
  bool,
  httpsBaseUrl,
  invalid,
  nonEmpty,
  optional,
  parseInput,
  required,
  valueOf,
  valuesOrThrow,
  wholeNumber,
  withDefault,
  type InputReader,
  type PipelineVariables,
} from "../core/inputSource";
import {
  DEFAULT_IMAGE,
  IMAGE_MODES,
  cpuCores,
  environmentVariables,
  imageReference,
  memoryGB,
  regionName,
  registryAccess,
  subnetIds,
  type EnvironmentVariable,
  type ImageMode,
  type RegistryAccess,
} from "../run/containerInputs";
import { MAX_TIMEOUT_MINUTES, registration, registrationUrlProblems, resourceGroupName, type Registration } from "../run/inputs";

const ACTIONS = ["apply", "delete"] as const;
export type StandbyAction = (typeof ACTIONS)[number];

/** maxReadyCapacity's limit (standbypool 2025-03-01 and Learn's FAQ; 2026-04-01 states no maximum). */
export const MAX_READY_CAPACITY = 2000;

/** AciAgentStandbyPool's inputs, validated and normalised. */
export interface StandbyConfig {
  serviceConnection: string;
  resourceGroup: string;
  /** undefined: the resource group's location. */
  location: string | undefined;
  /** Names both the container group profile and the standby pool. */
  standbyPool: string;
  readyCapacity: number;
  action: StandbyAction;
  /** How long apply waits for the pool's first running instance. */
  timeoutMinutes: number;
  dryRun: boolean;
  /** https, without a trailing slash: where the agent feed is read. */
  organizationUrl: string;
  registration: Registration;
  image: string;
  imageMode: ImageMode;
  /** Only a username and password: a profile has no identity to pull with. */
  registry: Extract<RegistryAccess, { kind: "password" }> | undefined;
  cpu: number;
  memoryGB: number;
  subnetIds: string[];
  environmentVariables: EnvironmentVariable[];
  startupScript: string | undefined;
}

/** Reads, checks and normalises every input; throws one InputError listing every problem found. */
export function parseStandbyInputs(read: InputReader, vars: PipelineVariables): StandbyConfig {
  const fields = {
    serviceConnection: parseInput(read, "azureSubscription", required(asIs)),
    resourceGroup: parseInput(read, "resourceGroup", required(resourceGroupName)),
    location: parseInput(read, "location", optional(regionName)),
    standbyPool: parseInput(read, "standbyPool", required(standbyPoolName)),
    readyCapacity: parseInput(read, "readyCapacity", withDefault(1, wholeNumber(0, MAX_READY_CAPACITY))),
    action: parseInput(read, "action", withDefault("apply", choice(ACTIONS))),
    timeoutMinutes: parseInput(read, "timeoutMinutes", withDefault(10, wholeNumber(1, MAX_TIMEOUT_MINUTES))),
    dryRun: parseInput(read, "dryRun", withDefault(false, bool)),
    organizationUrl: parseInput(read, "organizationUrl", (given) =>
      required(httpsBaseUrl, "required, and System.CollectionUri is not set either")(given ?? nonEmpty(vars.collectionUri)),
    ),
    registration: registration(read),
    image: parseInput(read, "image", optional(imageReference)),
    imageMode: parseInput(read, "imageMode", withDefault("bootstrap", choice(IMAGE_MODES))),
    registry: registryAccess(read),
    cpu: parseInput(read, "cpu", withDefault(2, cpuCores)),
    memoryGB: parseInput(read, "memoryGB", withDefault(4, memoryGB)),
    subnetIds: parseInput(read, "subnetIds", withDefault([], subnetIds)),
    environmentVariables: parseInput(read, "environmentVariables", withDefault([], environmentVariables)),
    startupScript: parseInput(read, "startupScript", optional(asIs)),
  };
  const imageMode = valueOf(fields.imageMode);
  const problems = [
    ...registrationUrlProblems(valueOf(fields.registration), valueOf(fields.organizationUrl), vars.collectionUri),
    ...(imageMode === "prebuilt" && fields.image.ok && (fields.image.value === undefined || fields.image.value === DEFAULT_IMAGE)
      ? ["image: required when imageMode is prebuilt (an image built from the shipped Dockerfile template)"]
      : []),
    // The profile schema (Microsoft.ContainerInstance 2025-09-01) has no identity: nothing in it could pull with one.
    ...(valueOf(fields.registry)?.kind === "identity"
      ? ["registryIdentity: a container group profile has no managed identity to pull with; use registryUsername and registryPassword"]
      : []),
    ...(nonEmpty(read.get("identity")) === undefined
      ? []
      : ["identity: a container group profile has no managed identity (Microsoft.ContainerInstance 2025-09-01), so standby agents cannot have one; leave identity empty"]),
  ];
  const values = valuesOrThrow(fields, problems);
  const registry = values.registry?.kind === "password" ? values.registry : undefined;
  return { ...values, registry, image: values.image ?? DEFAULT_IMAGE };
}

/** Microsoft.StandbyPool's name rule (2026-04-01); the profile's rule is wider, so the name fits both. */
function standbyPoolName(text: string): string {
  if (!/^[a-zA-Z0-9-]{3,24}$/.test(text)) {
    throw invalid(`'${text}' is not a standby pool name (3 to 24 letters, digits and '-')`);
  }
  return text;
}
