// ARM long-running operations of the container instance provider: the Azure-AsyncOperation
// URL a PUT, DELETE or start answers with, and its status document.
import { Router } from "express";
import type { EmulatorContext } from "../context";
import { param } from "../http";
import type { OperationRecord } from "../state";
import { hasApiVersion, sendArmError } from "./respond";

export function startOperation(ctx: EmulatorContext, location: string, resourceId: string): OperationRecord {
  const operation: OperationRecord = {
    id: ctx.state.newGuid(),
    location,
    resourceId,
    status: "Pending",
    startTime: new Date().toISOString(),
  };
  ctx.state.operations.set(operation.id, operation);
  return operation;
}

export function finishOperation(operation: OperationRecord, error?: { code: string; message: string }): void {
  operation.status = error === undefined ? "Succeeded" : "Failed";
  operation.endTime = new Date().toISOString();
  if (error !== undefined) operation.error = { code: error.code, message: error.message };
}

export function operationUrl(ctx: EmulatorContext, operation: OperationRecord): string {
  return `${ctx.urls.arm}subscriptions/${subscriptionOf(operation.resourceId)}/providers/Microsoft.ContainerInstance/locations/${operation.location}/operations/${operation.id}?api-version=2018-06-01`;
}

function subscriptionOf(resourceId: string): string {
  return resourceId.split("/")[2] ?? "";
}

export function operationRoutes(ctx: EmulatorContext): Router {
  const router = Router();
  router.get("/subscriptions/:subscriptionId/providers/Microsoft.ContainerInstance/locations/:location/operations/:operationId", (req, res) => {
    if (!hasApiVersion(req, res)) return;
    const operation = ctx.state.operations.get(param(req, "operationId"));
    if (operation === undefined) {
      sendArmError(res, { status: 404, code: "OperationNotFound", message: `The operation '${param(req, "operationId")}' could not be found.` });
      return;
    }
    res.json({
      id: operation.resourceId,
      status: operation.status,
      startTime: operation.startTime,
      ...(operation.endTime === undefined ? {} : { endTime: operation.endTime }),
      properties: { events: [] },
      ...(operation.error === undefined ? {} : { error: operation.error }),
    });
  });
  return router;
}
