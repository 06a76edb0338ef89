// Resource groups: only what the tasks read (GET one) and what every ARM route checks.
import { Router, type Request, type Response } from "express";
import type { EmulatorContext } from "../context";
import { param, queryString } from "../http";
import { wellKnown, type ResourceGroup } from "../state";
import { noRegisteredProvider, resourceGroupNotFound } from "./errors";
import { hasApiVersion, sendArmError } from "./respond";

export function resourceGroupRoutes(ctx: EmulatorContext): Router {
  const router = Router();
  router.get("/subscriptions/:subscriptionId/resourcegroups/:resourceGroup", (req, res) => {
    if (!hasApiVersion(req, res)) return;
    const group = findResourceGroup(ctx, param(req, "subscriptionId"), param(req, "resourceGroup"), res);
    if (group === undefined) return;
    res.json({
      id: `/subscriptions/${wellKnown.subscriptionId}/resourceGroups/${group.name}`,
      name: group.name,
      type: "Microsoft.Resources/resourceGroups",
      location: group.location,
      properties: { provisioningState: "Succeeded" },
    });
  });
  return router;
}

/** The resource group, or an ARM error answered for an unknown subscription or group. */
export function findResourceGroup(ctx: EmulatorContext, subscriptionId: string, name: string, res: Response): ResourceGroup | undefined {
  if (subscriptionId.toLowerCase() !== wellKnown.subscriptionId) {
    sendArmError(res, { status: 404, code: "SubscriptionNotFound", message: `The subscription '${subscriptionId}' could not be found.` });
    return undefined;
  }
  const group = ctx.state.resourceGroups.get(name.toLowerCase());
  if (group === undefined) sendArmError(res, resourceGroupNotFound(name));
  return group;
}

/** A resource a route names: its name and its resource group's, as keys and as created. */
export interface ResourceTarget {
  name: string;
  /** Lower case, for keys. */
  resourceGroup: string;
  /** As the resource group was created. */
  resourceGroupName: string;
}

/**
 * What every ARM route of a resource type checks first: an api-version (one the type has, when
 * `type` and `hasVersion` are given), the subscription and the resource group; else answered.
 */
export function resolveTarget(
  ctx: EmulatorContext,
  req: Request,
  res: Response,
  options: { withName?: boolean; type?: string; hasVersion?: (apiVersion: string) => boolean } = {},
): ResourceTarget | undefined {
  if (!hasApiVersion(req, res)) return undefined;
  const apiVersion = queryString(req, "api-version") ?? "";
  if (options.type !== undefined && options.hasVersion?.(apiVersion) === false) {
    sendArmError(res, noRegisteredProvider(apiVersion, options.type));
    return undefined;
  }
  const group = findResourceGroup(ctx, param(req, "subscriptionId"), param(req, "resourceGroup"), res);
  if (group === undefined) return undefined;
  return { name: options.withName === false ? "" : param(req, "name"), resourceGroup: group.name.toLowerCase(), resourceGroupName: group.name };
}
