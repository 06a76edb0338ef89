// The Azure Instance Metadata Service's managed identity token route, as a VM (or any Azure host
// with IMDS) running a self-hosted pipeline agent serves it at http://169.254.169.254: plain HTTP,
// the `Metadata: true` header required, the identity chosen by client_id, object_id or mi_res_id,
// and every number of the answer a string.
import { Router, type Response } from "express";
import { azureDevOpsResourceId, tokenIssuer, type EmulatorContext } from "../context";
import { queryString } from "../http";
import { wellKnown } from "../state";

const tokenLifetimeSeconds = 86399;

export interface ManagedIdentity {
  clientId: string;
  objectId: string;
  /** The identity's ARM resource id (a user-assigned identity's, or the VM's for its own). */
  resourceId: string;
}

const resourceGroupScope = `/subscriptions/${wellKnown.subscriptionId}/resourcegroups/${wellKnown.resourceGroup}`;

/** The identities of the emulated agent machine: its system-assigned one and one user-assigned one. */
export const agentMachineIdentities: { systemAssigned: ManagedIdentity; userAssigned: ManagedIdentity[] } = {
  systemAssigned: {
    clientId: "5a5a5a5a-0000-4000-8000-00000000515a",
    objectId: "5a5a5a5a-0000-4000-8000-0000000005a0",
    resourceId: `${resourceGroupScope}/providers/Microsoft.Compute/virtualMachines/agent-vm`,
  },
  userAssigned: [
    {
      clientId: "0a1d0a1d-0000-4000-8000-000000000a1d",
      objectId: "0a1d0a1d-0000-4000-8000-0000000000b1",
      resourceId: `${resourceGroupScope}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pipeline-identity`,
    },
  ],
};

export function imdsRoutes(ctx: EmulatorContext): Router {
  const router = Router();

  router.get("/metadata/identity/oauth2/token", (req, res) => {
    if (String(req.headers.metadata ?? "").toLowerCase() !== "true") {
      imdsError(res, 400, "invalid_request", "Required metadata header not specified");
      return;
    }
    if (queryString(req, "api-version") === undefined) {
      imdsError(res, 400, "invalid_request", "Required query variable 'api-version' is missing");
      return;
    }
    const resource = queryString(req, "resource");
    if (resource === undefined || resource === "") {
      imdsError(res, 400, "invalid_request", "Required query variable 'resource' is missing");
      return;
    }
    const identity = chosenIdentity(queryString(req, "client_id"), queryString(req, "object_id") ?? queryString(req, "principal_id"), queryString(req, "mi_res_id"));
    if (identity === undefined) {
      imdsError(res, 400, "invalid_request", "Identity not found");
      return;
    }
    // IMDS answers for the resource as asked; Entra's v1 tokens carry it as the audience.
    const audience = resource === azureDevOpsResourceId ? azureDevOpsResourceId : resource;
    const now = Math.floor(Date.now() / 1000);
    const accessToken = ctx.tokens.sign(
      { aud: audience, tid: wellKnown.tenantId, appid: identity.clientId, oid: identity.objectId, sub: identity.objectId, idtyp: "app", xms_mirid: identity.resourceId },
      tokenIssuer(wellKnown.tenantId),
      tokenLifetimeSeconds,
    );
    res.json({
      access_token: accessToken,
      client_id: identity.clientId,
      expires_in: String(tokenLifetimeSeconds),
      expires_on: String(now + tokenLifetimeSeconds),
      ext_expires_in: String(tokenLifetimeSeconds),
      not_before: String(now),
      resource,
      token_type: "Bearer",
    });
  });

  return router;
}

function chosenIdentity(clientId: string | undefined, objectId: string | undefined, resourceId: string | undefined): ManagedIdentity | undefined {
  const all = [agentMachineIdentities.systemAssigned, ...agentMachineIdentities.userAssigned];
  if (clientId !== undefined) return all.find((i) => i.clientId.toLowerCase() === clientId.toLowerCase());
  if (objectId !== undefined) return all.find((i) => i.objectId.toLowerCase() === objectId.toLowerCase());
  if (resourceId !== undefined) return agentMachineIdentities.userAssigned.find((i) => i.resourceId.toLowerCase() === resourceId.toLowerCase());
  return agentMachineIdentities.systemAssigned;
}

function imdsError(res: Response, status: number, error: string, description: string): void {
  res.status(status).json({ error, error_description: description });
}
