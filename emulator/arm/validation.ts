// Strict-mode validation of `PUT .../Microsoft.ContainerInstance/containerGroups/{name}` bodies.
//
// Two layers, run in this order (the order real ARM/ACI reports problems in, as far as public
// error reports show):
//   1. ARM's own check that a tracked resource has a location.
//   2. Schema: the body is checked against the `ContainerGroup` definition of the official
//      2023-05-01 swagger (emulator/specs/containerInstance.json) with Ajv. Problems are reported
//      the way ACI's JSON.NET deserializer reports them (InvalidRequestContent, with the JSON
//      path and the position in the compact body), except for the few fields ACI checks itself
//      and reports with its own codes (osType, resource requests).
//   3. Semantic: what ACI's resource provider rejects beyond the schema (names, limits,
//      references between fields, unsupported combinations).
// Every rule, its source and whether its code/message is verified is listed in
// emulator/arm/VALIDATION.md. Messages marked "[guess]" were not confirmed by any public source.

import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import swagger from "../specs/containerInstance.json";
import {
  capacityUnavailable,
  formatAmount,
  inaccessibleImage,
  invalidRequestContent,
  locationRequired,
  unreadableRequestContent,
  type ArmError,
} from "./errors";

export type { ArmError } from "./errors";

/**
 * Checks a container group PUT body. `name` is the group name from the URL; `body` the parsed
 * JSON (undefined when the request had no body or it was not JSON). Returns the error ARM would
 * answer with, or undefined when the body would be accepted.
 */
export function validateContainerGroupPut(name: string, body: unknown, apiVersion = "2023-05-01", existing = false, kind: "group" | "profile" = "group"): ArmError | undefined {
  if (!isRecord(body)) {
    if (body === undefined || body === null) return unreadableRequestContent();
    return invalidRequestContent(
      `Cannot deserialize the current JSON ${Array.isArray(body) ? "array" : "value"} into type 'ContainerGroupDefinition' ` +
        "because the type requires a JSON object (e.g. {\"name\":\"value\"}) to deserialize correctly. Path '', line 1, position 1.",
    );
  }
  // JSON.NET treats an explicit null like an absent member.
  const cleaned = withoutNulls(body);
  const location = cleaned.location;
  if (location === undefined || (typeof location === "string" && location.trim() === "")) return locationRequired();

  const standby = hasStandbyFields(apiVersion);
  const claim = standby && (isClaimShaped(cleaned) || (existing && isConfigMapOnly(cleaned)));
  const schemaError = checkSchema(name, cleaned, claim ? "claim" : standby ? "standby" : "base");
  if (schemaError !== undefined) return schemaError;
  if (standby) {
    const keyError = checkConfigMapKeys(name, cleaned);
    if (keyError !== undefined) return keyError;
  }
  // A claim's containers come from the profile: only the claim rules apply (checkClaim).
  if (claim) return checkClaim(cleaned);
  // The schema has vouched for the shape from here on.
  return checkSemantics(name, cleaned as unknown as WireGroup, kind);
}

// ---------------------------------------------------------------------------------------------
// Schema layer
// ---------------------------------------------------------------------------------------------

type Schema = Record<string, unknown>;

const specId = "containerInstance.json";

/**
 * Type names ACI's deserializer prints in "Could not find member 'x' on object of type 'T'".
 * `ContainerGroupPropertiesDefinition` was seen in a real error; `ContainerEnvironmentVariable`
 * and `ComputeResources` appear in other real ACI messages; the rest are [guess]es, and any
 * definition not listed is named as in the swagger.
 */
const wireTypeNames: Record<string, string> = {
  ContainerGroup: "ContainerGroupDefinition",
  "ContainerGroup.properties": "ContainerGroupPropertiesDefinition",
  Container: "ContainerDefinition",
  ContainerProperties: "ContainerPropertiesDefinition",
  EnvironmentVariable: "ContainerEnvironmentVariable",
  ResourceRequests: "ComputeResources",
  ResourceLimits: "ComputeResources",
};

/**
 * Which schema a body is checked against: "base" = the 2023-05-01 swagger as it is; "standby" =
 * the same with what api-version 2024-05-01-preview added and 2025-09-01 keeps (config maps,
 * `containerGroupProfile`, `standbyPoolProfile`, read-only `isCreatedFromStandbyPool`); "claim" =
 * "standby" without the members the 2025-09-01 swagger no longer requires (a claim's containers
 * carry only a config map, its group no osType).
 */
export type SchemaFlavour = "base" | "standby" | "claim";

const compiled = new Map<SchemaFlavour, ValidateFunction>();

/** Whether an api-version knows the standby fields and config maps (2024-05-01-preview and later). */
export function hasStandbyFields(apiVersion: string): boolean {
  return apiVersion.slice(0, 10) >= "2024-05-01";
}

/** A claim: a PUT that names a standby pool or a profile and whose containers name nothing else than their config map. */
export function isClaimShaped(body: Record<string, unknown>): boolean {
  const properties = body.properties;
  if (!isRecord(properties)) return false;
  return properties.standbyPoolProfile !== undefined || properties.containerGroupProfile !== undefined;
}

/** Every container of the body carries a config map and nothing else (a config-map-only update). */
export function isConfigMapOnly(body: Record<string, unknown>): boolean {
  const properties = body.properties;
  if (!isRecord(properties) || !Array.isArray(properties.containers) || properties.containers.length === 0) return false;
  return properties.containers.every((c: unknown) => isRecord(c) && isRecord(c.properties) && Object.keys(c.properties).every((k) => k === "configMap"));
}

/**
 * Config map keys become file names (/mnt/configmap/<container>/<key>). [guess] rule (Kubernetes'
 * for configMap keys: letters, digits, '-', '_', '.', at most 253, not '.' or '..'), code and
 * message; the swagger sets no limit.
 */
function checkConfigMapKeys(groupName: string, body: Record<string, unknown>): ArmError | undefined {
  const containers = (body.properties as { containers?: unknown[] } | undefined)?.containers ?? [];
  for (const [index, container] of containers.entries()) {
    if (!isRecord(container) || !isRecord(container.properties) || !isRecord(container.properties.configMap)) continue;
    const pairs = container.properties.configMap.keyValuePairs;
    if (!isRecord(pairs)) continue;
    for (const key of Object.keys(pairs)) {
      if (secretFileName.test(key) && key !== "." && key !== "..") continue;
      return badRequest(
        "InvalidConfigMapKey",
        `The config map key '${key}' in container '${String(container.name)}' of container group '${groupName}' is invalid. ` +
          "It must consist of alphanumeric characters, '-', '_' or '.', and be no more than 253 characters.",
        `properties.containers[${index}].properties.configMap.keyValuePairs`,
      );
    }
  }
  return undefined;
}

/** Members of a claim's (or config-map-only update's) `properties` besides its containers. */
const claimGroupMembers = new Set(["containers", "standbyPoolProfile", "containerGroupProfile", "subnetIds", "isCreatedFromStandbyPool", "provisioningState", "instanceView"]);

/**
 * A claim (or a config-map-only update) may carry config maps and nothing else of the group:
 * "ContainerGroup properties other than config map are not allowed" (Azure/azure-cli#30898, where
 * `ports` caused it). [guess] that the same answer covers the group's own members (osType,
 * restartPolicy, volumes, ...) and a container's `name` missing; subnetIds pass (the CLI's fix,
 * Azure/azure-cli#31824, sends them and succeeds).
 */
function checkClaim(body: Record<string, unknown>): ArmError | undefined {
  const properties = body.properties as Record<string, unknown>;
  const notAllowed = badRequest("BadRequest", "ContainerGroup properties other than config map are not allowed");
  if (Object.keys(properties).some((key) => !claimGroupMembers.has(key))) return notAllowed;
  const containers = properties.containers;
  if (!Array.isArray(containers)) return notAllowed;
  for (const container of containers) {
    if (!isRecord(container) || !isRecord(container.properties)) return notAllowed;
    if (Object.keys(container.properties).some((key) => key !== "configMap" && key !== "instanceView")) return notAllowed;
  }
  if (properties.standbyPoolProfile !== undefined && properties.containerGroupProfile === undefined) {
    // [guess] rule, code and message: every public claim names the profile (spec example, Learn).
    return badRequest("BadRequest", "The containerGroupProfile is required when standbyPoolProfile is specified.", "properties.containerGroupProfile");
  }
  return undefined;
}

/**
 * The definitions the 2025-09-01 swagger (CI-2025-09-01, see emulator/README.md) adds over
 * 2023-05-01 for config maps and standby pools, restated here (the swagger file itself is not
 * copied).
 */
function withStandbyDefinitions(definitions: Record<string, Schema>, claim: boolean): Record<string, Schema> {
  const result = structuredClone(definitions);
  result.ConfigMap = {
    type: "object",
    description: "The container config map.",
    properties: { keyValuePairs: { type: "object", additionalProperties: { type: "string" } } },
  };
  result.ContainerGroupProfileReferenceDefinition = {
    type: "object",
    properties: { id: { type: "string" }, revision: { type: "integer", format: "int32" } },
  };
  result.StandbyPoolProfileDefinition = {
    type: "object",
    properties: { id: { type: "string" }, failContainerGroupCreateOnReuseFailure: { type: "boolean" } },
  };
  const containerProperties = result.ContainerProperties as { properties: Record<string, unknown>; required?: string[] };
  containerProperties.properties.configMap = { $ref: "#/definitions/ConfigMap" };
  const groupProperties = result.ContainerGroupProperties as { properties: { properties: Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[] } } };
  const inner = groupProperties.properties.properties;
  if (isRecord(inner.properties)) {
    inner.properties.containerGroupProfile = { $ref: "#/definitions/ContainerGroupProfileReferenceDefinition" };
    inner.properties.standbyPoolProfile = { $ref: "#/definitions/StandbyPoolProfileDefinition" };
    inner.properties.isCreatedFromStandbyPool = { type: "boolean", readOnly: true };
  }
  if (claim) {
    // 2025-09-01: ContainerProperties requires nothing; the group's properties require only containers.
    delete containerProperties.required;
    if (Array.isArray(inner.required)) inner.required = inner.required.filter((r) => r === "containers");
  }
  return result;
}

/**
 * Compiles every flavour's validator (about 65 ms of CPU each). The emulator does this before it
 * listens, so that no request pays for it: real ARM has no such first-request cost, and the bench
 * would count it against the step (a standby claim was 90 ms slower the first time).
 */
export function compileSchemas(): void {
  for (const flavour of ["base", "standby", "claim"] as const) schemaValidator(flavour);
}

function schemaValidator(flavour: SchemaFlavour = "base"): ValidateFunction {
  const cached = compiled.get(flavour);
  if (cached !== undefined) return cached;
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    verbose: true,
    formats: {
      int32: { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647 },
      double: true,
      "date-time": true,
    },
  });
  ajv.addSchema({ $id: specId, definitions: wireDefinitions(flavour) });
  const validate = ajv.getSchema(`${specId}#/definitions/ContainerGroup`);
  if (validate === undefined) throw new Error("the swagger has no ContainerGroup definition");
  compiled.set(flavour, validate);
  return validate;
}

/**
 * The swagger's definitions, adjusted for validating what a client sends:
 * - `allOf` (ContainerGroup = Resource + ContainerGroupProperties) is merged into one object so
 *   unknown members can be rejected;
 * - every object schema that lists its properties rejects others (ACI's deserializer does);
 * - readOnly members (provisioningState, instanceView, id, principalId, ...) accept anything:
 *   ARM ignores them on PUT;
 * - each object schema remembers the type name ACI would print for it (`x-wire-type`).
 */
function wireDefinitions(flavour: SchemaFlavour): Record<string, Schema> {
  const source: unknown = swagger;
  if (!isRecord(source) || !isRecord(source.definitions)) throw new Error("the swagger has no definitions");
  let definitions: Record<string, Schema> = {};
  for (const [key, value] of Object.entries(source.definitions)) {
    if (isRecord(value)) definitions[key] = value;
  }
  if (flavour !== "base") definitions = withStandbyDefinitions(definitions, flavour === "claim");
  const result: Record<string, Schema> = {};
  for (const [key, definition] of Object.entries(definitions)) result[key] = adjustSchema(definition, key, definitions);
  return result;
}

function adjustSchema(schema: Schema, where: string, definitions: Record<string, Schema>): Schema {
  let adjusted: Schema = { ...schema };
  if (Array.isArray(adjusted.allOf)) {
    const properties: Schema = {};
    const required: string[] = [];
    for (const part of adjusted.allOf) {
      if (!isRecord(part)) continue;
      const target = refTarget(part, definitions) ?? part;
      if (isRecord(target.properties)) Object.assign(properties, target.properties);
      if (Array.isArray(target.required)) required.push(...target.required.filter((r): r is string => typeof r === "string"));
    }
    adjusted = { type: "object", properties, required };
  }
  if (isRecord(adjusted.properties)) {
    const properties: Schema = {};
    for (const [key, child] of Object.entries(adjusted.properties)) {
      if (!isRecord(child)) continue;
      properties[key] = isReadOnly(child, definitions) ? {} : adjustSchema(child, `${where}.${key}`, definitions);
    }
    adjusted.properties = properties;
    adjusted.type ??= "object";
    adjusted.additionalProperties ??= false;
    adjusted["x-wire-type"] = wireTypeNames[where] ?? where;
  }
  if (isRecord(adjusted.items)) {
    adjusted.items = isReadOnly(adjusted.items, definitions) ? {} : adjustSchema(adjusted.items, where, definitions);
  }
  if (isRecord(adjusted.additionalProperties)) {
    adjusted.additionalProperties = adjustSchema(adjusted.additionalProperties, where, definitions);
  }
  return adjusted;
}

function refTarget(schema: Schema, definitions: Record<string, Schema>): Schema | undefined {
  const ref = schema.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/definitions/")) return undefined;
  return definitions[ref.slice("#/definitions/".length)];
}

function isReadOnly(schema: Schema, definitions: Record<string, Schema>): boolean {
  return schema.readOnly === true || refTarget(schema, definitions)?.readOnly === true;
}

interface Finding {
  /** 0: the deserializer fails (first by position in the body); 1: ACI's own field checks, by rank. */
  tier: 0 | 1;
  order: number;
  error: ArmError;
}

function checkSchema(groupName: string, body: Record<string, unknown>, flavour: SchemaFlavour): ArmError | undefined {
  const validate = schemaValidator(flavour);
  if (validate(body)) return undefined;
  const spans = measure(body);
  const findings: Finding[] = [];
  for (const error of validate.errors ?? []) {
    const finding = describe(error, groupName, body, spans);
    if (finding !== undefined) findings.push(finding);
  }
  findings.sort((a, b) => a.tier - b.tier || a.order - b.order);
  return findings[0]?.error;
}

const containerPropertiesPath = /^\/properties\/containers\/(\d+)\/properties$/;
const resourcesPath = /^\/properties\/containers\/(\d+)\/properties\/resources$/;
const requestsPath = /^\/properties\/containers\/(\d+)\/properties\/resources\/requests$/;

function describe(error: ErrorObject, groupName: string, body: Record<string, unknown>, spans: Map<string, Span>): Finding | undefined {
  const pointer = error.instancePath;
  const parentSchema = isRecord(error.parentSchema) ? error.parentSchema : {};
  switch (error.keyword) {
    case "required": {
      const missing = String((error.params as { missingProperty?: unknown }).missingProperty);
      if (pointer === "/properties" && missing === "osType") return { tier: 1, order: 0, error: invalidOsType(body) };
      const container = containerPropertiesPath.exec(pointer);
      if (container !== null && missing === "resources") return { tier: 1, order: 1, error: requestsNotSpecified(body, Number(container[1]), groupName) };
      const resources = resourcesPath.exec(pointer);
      if (resources !== null && missing === "requests") return { tier: 1, order: 1, error: requestsNotSpecified(body, Number(resources[1]), groupName) };
      const requests = requestsPath.exec(pointer);
      if (requests !== null && (missing === "cpu" || missing === "memoryInGB")) {
        return { tier: 1, order: 2, error: someRequestsNotSpecified(body, Number(requests[1]), groupName, missing) };
      }
      const end = spans.get(pointer)?.end ?? 0;
      return deserializeFailure(`Required property '${missing}' not found in JSON. Path '${jsonPath(body, pointer)}', line 1, position ${end}.`, pointer, end, body);
    }
    case "additionalProperties": {
      const member = String((error.params as { additionalProperty?: unknown }).additionalProperty);
      const memberPointer = `${pointer}/${escapePointer(member)}`;
      const typeName = typeof parentSchema["x-wire-type"] === "string" ? parentSchema["x-wire-type"] : "Object";
      const position = spans.get(memberPointer)?.afterKey ?? 0;
      return deserializeFailure(
        `Could not find member '${member}' on object of type '${typeName}'. Path '${jsonPath(body, memberPointer)}', line 1, position ${position}.`,
        memberPointer,
        position,
        body,
      );
    }
    case "enum": {
      const allowed = Array.isArray(error.schema) ? error.schema.filter((v): v is string => typeof v === "string") : [];
      // ACI reads enum values case-insensitively (a real group with protocol "tcp" deployed).
      if (typeof error.data === "string" && canonical(error.data, allowed) !== undefined) return undefined;
      if (pointer === "/properties/osType") return { tier: 1, order: 0, error: invalidOsType(body) };
      const span = spans.get(pointer);
      const position = span?.end ?? 0;
      return deserializeFailure(
        `Error converting value ${JSON.stringify(error.data)} to type '${enumTypeName(parentSchema)}'. Path '${jsonPath(body, pointer)}', line 1, position ${position}.`,
        pointer,
        position,
        body,
      );
    }
    case "type": {
      if (pointer === "/properties/osType") return { tier: 1, order: 0, error: invalidOsType(body) };
      const expected = String((error.params as { type?: unknown }).type);
      const span = spans.get(pointer);
      const value = error.data;
      // JSON.NET stops just inside an object or array it did not expect, or after a wrong scalar.
      const position = typeof value === "object" && value !== null ? (span?.start ?? 0) + 1 : (span?.end ?? 0);
      return deserializeFailure(
        `${conversionFailure(expected, value, parentSchema)} Path '${jsonPath(body, pointer)}', line 1, position ${position}.`,
        pointer,
        position,
        body,
      );
    }
    case "format": {
      const position = spans.get(pointer)?.end ?? 0;
      return deserializeFailure(
        `JSON integer ${JSON.stringify(error.data)} is too large or small for an Int32. Path '${jsonPath(body, pointer)}', line 1, position ${position}.`,
        pointer,
        position,
        body,
      );
    }
    default: {
      const position = spans.get(pointer)?.end ?? 0;
      return deserializeFailure(
        `${error.message ?? "Invalid value"}. Path '${jsonPath(body, pointer)}', line 1, position ${position}.`,
        pointer,
        position,
        body,
      );
    }
  }
}

function deserializeFailure(reason: string, pointer: string, position: number, body: Record<string, unknown>): Finding {
  const path = jsonPath(body, pointer);
  return { tier: 0, order: position, error: invalidRequestContent(reason, path === "" ? undefined : path) };
}

/** What JSON.NET says when a value has the wrong JSON type. The texts follow JSON.NET's own. */
function conversionFailure(expected: string, value: unknown, schema: Schema): string {
  const typeName = typeof schema["x-wire-type"] === "string" ? schema["x-wire-type"] : clrTypeName(expected);
  if (Array.isArray(value)) {
    if (expected === "object") {
      return `Cannot deserialize the current JSON array (e.g. [1,2,3]) into type '${typeName}' because the type requires a JSON object (e.g. {"name":"value"}) to deserialize correctly.`;
    }
    return "Unexpected character encountered while parsing value: [.";
  }
  if (typeof value === "object" && value !== null) {
    if (expected === "array") {
      return `Cannot deserialize the current JSON object (e.g. {"name":"value"}) into type '${elementTypeName(schema)}[]' because the type requires a JSON array (e.g. [1,2,3]) to deserialize correctly.`;
    }
    return "Unexpected character encountered while parsing value: {.";
  }
  if (typeof value === "string" && (expected === "number" || expected === "integer")) {
    return `Could not convert string to ${expected === "number" ? "double" : "integer"}: ${value}.`;
  }
  if (typeof value === "number" && expected === "integer") return `Input string '${String(value)}' is not a valid integer.`;
  return `Error converting value ${JSON.stringify(value)} to type '${typeName}'.`;
}

/** The element type of an array schema, as ACI names it (`ContainerEnvironmentVariable` for environmentVariables). */
function elementTypeName(schema: Schema): string {
  const items = schema.items;
  if (!isRecord(items)) return "System.Object";
  const ref = items.$ref;
  if (typeof ref === "string" && ref.startsWith("#/definitions/")) {
    const definition = ref.slice("#/definitions/".length);
    return wireTypeNames[definition] ?? definition;
  }
  return typeof items.type === "string" ? clrTypeName(items.type) : "System.Object";
}

function clrTypeName(jsonType: string): string {
  switch (jsonType) {
    case "string":
      return "System.String";
    case "number":
      return "System.Double";
    case "integer":
      return "System.Int32";
    case "boolean":
      return "System.Boolean";
    case "array":
      return "System.Collections.Generic.List`1[System.Object]";
    default:
      return "System.Object";
  }
}

function enumTypeName(schema: Schema): string {
  const enumInfo = schema["x-ms-enum"];
  return isRecord(enumInfo) && typeof enumInfo.name === "string" ? enumInfo.name : "System.String";
}

/** Verified: "The 'osType' for container group '<null>' is invalid. The value must be one of 'Windows,Linux'."
 * ACI names the group from the body's `name`, which clients do not send, hence the '<null>'. */
function invalidOsType(body: Record<string, unknown>): ArmError {
  const groupName = typeof body.name === "string" ? body.name : "<null>";
  return {
    status: 400,
    code: "InvalidOsType",
    message: `The 'osType' for container group '${groupName}' is invalid. The value must be one of 'Windows,Linux'.`,
    target: "properties.osType",
  };
}

/** Verified, including ACI's own "contain group" typo. */
function requestsNotSpecified(body: Record<string, unknown>, index: number, groupName: string): ArmError {
  return {
    status: 400,
    code: "ResourceRequestsNotSpecified",
    message:
      `The resource requests are not specified in container '${containerNameAt(body, index)}' of contain group '${groupName}'. ` +
      "Both memory and CPU requests are required since API version '2017-07-01-preview'.",
    target: `properties.containers[${index}].properties.resources.requests`,
  };
}

/** Verified (the type name in the middle is ACI's internal one). */
function someRequestsNotSpecified(body: Record<string, unknown>, index: number, groupName: string, missing: string): ArmError {
  const field = missing === "cpu" ? "Cpu" : "MemoryInGB";
  return {
    status: 400,
    code: "ResourceSomeRequestsNotSpecified",
    message:
      `The '${field}' request is not specified in 'Microsoft.Azure.CloudConsole.Providers.Common.Entities.ComputeResources' ` +
      `in container '${containerNameAt(body, index)}' of contain group '${groupName}'. It is required since API version '2017-07-01-preview'.`,
    target: `properties.containers[${index}].properties.resources.requests.${missing}`,
  };
}

function containerNameAt(body: Record<string, unknown>, index: number): string {
  const properties = body.properties;
  if (!isRecord(properties) || !Array.isArray(properties.containers)) return "<null>";
  const container: unknown = properties.containers[index];
  return isRecord(container) && typeof container.name === "string" ? container.name : "<null>";
}

// Where each value sits in the compact serialization of the body: the SDK sends compact JSON in
// insertion order, so these are the positions JSON.NET reports for what the client really sent.
interface Span {
  start: number;
  end: number;
  /** For an object member: the position just after its key and colon. */
  afterKey?: number;
}

function measure(value: unknown): Map<string, Span> {
  const spans = new Map<string, Span>();
  let position = 0;
  const walk = (node: unknown, pointer: string, afterKey?: number): void => {
    const start = position;
    if (Array.isArray(node)) {
      position += 1;
      node.forEach((item, index) => {
        if (index > 0) position += 1;
        walk(item, `${pointer}/${String(index)}`);
      });
      position += 1;
    } else if (isRecord(node)) {
      position += 1;
      let first = true;
      for (const [key, child] of Object.entries(node)) {
        if (child === undefined) continue;
        if (!first) position += 1;
        first = false;
        position += JSON.stringify(key).length + 1;
        walk(child, `${pointer}/${escapePointer(key)}`, position);
      }
      position += 1;
    } else {
      position += ((JSON.stringify(node) as string | undefined) ?? "null").length;
    }
    spans.set(pointer, afterKey === undefined ? { start, end: position } : { start, end: position, afterKey });
  };
  walk(value, "");
  return spans;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** A JSON pointer as JSON.NET writes paths: `properties.containers[0].properties.image`. */
function jsonPath(body: unknown, pointer: string): string {
  if (pointer === "") return "";
  let node: unknown = body;
  let path = "";
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) {
      path += `[${key}]`;
      node = node[Number(key)];
    } else {
      path += /^[A-Za-z_$][\w$]*$/.test(key) ? `${path === "" ? "" : "."}${key}` : `['${key}']`;
      node = isRecord(node) ? node[key] : undefined;
    }
  }
  return path;
}

// ---------------------------------------------------------------------------------------------
// Semantic layer
// ---------------------------------------------------------------------------------------------

// The wire shapes the semantic checks read, once the schema has accepted the body.
interface WireEnvironmentVariable {
  name: string;
  value?: string;
  secureValue?: string;
}
interface WireAmounts {
  cpu?: number;
  memoryInGB?: number;
  gpu?: { count: number; sku: string };
}
interface WireVolumeMount {
  name: string;
  mountPath: string;
}
interface WireContainer {
  name: string;
  properties: {
    image: string;
    environmentVariables?: WireEnvironmentVariable[];
    resources: { requests: WireAmounts & { cpu: number; memoryInGB: number }; limits?: WireAmounts };
    volumeMounts?: WireVolumeMount[];
  };
}
interface WireInitContainer {
  name: string;
  properties: { image?: string; environmentVariables?: WireEnvironmentVariable[]; volumeMounts?: WireVolumeMount[] };
}
interface WireVolume {
  name: string;
  secret?: Record<string, string>;
  emptyDir?: unknown;
}
interface WireRegistryCredential {
  server: string;
  password?: string;
  identity?: string;
}
interface WireGroup {
  location: string;
  identity?: { type?: string; userAssignedIdentities?: Record<string, unknown> };
  properties: {
    containers: WireContainer[];
    initContainers?: WireInitContainer[];
    osType: string;
    imageRegistryCredentials?: WireRegistryCredential[];
    volumes?: WireVolume[];
    ipAddress?: { type: string; dnsNameLabel?: string };
    subnetIds?: { id: string }[];
    sku?: string;
    priority?: string;
  };
}

/** Names of containers (and of container groups, [guess]): at most 63 characters of this pattern. */
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Verified message; the pattern restates its words. */
const environmentVariableName = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Verified message: lowercase letters, digits and hyphens, starting with a letter, 5 to 63 characters. */
const dnsNameLabel = /^[a-z][a-z0-9-]{3,61}[a-z0-9]$/;
/** A registry host name with an optional port, without a scheme or path. */
const registryServer = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:\d{1,5})?$/;

/** Standard-SKU maximum per container group (public "resource and quota limits" page). */
const standardMaxCpu = 4;
const standardMaxMemoryInGB = 16;

function checkSemantics(groupName: string, group: WireGroup, kind: "group" | "profile" = "group"): ArmError | undefined {
  const checks: (() => ArmError | undefined)[] = [
    () => checkContainersPresent(groupName, group),
    () => checkContainerNames(groupName, group),
    () => checkImages(groupName, group),
    () => checkResources(groupName, group),
    () => checkEnvironmentVariables(groupName, group),
    () => checkVolumes(groupName, group),
    () => checkVolumeMounts(groupName, group),
    () => checkRegistryCredentials(groupName, group),
    () => checkIdentity(groupName, group),
    () => checkNetworking(groupName, group),
    () => checkWindowsVolumes(group),
    // Real ACI reported an invalid container name for a group whose own name was just as
    // invalid, so the group name is checked after the containers.
    () => (kind === "group" ? checkGroupName(groupName) : undefined),
    // Placement comes last: it is the allocation step.
    () => checkCapacity(group),
  ];
  for (const check of checks) {
    const error = check();
    if (error !== undefined) return error;
  }
  return undefined;
}

function badRequest(code: string, message: string, target?: string): ArmError {
  return target === undefined ? { status: 400, code, message } : { status: 400, code, message, target };
}

/** [guess] code and message. */
function checkContainersPresent(groupName: string, group: WireGroup): ArmError | undefined {
  if (group.properties.containers.length > 0) return undefined;
  return badRequest(
    "ContainersNotSpecified",
    `The containers are not specified in container group '${groupName}'. At least one container is required.`,
    "properties.containers",
  );
}

interface NamedContainer {
  name: string;
  path: string;
  image: string | undefined;
  environmentVariables: WireEnvironmentVariable[];
  volumeMounts: WireVolumeMount[];
}

function allContainers(group: WireGroup): NamedContainer[] {
  const regular = group.properties.containers.map((c, i) => ({
    name: c.name,
    path: `properties.containers[${i}]`,
    image: c.properties.image,
    environmentVariables: c.properties.environmentVariables ?? [],
    volumeMounts: c.properties.volumeMounts ?? [],
  }));
  const init = (group.properties.initContainers ?? []).map((c, i) => ({
    name: c.name,
    path: `properties.initContainers[${i}]`,
    image: c.properties.image,
    environmentVariables: c.properties.environmentVariables ?? [],
    volumeMounts: c.properties.volumeMounts ?? [],
  }));
  return [...regular, ...init];
}

function checkContainerNames(groupName: string, group: WireGroup): ArmError | undefined {
  const seen = new Set<string>();
  for (const container of allContainers(group)) {
    if (container.name.length > 63 || !dnsLabel.test(container.name)) {
      // Verified message (applied to init containers too: [guess]).
      return badRequest(
        "InvalidContainerName",
        `The container name '${container.name}' in container group '${groupName}' is invalid. The container name must contain ` +
          "no more than 63 characters and must match the regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?' (e.g. 'my-name').",
        `${container.path}.name`,
      );
    }
    if (seen.has(container.name)) {
      // [guess] code and message.
      return badRequest(
        "DuplicateContainerName",
        `The container name '${container.name}' is used more than once in container group '${groupName}'. Container names must be unique within a container group.`,
        `${container.path}.name`,
      );
    }
    seen.add(container.name);
  }
  return undefined;
}

/**
 * A docker image reference: `[host[:port]/]path[/path...][:tag][@sha256:<64 hex>]` where path
 * components are lowercase. Malformed references get ACI's verified "not accessible" error;
 * whether ACI checks the syntax before trying the registry is a [guess].
 */
function checkImages(groupName: string, group: WireGroup): ArmError | undefined {
  for (const container of allContainers(group)) {
    if (container.image !== undefined && !isImageReference(container.image)) {
      return inaccessibleImage(container.image, groupName, `${container.path}.properties.image`);
    }
  }
  return undefined;
}

const domainComponent = "(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])";
const domain = `${domainComponent}(?:\\.${domainComponent})*(?::[0-9]+)?`;
const pathComponent = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const imageReference = new RegExp(
  `^(?:${domain}/)?${pathComponent}(?:/${pathComponent})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

export function isImageReference(reference: string): boolean {
  const nameLength = reference.split(/[:@]/, 1)[0]?.length ?? 0;
  return reference.length > 0 && nameLength <= 255 && imageReference.test(reference);
}

function checkResources(groupName: string, group: WireGroup): ArmError | undefined {
  const containers = group.properties.containers;
  const totalCpu = containers.reduce((sum, c) => sum + c.properties.resources.requests.cpu, 0);
  const totalMemory = containers.reduce((sum, c) => sum + c.properties.resources.requests.memoryInGB, 0);
  for (const [index, container] of containers.entries()) {
    const { requests, limits } = container.properties.resources;
    const path = `properties.containers[${index}].properties.resources`;
    const requirement = describeRequirement(requests, limits);
    for (const [field, key] of [["Cpu", "cpu"], ["MemoryInGB", "memoryInGB"]] as const) {
      if (requests[key] <= 0) {
        // [guess] code; message modeled on ACI's verified ResourceLimitsLessThanRequests text.
        return badRequest(
          "InvalidContainerResourceRequest",
          `The resource requirement '${requirement}' in container '${container.name}' of contain group '${groupName}' is invalid. ` +
            `The '${field}' request value must be greater than 0.`,
          `${path}.requests.${key}`,
        );
      }
    }
    const memoryError = checkMemoryStep(requests.memoryInGB, container.name, groupName, `${path}.requests.memoryInGB`);
    if (memoryError !== undefined) return memoryError;
    if (limits === undefined) continue;
    for (const [field, key] of [["Cpu", "cpu"], ["MemoryInGB", "memoryInGB"]] as const) {
      const limit = limits[key];
      if (limit === undefined) continue;
      if (limit <= 0) {
        // [guess] as above.
        return badRequest(
          "InvalidContainerResourceRequest",
          `The resource requirement '${requirement}' in container '${container.name}' of contain group '${groupName}' is invalid. ` +
            `The '${field}' limit value must be greater than 0.`,
          `${path}.limits.${key}`,
        );
      }
      if (key === "memoryInGB") {
        const limitError = checkMemoryStep(limit, container.name, groupName, `${path}.limits.memoryInGB`);
        if (limitError !== undefined) return limitError;
      }
      if (limit < requests[key]) {
        // Verified code and message.
        return badRequest(
          "ResourceLimitsLessThanRequests",
          `The resource requirement '${requirement}' in container '${container.name}' of contain group '${groupName}' is invalid. ` +
            `The '${field}' limit value must be greater than or equal to the request value.`,
          `${path}.limits.${key}`,
        );
      }
      const total = key === "cpu" ? totalCpu : totalMemory;
      if (limit > total + 1e-9) {
        // Verified code and message.
        return badRequest(
          "ContainerLimitGreaterThanContainerGroupTotalRequest",
          `The '${field}' limit '${formatAmount(limit)}' in container '${container.name}' is greater than the total request ` +
            `'${formatAmount(total)}' of container group '${groupName}'.`,
          `${path}.limits.${key}`,
        );
      }
    }
  }
  return undefined;
}

/** Memory comes in steps of 0.1 GB. Message verified (older wording "times of 0.1 GB"); code [guess]. */
function checkMemoryStep(memoryInGB: number, containerName: string, groupName: string, target: string): ArmError | undefined {
  const tenths = memoryInGB * 10;
  if (Math.abs(tenths - Math.round(tenths)) < 1e-6) return undefined;
  return badRequest(
    "InvalidMemoryRequirement",
    `The memory requirement is '${formatAmount(memoryInGB)}' in container '${containerName}' of container group '${groupName}'. ` +
      "The memory requirement should be in increments of 0.1 GB.",
    target,
  );
}

/** ACI prints the requirement as .NET serializes it: `{"requests":{"memoryInGB":3.0,"cpu":2.0},...}`. */
function describeRequirement(requests: WireAmounts, limits: WireAmounts | undefined): string {
  const amounts = (a: WireAmounts): string => {
    const parts: string[] = [];
    if (a.memoryInGB !== undefined) parts.push(`"memoryInGB":${dotNetDouble(a.memoryInGB)}`);
    if (a.cpu !== undefined) parts.push(`"cpu":${dotNetDouble(a.cpu)}`);
    return `{${parts.join(",")}}`;
  };
  return limits === undefined ? `{"requests":${amounts(requests)}}` : `{"requests":${amounts(requests)},"limits":${amounts(limits)}}`;
}

function dotNetDouble(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

function checkEnvironmentVariables(groupName: string, group: WireGroup): ArmError | undefined {
  for (const container of allContainers(group)) {
    const seen = new Set<string>();
    for (const [index, variable] of container.environmentVariables.entries()) {
      const target = `${container.path}.properties.environmentVariables[${index}]`;
      if (!environmentVariableName.test(variable.name)) {
        // Verified code and message (the double spaces are ACI's).
        return badRequest(
          "InvalidContainerEnvironmentVariable",
          `The environment variable name in container '${container.name}' of container group '${groupName}' is invalid. ` +
            "A valid environment variable name must start with alphabetic character or '_', followed by a string of " +
            "alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName').",
          `${target}.name`,
        );
      }
      if (seen.has(variable.name)) {
        // [guess] code and message.
        return badRequest(
          "DuplicateContainerEnvironmentVariable",
          `The environment variable '${variable.name}' is defined more than once in container '${container.name}' of container group '${groupName}'.`,
          `${target}.name`,
        );
      }
      seen.add(variable.name);
      // A variable with neither value nor secureValue is accepted: ACI deploys it with an empty value.
      if (variable.value !== undefined && variable.secureValue !== undefined) {
        // [guess] code and message.
        return badRequest(
          "InvalidContainerEnvironmentVariableValue",
          `The environment variable '${variable.name}' in container '${container.name}' of container group '${groupName}' ` +
            "has both 'value' and 'secureValue'. Specify only one of them.",
          target,
        );
      }
    }
  }
  return undefined;
}

/** [guess] Kubernetes' rule for secret keys. */
const secretFileName = /^[-._a-zA-Z0-9]{1,253}$/;
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkVolumes(groupName: string, group: WireGroup): ArmError | undefined {
  const seen = new Set<string>();
  for (const [index, volume] of (group.properties.volumes ?? []).entries()) {
    const target = `properties.volumes[${index}]`;
    if (seen.has(volume.name)) {
      // The rule is real (ACI rejects duplicate volume names); code and message [guess].
      return badRequest(
        "DuplicateVolumeName",
        `The volume name '${volume.name}' is used more than once in container group '${groupName}'. Volume names must be unique within a container group.`,
        `${target}.name`,
      );
    }
    seen.add(volume.name);
    for (const [key, value] of Object.entries(volume.secret ?? {})) {
      if (!secretFileName.test(key) || key === "." || key === "..") {
        // [guess] rule (Kubernetes' rule for the keys of a secret, which become file names: letters,
        // digits, '-', '_' and '.', a leading dot allowed), code and message.
        return badRequest(
          "InvalidSecretVolumeFileName",
          `The secret name '${key}' in secret volume '${volume.name}' of container group '${groupName}' is invalid. ` +
            "It must consist of alphanumeric characters, '-', '_' or '.', and be no more than 253 characters.",
          `${target}.secret`,
        );
      }
      if (!base64.test(value)) {
        // Users report an "invalid base 64" rejection; code and message [guess].
        return badRequest(
          "InvalidSecretVolumeValue",
          `The value of secret '${key}' in secret volume '${volume.name}' of container group '${groupName}' is not a valid base64 string.`,
          `${target}.secret['${key}']`,
        );
      }
    }
  }
  return undefined;
}

/** Secret and emptyDir volumes are Linux only. Checked with the other Windows limits, after networking. */
function checkWindowsVolumes(group: WireGroup): ArmError | undefined {
  if (!isWindows(group)) return undefined;
  for (const [index, volume] of (group.properties.volumes ?? []).entries()) {
    const target = `properties.volumes[${index}]`;
    if (volume.secret !== undefined) {
      // Code seen (ACI answered virtual-kubelet's Windows pods with "SecretVolumesNotSupportedOnWindows",
      // virtual-kubelet/virtual-kubelet#540); the rule is documented ("Secret volumes are currently
      // restricted to Linux containers"); message [guess], modeled on the managed identity one.
      return badRequest("SecretVolumesNotSupportedOnWindows", "Secret volumes are not supported for Windows container groups.", `${target}.secret`);
    }
    if (volume.emptyDir !== undefined) {
      // Documented ("Mounting an emptyDir volume is currently restricted to Linux containers");
      // code and message [guess], modeled on the secret volume one.
      return badRequest("EmptyDirVolumesNotSupportedOnWindows", "EmptyDir volumes are not supported for Windows container groups.", `${target}.emptyDir`);
    }
  }
  return undefined;
}

function checkVolumeMounts(groupName: string, group: WireGroup): ArmError | undefined {
  const declared = new Set((group.properties.volumes ?? []).map((v) => v.name));
  for (const container of allContainers(group)) {
    for (const [index, mount] of container.volumeMounts.entries()) {
      if (declared.has(mount.name)) continue;
      // [guess] code and message.
      return badRequest(
        "InvalidVolumeMount",
        `The volume mount '${mount.name}' in container '${container.name}' of container group '${groupName}' does not refer to a volume of the container group.`,
        `${container.path}.properties.volumeMounts[${index}].name`,
      );
    }
  }
  return undefined;
}

function checkRegistryCredentials(groupName: string, group: WireGroup): ArmError | undefined {
  const credentials = group.properties.imageRegistryCredentials ?? [];
  if (credentials.length > group.properties.containers.length) {
    // Verified code and message.
    return badRequest(
      "MoreImageRegistryCredentialsThanContainers",
      `More image registry credentials provided than containers in container group '${groupName}'.`,
      "properties.imageRegistryCredentials",
    );
  }
  for (const [index, credential] of credentials.entries()) {
    const target = `properties.imageRegistryCredentials[${index}]`;
    if (!registryServer.test(credential.server)) {
      // Verified code and message.
      return badRequest(
        "InvalidImageRegistryServer",
        `The server '${credential.server}' in the 'imageRegistryCredentials' of container group '${groupName}' is invalid. ` +
          "It should be a valid host name without protocol.",
        `${target}.server`,
      );
    }
    const hasIdentity = credential.identity !== undefined && credential.identity !== "";
    if (!hasIdentity && (credential.password === undefined || credential.password === "")) {
      // Verified code and message; a managed identity in place of a password is from the API docs.
      return badRequest(
        "InvalidImageRegistryPassword",
        `The password in the 'imageRegistryCredentials' of container group '${groupName}' cannot be empty.`,
        `${target}.password`,
      );
    }
  }
  return undefined;
}

const identityTypes = ["SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned", "None"];

function checkIdentity(_groupName: string, group: WireGroup): ArmError | undefined {
  const identity = group.identity;
  if (identity === undefined) return undefined;
  const type = canonical(identity.type ?? "None", identityTypes) ?? "None";
  const userAssigned = Object.keys(identity.userAssignedIdentities ?? {});
  if (type.includes("UserAssigned") && userAssigned.length === 0) {
    // [guess] code and message.
    return badRequest(
      "InvalidIdentity",
      `The identity type '${type}' requires at least one user assigned identity in 'userAssignedIdentities'.`,
      "identity.userAssignedIdentities",
    );
  }
  if (type !== "None" && isWindows(group)) {
    // Message seen in real deployments (2023); code [guess].
    return badRequest("UnsupportedManagedIdentity", "Managed service identity is not supported for Windows container groups.", "identity.type");
  }
  return undefined;
}

function checkNetworking(groupName: string, group: WireGroup): ArmError | undefined {
  const inSubnet = (group.properties.subnetIds ?? []).length > 0;
  if (inSubnet && isWindows(group)) {
    // Documented limitation (only Linux container groups in a virtual network); code and message [guess].
    return badRequest(
      "UnsupportedOsTypeForVirtualNetwork",
      `The container group '${groupName}' has osType 'Windows', but only Linux container groups can be deployed into a virtual network.`,
      "properties.subnetIds",
    );
  }
  if (inSubnet && isSpot(group)) {
    // Documented limitation of Spot container groups; code and message [guess].
    return badRequest(
      "UnsupportedPriorityForVirtualNetwork",
      `The container group '${groupName}' has priority 'Spot', but Spot container groups cannot be deployed into a virtual network.`,
      "properties.subnetIds",
    );
  }
  const ipAddress = group.properties.ipAddress;
  if (ipAddress !== undefined && ipAddress.type.toLowerCase() === "private" && !inSubnet) {
    // Verified code and message (the wording predates subnetIds, which replaced network profiles).
    return badRequest(
      "PrivateIPAddressNotSupported",
      `IP Address type in container group '${groupName}' is invalid. Private IP address is only supported when network profile is defined.`,
      "properties.ipAddress.type",
    );
  }
  const label = ipAddress?.dnsNameLabel;
  if (label !== undefined && !dnsNameLabel.test(label)) {
    // Verified message; code [guess].
    return badRequest(
      "InvalidDnsNameLabel",
      `The DNS name label '${label}' in container group '${groupName}' is invalid. It can contain only lowercase letters, numbers ` +
        "and hyphens. The first character must be a letter. The last character must be a letter or number. " +
        "The value must be between 5 and 63 characters long.",
      "properties.ipAddress.dnsNameLabel",
    );
  }
  // Windows with Spot priority is accepted: ACI's Spot documentation says Spot supports both
  // Linux and Windows containers.
  return undefined;
}

/** [guess] code and message, modeled on the verified container-name message. */
function checkGroupName(groupName: string): ArmError | undefined {
  if (groupName.length <= 63 && dnsLabel.test(groupName)) return undefined;
  return badRequest(
    "InvalidContainerGroupName",
    `The container group name '${groupName}' is invalid. The container group name must contain no more than 63 characters ` +
      "and must match the regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?' (e.g. 'my-name').",
  );
}

function checkCapacity(group: WireGroup): ArmError | undefined {
  const sku = canonical(group.properties.sku ?? "Standard", ["Standard", "Dedicated", "Confidential"]) ?? "Standard";
  const containers = group.properties.containers;
  // Dedicated hosts and GPU groups have other maxima the emulator does not model.
  if (sku === "Dedicated" || containers.some((c) => c.properties.resources.requests.gpu !== undefined)) return undefined;
  const cpu = containers.reduce((sum, c) => sum + c.properties.resources.requests.cpu, 0);
  const memoryInGB = containers.reduce((sum, c) => sum + c.properties.resources.requests.memoryInGB, 0);
  if (cpu <= standardMaxCpu + 1e-9 && memoryInGB <= standardMaxMemoryInGB + 1e-9) return undefined;
  return capacityUnavailable({
    location: group.location,
    cpu,
    memoryInGB,
    osType: isWindows(group) ? "Windows" : "Linux",
    virtualNetwork: (group.properties.subnetIds ?? []).length > 0,
  });
}

function isWindows(group: WireGroup): boolean {
  return group.properties.osType.toLowerCase() === "windows";
}

function isSpot(group: WireGroup): boolean {
  return group.properties.priority?.toLowerCase() === "spot";
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The allowed value matching `value` regardless of case, if any. */
function canonical(value: string, allowed: readonly string[]): string | undefined {
  return allowed.find((candidate) => candidate.toLowerCase() === value.toLowerCase());
}

/** A deep copy without object members whose value is null. */
function withoutNulls(value: Record<string, unknown>): Record<string, unknown> {
  const copy = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(copy);
    if (!isRecord(node)) return node;
    const result: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      if (child !== null) result[key] = copy(child);
    }
    return result;
  };
  return copy(value) as Record<string, unknown>;
}
