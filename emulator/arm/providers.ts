// The Microsoft.ContainerInstance resource provider as a subscription sees it: its resource types
// and the regions of each (ARM's display names), which AciAgentStart reads to check its regions.
import { Router } from "express";
import { param } from "../http";
import { wellKnown } from "../state";
import { hasApiVersion, sendArmError } from "./respond";

/** Regions where public Azure offers container groups (display names, as ARM lists them). */
export const CONTAINER_GROUP_REGIONS = [
  "Australia East", "Australia Southeast", "Brazil South", "Canada Central", "Canada East", "Central India",
  "Central US", "East Asia", "East US", "East US 2", "France Central", "Germany West Central", "Italy North",
  "Japan East", "Japan West", "Korea Central", "North Central US", "North Europe", "Norway East", "Poland Central",
  "South Africa North", "South Central US", "South India", "Southeast Asia", "Sweden Central", "Switzerland North",
  "UAE North", "UK South", "UK West", "West Central US", "West Europe", "West US", "West US 2", "West US 3",
];

/** "West Europe" -> "westeurope", the form a PUT's location takes. */
export function regionName(displayName: string): string {
  return displayName.replace(/\s+/g, "").toLowerCase();
}

export function offersContainerGroups(location: string): boolean {
  return CONTAINER_GROUP_REGIONS.some((region) => regionName(region) === location);
}

export function providerRoutes(): Router {
  const router = Router();
  router.get("/subscriptions/:subscriptionId/providers/:namespace", (req, res) => {
    if (!hasApiVersion(req, res)) return;
    const subscriptionId = param(req, "subscriptionId");
    const namespace = param(req, "namespace");
    if (subscriptionId.toLowerCase() !== wellKnown.subscriptionId) {
      sendArmError(res, { status: 404, code: "SubscriptionNotFound", message: `The subscription '${subscriptionId}' could not be found.` });
      return;
    }
    if (namespace.toLowerCase() !== "microsoft.containerinstance") {
      // [guess] the emulator knows only this provider; ARM answers an unknown namespace like this.
      sendArmError(res, { status: 404, code: "InvalidResourceNamespace", message: `The resource namespace '${namespace}' is invalid.` });
      return;
    }
    const apiVersions = ["2025-09-01", "2024-10-01-preview", "2023-05-01", "2022-09-01", "2021-10-01"];
    res.json({
      id: `/subscriptions/${wellKnown.subscriptionId}/providers/Microsoft.ContainerInstance`,
      namespace: "Microsoft.ContainerInstance",
      registrationState: "Registered",
      registrationPolicy: "RegistrationRequired",
      resourceTypes: [
        { resourceType: "containerGroups", locations: CONTAINER_GROUP_REGIONS, apiVersions, capabilities: "SupportsTags, SupportsLocation" },
        { resourceType: "locations", locations: [], apiVersions },
        { resourceType: "locations/usages", locations: CONTAINER_GROUP_REGIONS, apiVersions },
        { resourceType: "locations/operations", locations: CONTAINER_GROUP_REGIONS, apiVersions },
      ],
    });
  });
  return router;
}
