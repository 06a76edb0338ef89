// Resource groups: only what the tasks read (GET one) and what every ARM route checks.
import { Router, type Response } from "express";
import type { EmulatorContext } from "../context";
import { param } from "../http";
import { wellKnown, type ResourceGroup } from "../state";
import { resourceGroupNotFound } from "./errors";
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
