import {
  asIs,
  assignment,
  bool,
  choice,
  httpsBaseUrl,
  invalid,
  nonBlankLines,
  nonEmpty,
  optional,
  parseEach,
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
  MAX_TIMEOUT_MINUTES,
  namePrefix,
  poolName,
  registration,
  registrationUrlProblems,
  resourceGroupName,
  runIdentity,
  type Registration,
} from "../run/inputs";
import {
  DEFAULT_IMAGE,
  IMAGE_MODES,
  agentIdentity,
  cpuCores,
  environmentVariables,
  imageReference,
  memoryGB,
  regionName,
  regionNames,
  registryAccess,
  subnetIds,
  type AgentIdentity,
  type EnvironmentVariable,
  type ImageMode,
  type RegistryAccess,
} from "../run/containerInputs";
import { MAX_NAME_LENGTH, agentName, runTagValue, type RunIdentity } from "../run/names";

export { DEFAULT_IMAGE, type AgentIdentity, type EnvironmentVariable, type ImageMode, type RegistryAccess };
import { MAX_TAGS_PER_RESOURCE, MAX_TAG_NAME_LENGTH, MAX_TAG_VALUE_LENGTH, OWN_TAGS, RESERVED_TAG_PREFIX } from "../run/tags";

const OS_TYPES = ["Linux", "Windows"] as const;
const PRIORITIES = ["Regular", "Spot"] as const;

export type OsType = (typeof OS_TYPES)[number];
export type Priority = (typeof PRIORITIES)[number];

/** AciAgentStart's inputs, validated and normalised. */
export interface StartConfig {
  serviceConnection: string;
  resourceGroup: string;
  /** undefined: the resource group's location. */
  location: string | undefined;
  fallbackLocations: string[];
  pool: string;
  /** https, without a trailing slash. */
  organizationUrl: string;
  registration: Registration;
  agentCount: number;
  namePrefix: string;
  image: string;
  imageMode: ImageMode;
  registry: RegistryAccess | undefined;
  osType: OsType;
  cpu: number;
  memoryGB: number;
  priority: Priority;
  subnetIds: string[];
  identity: AgentIdentity;
  environmentVariables: EnvironmentVariable[];
  startupScript: string | undefined;
  ephemeral: boolean;
  /** 0: no limit. */
  maxLifetimeMinutes: number;
  timeoutMinutes: number;
  keepOnFailure: boolean;
  tags: Record<string, string>;
  dryRun: boolean;
  run: RunIdentity;
  /** A standby pool (name in resourceGroup, or resource id) to claim the agents from; undefined: create them. */
  standbyPool: string | undefined;
}

/** Reads, checks and normalises every input; throws one InputError listing every problem found. */
export function parseStartInputs(read: InputReader, vars: PipelineVariables): StartConfig {
  const fields = startFields(read, vars);
  const values = valuesOrThrow(fields, [
    ...standbyProblems(read, valueOf(fields.standbyPool)),
    ...crossInputProblems(fields),
    ...registrationUrlProblems(valueOf(fields.registration), valueOf(fields.organizationUrl), vars.collectionUri),
  ]);
  return { ...values, image: values.image ?? DEFAULT_IMAGE };
}

function startFields(read: InputReader, vars: PipelineVariables) {
  return {
    serviceConnection: parseInput(read, "azureSubscription", required(asIs)),
    resourceGroup: parseInput(read, "resourceGroup", required(resourceGroupName)),
    location: parseInput(read, "location", optional(regionName)),
    fallbackLocations: parseInput(read, "fallbackLocations", withDefault([], regionNames)),
    pool: parseInput(read, "pool", required(poolName)),
    organizationUrl: parseInput(read, "organizationUrl", (given) =>
      required(httpsBaseUrl, "required, and System.CollectionUri is not set either")(given ?? nonEmpty(vars.collectionUri)),
    ),
    registration: registration(read),
    agentCount: parseInput(read, "agentCount", withDefault(1, wholeNumber(1, 50))),
    namePrefix: parseInput(read, "namePrefix", withDefault("azp", namePrefix)),
    image: parseInput(read, "image", optional(imageReference)),
    imageMode: parseInput(read, "imageMode", withDefault("bootstrap", choice(IMAGE_MODES))),
    registry: registryAccess(read),
    osType: parseInput(read, "osType", withDefault("Linux", choice(OS_TYPES))),
    cpu: parseInput(read, "cpu", withDefault(2, cpuCores)),
    memoryGB: parseInput(read, "memoryGB", withDefault(4, memoryGB)),
    priority: parseInput(read, "priority", withDefault("Regular", choice(PRIORITIES))),
    subnetIds: parseInput(read, "subnetIds", withDefault([], subnetIds)),
    identity: parseInput(read, "identity", withDefault({ systemAssigned: false, userAssignedIds: [] }, agentIdentity)),
    environmentVariables: parseInput(read, "environmentVariables", withDefault([], environmentVariables)),
    startupScript: parseInput(read, "startupScript", optional(asIs)),
    ephemeral: parseInput(read, "ephemeral", withDefault(true, bool)),
    maxLifetimeMinutes: parseInput(read, "maxLifetimeMinutes", withDefault(120, wholeNumber(0, MAX_LIFETIME_MINUTES))),
    timeoutMinutes: parseInput(read, "timeoutMinutes", withDefault(10, wholeNumber(1, MAX_TIMEOUT_MINUTES))),
    keepOnFailure: parseInput(read, "keepOnFailure", withDefault(false, bool)),
    tags: parseInput(read, "tags", withDefault({}, userTags)),
    dryRun: parseInput(read, "dryRun", withDefault(false, bool)),
    run: runIdentity(vars),
    standbyPool: parseInput(read, "standbyPool", optional(asIs)),
  };
}

/**
 * The inputs a claim may not change (the pool's profile fixes them) and their task.json defaults:
 * an input counts as given when it is set and differs from its default, since the agent fills the
 * defaults in (as for image in platformProblems).
 */
const FIXED_BY_STANDBY_POOL: Record<string, string | undefined> = {
  image: DEFAULT_IMAGE,
  imageMode: "bootstrap",
  osType: "Linux",
  cpu: "2",
  memoryGB: "4",
  priority: "Regular",
  environmentVariables: undefined,
  startupScript: undefined,
  registryServer: undefined,
  registryUsername: undefined,
  registryPassword: undefined,
  registryIdentity: undefined,
  subnetIds: undefined,
  identity: undefined,
};

/** With standbyPool, each container input given and fallbackLocations, named with why. */
export function standbyProblems(read: InputReader, standbyPool: string | undefined): string[] {
  if (standbyPool === undefined) return [];
  const given = (name: string, fallback: string | undefined): boolean => {
    const value = read.get(name)?.trim();
    if (value === undefined || value === "") return false;
    if (fallback === undefined) return true;
    const number = Number(value);
    return fallback === value ? false : !(Number.isFinite(number) && value !== "" && Number(fallback) === number);
  };
  const problems = Object.entries(FIXED_BY_STANDBY_POOL)
    .filter(([name, fallback]) => given(name, fallback))
    .map(([name]) => `${name}: not allowed with standbyPool: a claim may not change the container, which the pool's profile fixes (set it on AciAgentStandbyPool@1 instead)`);
  if (read.get("dryRun")?.trim().toLowerCase() === "true") {
    problems.push("dryRun: not available with standbyPool: a claim has no ARM template (the pool's profile is the template; AciAgentStandbyPool@1 has a dry run)");
  }
  if (given("fallbackLocations", undefined)) {
    problems.push("fallbackLocations: not allowed with standbyPool: the agents are claimed in the pool's region, and an empty pool's fresh groups are made there too");
  }
  return problems;
}

/** A year: beyond it the expiry date stops being a useful dead-man timer. */
const MAX_LIFETIME_MINUTES = 525_600;

type StartFields = ReturnType<typeof startFields>;

function crossInputProblems(fields: StartFields): string[] {
  return [...platformProblems(fields), ...lifetimeProblems(fields), ...nameLengthProblems(fields), ...runTagProblems(fields)];
}

function platformProblems(fields: StartFields): string[] {
  const osType = valueOf(fields.osType);
  const imageMode = valueOf(fields.imageMode);
  const problems: string[] = [];
  if (osType === "Windows" && (valueOf(fields.subnetIds) ?? []).length > 0) {
    problems.push("subnetIds: ACI cannot place Windows container groups in a virtual network; remove subnetIds or use osType Linux");
  }
  if (osType === "Windows" && imageMode === "bootstrap") {
    problems.push("imageMode: bootstrap works only with osType Linux until a Windows bootstrap script exists; use imageMode prebuilt with a Windows image");
  }
  // task.json fills in the default image, which has no agent: for prebuilt it counts as none.
  if (imageMode === "prebuilt" && fields.image.ok && (fields.image.value === undefined || fields.image.value === DEFAULT_IMAGE)) {
    problems.push("image: required when imageMode is prebuilt (an image built from the shipped Dockerfile template)");
  }
  return problems;
}

/** An ephemeral agent that may stop itself before the start task stops waiting for it is useless. */
function lifetimeProblems(fields: StartFields): string[] {
  const maxLifetime = valueOf(fields.maxLifetimeMinutes);
  const timeout = valueOf(fields.timeoutMinutes);
  if (valueOf(fields.ephemeral) !== true || maxLifetime === undefined || timeout === undefined || maxLifetime === 0 || maxLifetime >= timeout) {
    return [];
  }
  return [`maxLifetimeMinutes: must be 0 (no limit) or at least timeoutMinutes (${timeout}) for ephemeral agents, got ${maxLifetime}`];
}

function nameLengthProblems(fields: StartFields): string[] {
  const prefix = valueOf(fields.namePrefix);
  const run = valueOf(fields.run);
  const count = valueOf(fields.agentCount);
  if (prefix === undefined || run === undefined || count === undefined) {
    return [];
  }
  const longest = agentName(prefix, run.runId, run.attempt, count);
  const excess = longest.length - MAX_NAME_LENGTH;
  if (excess <= 0) {
    return [];
  }
  return [
    `namePrefix: '${prefix}' makes the agent name '${longest}' ${longest.length} characters long, over ACI's ${MAX_NAME_LENGTH}; use at most ${prefix.length - excess} characters`,
  ];
}

function runTagProblems(fields: StartFields): string[] {
  const organizationUrl = valueOf(fields.organizationUrl);
  const run = valueOf(fields.run);
  if (organizationUrl === undefined || run === undefined) {
    return [];
  }
  const runTag = runTagValue(organizationUrl, run.projectId, run.runId);
  if (runTag.length <= MAX_TAG_VALUE_LENGTH) {
    return [];
  }
  return [`organizationUrl: too long to identify the run in the ${OWN_TAGS.run} tag (${runTag.length} characters, Azure allows ${MAX_TAG_VALUE_LENGTH})`];
}

const MAX_USER_TAGS = MAX_TAGS_PER_RESOURCE - Object.keys(OWN_TAGS).length;

function userTags(text: string): Record<string, string> {
  // ARM compares tag names ignoring case.
  const lineOfName = new Map<string, number>();
  const tags = parseEach(nonBlankLines(text), (numbered) => {
    const { name, value } = assignment(numbered, "name=value");
    const at = `line ${numbered.number}`;
    if (name === "") {
      throw invalid(`${at}: the tag name is empty`);
    }
    if (name.length > MAX_TAG_NAME_LENGTH) {
      throw invalid(`${at}: the tag name is longer than ${MAX_TAG_NAME_LENGTH} characters`);
    }
    if (/[<>%&\\?/]/.test(name)) {
      throw invalid(`${at}: the tag name '${name}' contains one of < > % & \\ ? /`);
    }
    if (name.toLowerCase().startsWith(RESERVED_TAG_PREFIX)) {
      throw invalid(`${at}: tag names starting with ${RESERVED_TAG_PREFIX} are reserved for the task`);
    }
    if (value.length > MAX_TAG_VALUE_LENGTH) {
      throw invalid(`${at}: the value of ${name} is longer than ${MAX_TAG_VALUE_LENGTH} characters`);
    }
    const earlierLine = lineOfName.get(name.toLowerCase());
    if (earlierLine !== undefined) {
      throw invalid(`${at}: ${name} is already set on line ${earlierLine}`);
    }
    lineOfName.set(name.toLowerCase(), numbered.number);
    return [name, value] as const;
  });
  if (tags.length > MAX_USER_TAGS) {
    throw invalid(`at most ${MAX_USER_TAGS} tags (Azure allows ${MAX_TAGS_PER_RESOURCE} and the task sets ${MAX_TAGS_PER_RESOURCE - MAX_USER_TAGS}), got ${tags.length}`);
  }
  return Object.fromEntries(tags);
}

