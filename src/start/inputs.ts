import {
  asIs,
  assignment,
  bool,
  choice,
  combine,
  failed,
  httpsBaseUrl,
  invalid,
  listItems,
  nonBlankLines,
  nonEmpty,
  ok,
  optional,
  parseEach,
  parseInput,
  required,
  secret,
  uniqueIgnoringCase,
  valueOf,
  valuesOrThrow,
  wholeNumber,
  withDefault,
  type InputReader,
  type Parsed,
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
import { FLEET_VARIABLE, MAX_NAME_LENGTH, RUN_ID_VARIABLE, agentName, runTagValue, type RunIdentity } from "../run/names";
import { MAX_TAGS_PER_RESOURCE, MAX_TAG_NAME_LENGTH, MAX_TAG_VALUE_LENGTH, OWN_TAGS, RESERVED_TAG_PREFIX } from "../run/tags";

/** Debian with apt and the libraries the agent needs (ICU, OpenSSL), from Microsoft's registry: no Docker Hub pull limits. */
export const DEFAULT_IMAGE = "mcr.microsoft.com/dotnet/runtime-deps:8.0";

const IMAGE_MODES = ["bootstrap", "prebuilt"] as const;
const OS_TYPES = ["Linux", "Windows"] as const;
const PRIORITIES = ["Regular", "Spot"] as const;

export type ImageMode = (typeof IMAGE_MODES)[number];
export type OsType = (typeof OS_TYPES)[number];
export type Priority = (typeof PRIORITIES)[number];

export type RegistryAccess =
  | { kind: "password"; server: string; username: string; password: string }
  | { kind: "identity"; server: string; identity: string };

export interface AgentIdentity {
  systemAssigned: boolean;
  userAssignedIds: string[];
}

export interface EnvironmentVariable {
  name: string;
  value: string;
}

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

function decimalNumber(text: string): number {
  return /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
}

/** ACI's per-group limits in most regions. */
const MAX_CPU_CORES = 4;
const MAX_MEMORY_GB = 16;

/** ACI takes cpu and memory in steps of 0.1 (the az CLI documents one decimal place for both). */
function inTenths(value: number): boolean {
  const tenths = value * 10;
  return Math.abs(tenths - Math.round(tenths)) < 1e-9;
}

function cpuCores(text: string): number {
  const cores = decimalNumber(text);
  if (!(cores > 0 && cores <= MAX_CPU_CORES && inTenths(cores))) {
    throw invalid(`must be a number of cores greater than 0 and at most ${MAX_CPU_CORES}, in steps of 0.1, got '${text}'`);
  }
  return cores;
}

function memoryGB(text: string): number {
  const gigabytes = decimalNumber(text);
  if (!(gigabytes > 0 && gigabytes <= MAX_MEMORY_GB && inTenths(gigabytes))) {
    throw invalid(`must be a number of GB greater than 0 and at most ${MAX_MEMORY_GB}, in steps of 0.1, got '${text}'`);
  }
  return gigabytes;
}

/** Accepts the programmatic name (westeurope) and the display name (West Europe). */
function regionName(text: string): string {
  const name = text.replace(/\s+/g, "").toLowerCase();
  if (!/^[a-z][a-z0-9]*$/.test(name)) {
    throw invalid(`'${text}' is not an Azure region name such as westeurope or West Europe`);
  }
  return name;
}

function regionNames(text: string): string[] {
  return uniqueIgnoringCase(parseEach(listItems(text), regionName));
}

// Docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest].
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const IMAGE_TAG = "[\\w][\\w.-]{0,127}";
const IMAGE_DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const IMAGE_REFERENCE = new RegExp(`^(${IMAGE_NAME})(?::${IMAGE_TAG})?(?:@${IMAGE_DIGEST})?$`);
const REGISTRY_HOST = new RegExp(`^${DOMAIN}$`);
const MAX_IMAGE_NAME_LENGTH = 255;

function imageReference(text: string): string {
  const name = IMAGE_REFERENCE.exec(text)?.[1];
  if (name === undefined || name.length > MAX_IMAGE_NAME_LENGTH) {
    throw invalid(`'${text}' is not an image reference such as ubuntu:22.04 or myregistry.azurecr.io/agents/linux:1 (repository names are lower case)`);
  }
  return text;
}

/** The host name ACI expects; a pasted https:// and trailing slash are dropped. */
function registryServer(text: string): string {
  const server = text.replace(/^https?:\/\//i, "").replace(/\/+$/, "").toLowerCase();
  if (!REGISTRY_HOST.test(server)) {
    throw invalid(`'${text}' is not a registry host name such as myregistry.azurecr.io`);
  }
  return server;
}

const GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const RESOURCE_GROUP_SCOPE = `/subscriptions/${GUID}/resourceGroups/[^/]+`;
const SUBNET_ID = new RegExp(`^${RESOURCE_GROUP_SCOPE}/providers/Microsoft\\.Network/virtualNetworks/[^/]+/subnets/[^/]+$`, "i");
const USER_ASSIGNED_IDENTITY_ID = new RegExp(
  `^${RESOURCE_GROUP_SCOPE}/providers/Microsoft\\.ManagedIdentity/userAssignedIdentities/[^/]+$`,
  "i",
);
const USER_ASSIGNED_IDENTITY_FORM =
  "/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}";

function subnetIds(text: string): string[] {
  const ids = parseEach(listItems(text), (id) => {
    if (!SUBNET_ID.test(id)) {
      throw invalid(
        `'${id}' is not a subnet resource id (/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{network}/subnets/{subnet})`,
      );
    }
    return id;
  });
  return uniqueIgnoringCase(ids);
}

function userAssignedIdentityId(text: string): string {
  if (!USER_ASSIGNED_IDENTITY_ID.test(text)) {
    throw invalid(`'${text}' is not a user-assigned identity resource id (${USER_ASSIGNED_IDENTITY_FORM})`);
  }
  return text;
}

function agentIdentity(text: string): AgentIdentity {
  const items = listItems(text);
  const userAssigned = items.filter((item) => !/^systemassigned$/i.test(item));
  const ids = parseEach(userAssigned, (item) => {
    if (!USER_ASSIGNED_IDENTITY_ID.test(item)) {
      throw invalid(`'${item}' is neither SystemAssigned nor a user-assigned identity resource id (${USER_ASSIGNED_IDENTITY_FORM})`);
    }
    return item;
  });
  return { systemAssigned: userAssigned.length < items.length, userAssignedIds: uniqueIgnoringCase(ids) };
}

const ENVIRONMENT_VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isSetByTask(name: string): boolean {
  return /^AZP_/i.test(name) || [RUN_ID_VARIABLE, FLEET_VARIABLE].includes(name.toUpperCase());
}

function environmentVariables(text: string): EnvironmentVariable[] {
  // Case-insensitive: Windows treats PATH and Path as one variable.
  const lineOfName = new Map<string, number>();
  return parseEach(nonBlankLines(text), (numbered) => {
    const { name, value } = assignment(numbered, "NAME=value");
    if (!ENVIRONMENT_VARIABLE_NAME.test(name)) {
      throw invalid(`line ${numbered.number}: '${name}' is not a variable name (letters, digits and '_', not starting with a digit)`);
    }
    if (isSetByTask(name)) {
      throw invalid(`line ${numbered.number}: ${name} is set by the task (AZP_*, ${RUN_ID_VARIABLE} and ${FLEET_VARIABLE} are reserved)`);
    }
    const earlierLine = lineOfName.get(name.toUpperCase());
    if (earlierLine !== undefined) {
      throw invalid(`line ${numbered.number}: ${name} is already set on line ${earlierLine}`);
    }
    lineOfName.set(name.toUpperCase(), numbered.number);
    return { name, value };
  });
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

/** Either server, username and password, or server and a pull identity; or none of them. */
function registryAccess(read: InputReader): Parsed<RegistryAccess | undefined> {
  const isSet = (input: string) => nonEmpty(read.get(input)) !== undefined;
  const hasLogin = isSet("registryUsername") || isSet("registryPassword");
  const hasIdentity = isSet("registryIdentity");
  if (!hasLogin && !hasIdentity && !isSet("registryServer")) {
    return ok(undefined);
  }
  if (hasLogin && hasIdentity) {
    return failed(["registryIdentity: give registryUsername and registryPassword, or registryIdentity, not both"]);
  }
  if (hasIdentity) {
    return combine({
      kind: ok("identity" as const),
      server: parseInput(read, "registryServer", required(registryServer, "required with registryIdentity")),
      identity: parseInput(read, "registryIdentity", required(userAssignedIdentityId)),
    });
  }
  const credentialsNeeded = "required with registryServer, unless registryIdentity is given";
  return combine({
    kind: ok("password" as const),
    server: parseInput(read, "registryServer", required(registryServer, "required with registryUsername and registryPassword")),
    username: parseInput(read, "registryUsername", required(asIs, credentialsNeeded)),
    password: parseInput(read, "registryPassword", required(secret, credentialsNeeded)),
  });
}

