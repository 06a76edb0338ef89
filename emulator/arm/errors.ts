// The error shapes Azure Resource Manager returns, and small constructors for the ones the
// emulator needs. On the wire an error is `{"error":{"code","message","target"?,"details"?}}`
// with the HTTP status alongside; `ArmError` keeps the status with the body so a route can
// answer with `res.status(err.status).json(armErrorBody(err))`.
//
// Codes and message texts below were checked against public recordings and issue reports
// (see emulator/arm/VALIDATION.md); the ones no public source confirmed carry "[guess]".

import { wellKnown } from "../state";

export interface ArmErrorDetail {
  code: string;
  message: string;
  target?: string;
}

export interface ArmError {
  status: number;
  code: string;
  message: string;
  /** The JSON path (or resource) the error is about. Real ARM rarely sets it; the emulator does where it helps. */
  target?: string;
  details?: ArmErrorDetail[];
}

/** The JSON body ARM sends for an error. */
export function armErrorBody(error: ArmError): { error: Omit<ArmError, "status"> } {
  const body: Omit<ArmError, "status"> = { code: error.code, message: error.message };
  if (error.target !== undefined) body.target = error.target;
  if (error.details !== undefined && error.details.length > 0) body.details = error.details;
  return { error: body };
}

/** 404 for a resource group that does not exist. */
export function resourceGroupNotFound(resourceGroup: string): ArmError {
  return { status: 404, code: "ResourceGroupNotFound", message: `Resource group '${resourceGroup}' could not be found.` };
}

/**
 * 404 for a missing resource, e.g. `resourceNotFound("Microsoft.ContainerInstance/containerGroups", "cg", "rg")`.
 * The trailing link is what current ARM appends.
 */
export function resourceNotFound(resourceType: string, name: string, resourceGroup: string): ArmError {
  return {
    status: 404,
    code: "ResourceNotFound",
    message:
      `The Resource '${resourceType}/${name}' under resource group '${resourceGroup}' was not found. ` +
      "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
  };
}

export function containerGroupNotFound(resourceGroup: string, name: string): ArmError {
  return resourceNotFound("Microsoft.ContainerInstance/containerGroups", name, resourceGroup);
}

export interface AuthorizationFailure {
  /** The caller's client (application) id or user principal name. */
  clientId: string;
  objectId: string;
  /** e.g. `Microsoft.ContainerInstance/containerGroups/write`. */
  action: string;
  /** The resource id the action was attempted on. */
  scope: string;
}

/** 403 when the caller's role assignments do not cover the action. */
export function authorizationFailed(failure: AuthorizationFailure): ArmError {
  return {
    status: 403,
    code: "AuthorizationFailed",
    message:
      `The client '${failure.clientId}' with object id '${failure.objectId}' does not have authorization to perform ` +
      `action '${failure.action}' over scope '${failure.scope}' or the scope is invalid. ` +
      "If access was recently granted, please refresh your credentials.",
  };
}

/** 400 for a tracked resource PUT without a location (ARM's own check, before the resource provider). */
export function locationRequired(): ArmError {
  return { status: 400, code: "LocationRequired", message: "The location property is required for this definition.", target: "location" };
}

/**
 * 400 for a body the resource provider could not deserialize. `reason` is the JSON.NET text, e.g.
 * "Required property 'properties' not found in JSON. Path '', line 1, position 22."
 */
export function invalidRequestContent(reason: string, target?: string): ArmError {
  const error: ArmError = {
    status: 400,
    code: "InvalidRequestContent",
    message: `The request content was invalid and could not be deserialized: '${reason}'.`,
  };
  if (target !== undefined) error.target = target;
  return error;
}

/**
 * 400 for a PUT whose body is empty or not JSON at all. [guess] The code is the one ARM uses for
 * bodies it cannot read; the reason text is the emulator's own.
 */
export function unreadableRequestContent(detail = "The request body is empty or is not valid JSON."): ArmError {
  return invalidRequestContent(detail);
}

export interface CapacityShortfall {
  location: string;
  cpu: number;
  memoryInGB: number;
  osType: string;
  /** True when the group is deployed into a subnet: the message then ends with "virtual network". */
  virtualNetwork: boolean;
}

/**
 * 409 when ACI cannot place the requested CPU and memory. Real ACI answers this both for a region
 * out of capacity and for a group asking more than the SKU's maximum (4 CPU / 16 GB for Standard).
 */
export function capacityUnavailable(shortfall: CapacityShortfall): ArmError {
  const network = shortfall.virtualNetwork ? " virtual network" : "";
  return {
    status: 409,
    code: "ServiceUnavailable",
    message:
      `The requested resource is not available in the location '${shortfall.location}' at this moment. ` +
      "Please retry with a different resource request or in another location. " +
      `Resource requested: '${formatAmount(shortfall.cpu)}' CPU '${formatAmount(shortfall.memoryInGB)}' GB memory ` +
      `'${shortfall.osType}' OS${network}`,
  };
}

/** 400 when ACI cannot pull (or resolve) an image. */
export function inaccessibleImage(image: string, containerGroup: string, target?: string): ArmError {
  const error: ArmError = {
    status: 400,
    code: "InaccessibleImage",
    message: `The image '${image}' in container group '${containerGroup}' is not accessible. Please check the image and registry credential.`,
  };
  if (target !== undefined) error.target = target;
  return error;
}

/** Numbers the way ACI prints them in messages: `1`, `1.5`, never `1.5000000000000002`. */
export function formatAmount(value: number): string {
  return String(Math.round(value * 1e6) / 1e6);
}

/** ARM's answer for an api-version a resource type does not have. */
export function noRegisteredProvider(apiVersion: string, type: string): ArmError {
  return {
    status: 400,
    code: "NoRegisteredProviderFound",
    message: `No registered resource provider found for location '${wellKnown.location}' and API version '${apiVersion}' for type '${type}'.`,
  };
}

/** [guess] the status; code and message are ARM's for a resource that a PUT would move to another region. */
export function resourceMoved(name: string, existingLocation: string, resourceGroup: string, location: string): ArmError {
  return {
    status: 409,
    code: "InvalidResourceLocation",
    message: `The resource '${name}' already exists in location '${existingLocation}' in resource group '${resourceGroup}'. A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`,
  };
}
