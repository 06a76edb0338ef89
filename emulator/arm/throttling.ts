// ARM's request throttling as Microsoft has applied it since 2024: a token bucket per
// subscription (or tenant), per security principal and per kind of operation (read, write,
// delete), in each region. A request takes one token; an empty bucket answers 429 with
// Retry-After until the refill gives a token back. The bucket sizes and refill rates are the
// documented defaults (request-limits-and-throttling); the emulator is one region.
import type { NextFunction, Request, Response } from "express";
import type { EmulatorContext } from "../context";
import type { ArmOperationKind, BucketLimit } from "../state";
import { sendArmError } from "./respond";

const singular: Record<ArmOperationKind, string> = { reads: "read", writes: "write", deletes: "delete" };

export function armThrottling(ctx: EmulatorContext) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const buckets = ctx.state.armBuckets;
    const kind = operationKind(req.method);
    const limit: BucketLimit = ctx.state.behaviour.armRequestLimits[kind];
    const subscription = /^\/subscriptions\/([^/?]+)/i.exec(req.path)?.[1]?.toLowerCase();
    // The claims of the token armAuthentication has verified.
    const claims = res.locals.armClaims as Record<string, unknown> | undefined;
    const actor = typeof claims?.oid === "string" ? claims.oid : "";
    const tenant = typeof claims?.tid === "string" ? claims.tid : "";
    const scope = subscription === undefined ? "tenant" : "subscription";
    const key = `${scope}/${subscription ?? tenant}/${actor}/${kind}`;
    const now = Date.now();
    const bucket = buckets.get(key) ?? { tokens: limit.size, refilledAt: now };
    bucket.tokens = Math.min(limit.size, bucket.tokens + ((now - bucket.refilledAt) / 1000) * limit.refillPerSecond);
    bucket.refilledAt = now;
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const seconds = Math.max(1, Math.ceil((1 - bucket.tokens) / limit.refillPerSecond));
      res.setHeader("Retry-After", String(seconds));
      res.setHeader(`x-ms-ratelimit-remaining-${scope}-${kind}`, "0");
      sendArmError(res, {
        status: 429,
        code: scope === "subscription" ? "SubscriptionRequestsThrottled" : "TenantRequestsThrottled",
        message: `Number of '${singular[kind]}' requests for ${scope} '${subscription ?? tenant}' actor '${actor}' exceeded. Please try again after '${seconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.`,
      });
      return;
    }
    bucket.tokens -= 1;
    res.setHeader(`x-ms-ratelimit-remaining-${scope}-${kind}`, String(Math.floor(bucket.tokens)));
    next();
  };
}

function operationKind(method: string): ArmOperationKind {
  switch (method.toUpperCase()) {
    case "GET":
    case "HEAD":
      return "reads";
    case "DELETE":
      return "deletes";
    default:
      return "writes";
  }
}
