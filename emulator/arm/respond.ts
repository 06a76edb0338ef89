import type { Request, Response } from "express";
import { queryString } from "../http";
import { armErrorBody, type ArmError } from "./errors";

export function sendArmError(res: Response, error: ArmError): void {
  res.status(error.status).json(armErrorBody(error));
}

/** ARM refuses any request without an api-version. */
export function hasApiVersion(req: Request, res: Response): boolean {
  if (queryString(req, "api-version") !== undefined) return true;
  sendArmError(res, {
    status: 400,
    code: "MissingApiVersionParameter",
    message: "The api-version query parameter (?api-version=) is required for all requests.",
  });
  return false;
}
