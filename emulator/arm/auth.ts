// ARM's bearer-token check: a token from the emulated Entra for the ARM audience and the
// subscription's tenant, with the answers ARM gives when it is missing or wrong.
import type { NextFunction, Request, Response } from "express";
import jwt from "jsonwebtoken";
import { tokenIssuer, type EmulatorContext } from "../context";
import { wellKnown } from "../state";

/**
 * Audiences ARM accepts: its own URL and the public cloud's two resource ids, each with and without
 * the trailing slash (a managed identity's token carries the resource as asked, and the SDKs ask
 * for the scope minus "/.default").
 */
function armAudiences(ctx: EmulatorContext): string[] {
  return [ctx.urls.arm, "https://management.azure.com/", "https://management.core.windows.net/"].flatMap((url) => [url, url.replace(/\/$/, "")]);
}

export function armAuthentication(ctx: EmulatorContext) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? "";
    const challenge = `Bearer authorization_uri="${ctx.urls.authority}/", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`;
    if (!header.toLowerCase().startsWith("bearer ")) {
      res.setHeader("WWW-Authenticate", challenge);
      res.status(401).json({ error: { code: "AuthenticationFailed", message: "Authentication failed. The 'Authorization' header is missing." } });
      return;
    }
    const token = header.slice("bearer ".length).trim();
    const unverified = jwt.decode(token, { json: true });
    const tenant = typeof unverified?.tid === "string" ? unverified.tid : "";
    const claims = ctx.tokens.verify(token, tokenIssuer(tenant));
    if (claims === undefined) {
      res.setHeader("WWW-Authenticate", challenge.replace("missing 'Authorization' header", "invalid access token"));
      res.status(401).json({ error: { code: "InvalidAuthenticationToken", message: "The access token is invalid." } });
      return;
    }
    if (!armAudiences(ctx).includes(String(claims.aud))) {
      res.status(401).json({
        error: {
          code: "InvalidAuthenticationTokenAudience",
          message: `The access token has been obtained for wrong audience or resource '${String(claims.aud)}'. It should exactly match with one of the allowed audiences '${armAudiences(ctx).join("','")}'.`,
        },
      });
      return;
    }
    if (tenant.toLowerCase() !== wellKnown.tenantId) {
      res.status(401).json({
        error: {
          code: "InvalidAuthenticationTokenTenant",
          message: `The access token is from the wrong issuer '${tokenIssuer(tenant)}'. It must match the tenant '${tokenIssuer(wellKnown.tenantId)}' associated with this subscription.`,
        },
      });
      return;
    }
    // For the throttling that follows: it counts requests per principal.
    res.locals.armClaims = claims;
    next();
  };
}
