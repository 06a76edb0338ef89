// The container inputs AciAgentStart and AciAgentStandbyPool share: image, size, registry,
// network, identity, environment. Each parser checks one input's text and says what is wrong.
import {
  asIs,
  assignment,
  combine,
  failed,
  invalid,
  listItems,
  nonBlankLines,
  nonEmpty,
  ok,
  parseEach,
  parseInput,
  required,
  secret,
  uniqueIgnoringCase,
  type InputReader,
  type Parsed,
} from "../core/inputSource";
import { FLEET_VARIABLE, RUN_ID_VARIABLE } from "./names";

/** Debian with apt and the libraries the agent needs (ICU, OpenSSL), from Microsoft's registry: no Docker Hub pull limits. */
export const DEFAULT_IMAGE = "mcr.microsoft.com/dotnet/runtime-deps:8.0";

export const IMAGE_MODES = ["bootstrap", "prebuilt"] as const;
export type ImageMode = (typeof IMAGE_MODES)[number];

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

export function cpuCores(text: string): number {
  const cores = decimalNumber(text);
  if (!(cores > 0 && cores <= MAX_CPU_CORES && inTenths(cores))) {
    throw invalid(`must be a number of cores greater than 0 and at most ${MAX_CPU_CORES}, in steps of 0.1, got '${text}'`);
  }
  return cores;
}

export function memoryGB(text: string): number {
  const gigabytes = decimalNumber(text);
  if (!(gigabytes > 0 && gigabytes <= MAX_MEMORY_GB && inTenths(gigabytes))) {
    throw invalid(`must be a number of GB greater than 0 and at most ${MAX_MEMORY_GB}, in steps of 0.1, got '${text}'`);
  }
  return gigabytes;
}

/** Accepts the programmatic name (westeurope) and the display name (West Europe). */
export function regionName(text: string): string {
  const name = text.replace(/\s+/g, "").toLowerCase();
  if (!/^[a-z][a-z0-9]*$/.test(name)) {
    throw invalid(`'${text}' is not an Azure region name such as westeurope or West Europe`);
  }
  return name;
}

export function regionNames(text: string): string[] {
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

export function imageReference(text: string): string {
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

export function subnetIds(text: string): string[] {
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

export function agentIdentity(text: string): AgentIdentity {
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

export function environmentVariables(text: string): EnvironmentVariable[] {
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


/** Either server, username and password, or server and a pull identity; or none of them. */
export function registryAccess(read: InputReader): Parsed<RegistryAccess | undefined> {
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

