// Microsoft Entra: OpenID configuration, signing keys, and the v2.0 token endpoint for the
// client credentials grant with a secret, a certificate assertion or a federated assertion.
import { createHash, createPublicKey } from "node:crypto";
import { Router, type Response } from "express";
import { azureDevOpsResourceId, devopsOidcIssuer, federatedAudience, tokenIssuer, type EmulatorContext } from "../context";
import { formBody, param } from "../http";
import type { EntraClient } from "../state";
import { decodeHeader, verifyCertificateAssertion } from "../tokens";

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const accessTokenLifetimeSeconds = 86399;

export function entraRoutes(ctx: EmulatorContext): Router {
  const router = Router();
  const tenantBase = (tenant: string) => `${ctx.urls.authority}/${tenant}`;

  router.get("/:tenant/v2.0/.well-known/openid-configuration", (req, res) => {
    const base = tenantBase(param(req, "tenant"));
    res.json({
      issuer: `${base}/v2.0`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      tenant_region_scope: "EU",
      cloud_instance_name: "emulator",
    });
  });

  router.get("/:tenant/discovery/v2.0/keys", (_req, res) => {
    const jwk = createPublicKey(ctx.tokens.publicKey).export({ format: "jwk" });
    res.json({ keys: [{ ...jwk, kid: ctx.tokens.keyId, use: "sig", kty: "RSA" }] });
  });

  router.post("/:tenant/oauth2/v2.0/token", (req, res) => {
    const tenant = param(req, "tenant");
    const form = formBody(req);
    const tokenEndpoint = `${tenantBase(tenant)}/oauth2/v2.0/token`;
    const clientId = form.get("client_id") ?? "";
    const scope = form.get("scope") ?? "";

    if (form.get("grant_type") !== "client_credentials") {
      entraError(res, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
      return;
    }
    const client = ctx.state.clients.get(clientId.toLowerCase());
    if (client === undefined || !sameTenant(client, tenant)) {
      entraError(
        res,
        400,
        "unauthorized_client",
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
      );
      return;
    }
    if (!scope.split(" ").some((s) => s.endsWith("/.default"))) {
      entraError(
        res,
        400,
        "invalid_scope",
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
      return;
    }
    const failure = authenticate(ctx, client, form, tokenEndpoint);
    if (failure !== undefined) {
      entraError(res, 401, "invalid_client", failure.code, failure.message);
      return;
    }
    const resource = scope.split(" ").find((s) => s.endsWith("/.default"))?.slice(0, -"/.default".length) ?? "";
    const audience = resource === azureDevOpsResourceId ? azureDevOpsResourceId : resource.replace(/\/?$/, "/");
    const objectId = objectIdOf(client.clientId);
    const accessToken = ctx.tokens.sign(
      { aud: audience, tid: client.tenantId, appid: client.clientId, oid: objectId, sub: objectId, idtyp: "app" },
      tokenIssuer(client.tenantId),
      accessTokenLifetimeSeconds,
    );
    res.setHeader("Cache-Control", "no-store, no-cache");
    res.json({
      token_type: "Bearer",
      expires_in: accessTokenLifetimeSeconds,
      ext_expires_in: accessTokenLifetimeSeconds,
      access_token: accessToken,
    });
  });

  return router;
}

/** A stable object id for a client, as Entra gives each service principal one. */
export function objectIdOf(clientId: string): string {
  const hex = createHash("sha256").update(`sp:${clientId}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function sameTenant(client: EntraClient, tenant: string): boolean {
  return client.tenantId.toLowerCase() === tenant.toLowerCase();
}

function authenticate(
  ctx: EmulatorContext,
  client: EntraClient,
  form: URLSearchParams,
  tokenEndpoint: string,
): { code: number; message: string } | undefined {
  const secret = form.get("client_secret");
  const assertion = form.get("client_assertion");
  if (secret !== null) {
    if (client.secrets.has(secret)) return undefined;
    return {
      code: 7000215,
      message: `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`,
    };
  }
  if (assertion === null || form.get("client_assertion_type") !== assertionType) {
    return {
      code: 7000218,
      message: "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    };
  }
  const header = decodeHeader(assertion);
  const thumbprint = header?.["x5t#S256"] ?? header?.x5t;
  if (typeof thumbprint === "string") {
    const pem = client.certificates.get(thumbprint);
    if (pem !== undefined && verifyCertificateAssertion(assertion, pem, client.clientId, tokenEndpoint)) return undefined;
    return {
      code: 700027,
      message: `AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}']`,
    };
  }
  const claims = ctx.tokens.verify(assertion, devopsOidcIssuer(ctx.urls));
  if (claims === undefined || claims.aud !== federatedAudience) {
    return { code: 700024, message: "AADSTS700024: Client assertion is not within its valid time range or is not a valid token." };
  }
  if (!client.federated) {
    return {
      code: 700213,
      message: `AADSTS700213: No matching federated identity record found for presented assertion subject '${String(claims.sub)}'.`,
    };
  }
  return undefined;
}

function entraError(res: Response, status: number, error: string, code: number, description: string): void {
  const traceId = crypto.randomUUID();
  const correlationId = crypto.randomUUID();
  const timestamp = new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  res.status(status).json({
    error,
    error_description: `${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}
