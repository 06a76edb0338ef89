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

export function operationUrl(ctx: EmulatorContext, operation: OperationRecord, provider = "Microsoft.ContainerInstance", apiVersion = "2018-06-01"): string {
  return `${ctx.urls.arm}subscriptions/${subscriptionOf(operation.resourceId)}/providers/${provider}/locations/${operation.location}/operations/${operation.id}?api-version=${apiVersion}`;
}

/** A `Location` URL for a long-running operation: 202 while it runs, then 204 (or its error). */
export function operationResultUrl(ctx: EmulatorContext, operation: OperationRecord, provider: string, apiVersion: string): string {
  return `${ctx.urls.arm}subscriptions/${subscriptionOf(operation.resourceId)}/providers/${provider}/locations/${operation.location}/operationResults/${operation.id}?api-version=${apiVersion}`;
}

function subscriptionOf(resourceId: string): string {
  return resourceId.split("/")[2] ?? "";
}

export function operationRoutes(ctx: EmulatorContext): Router {
  const router = Router();
  router.get("/subscriptions/:subscriptionId/providers/:provider/locations/:location/operationResults/:operationId", (req, res) => {
    if (!hasApiVersion(req, res)) return;
    const operation = ctx.state.operations.get(param(req, "operationId"));
    if (operation === undefined) {
      sendArmError(res, { status: 404, code: "OperationNotFound", message: `The operation '${param(req, "operationId")}' could not be found.` });
      return;
    }
    if (operation.status === "Pending") {
      res.setHeader("Location", req.originalUrl.startsWith("/") ? new URL(req.originalUrl.slice(1), ctx.urls.arm).toString() : req.originalUrl);
      res.setHeader("Retry-After", "1");
      res.status(202).end();
      return;
    }
    if (operation.error !== undefined) {
      sendArmError(res, { status: 400, ...operation.error });
      return;
    }
    res.status(204).end();
  });

  router.get("/subscriptions/:subscriptionId/providers/:provider/locations/:location/operations/:operationId", (req, res) => {
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
