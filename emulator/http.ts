// What every emulated service shares: body parsing, the request log, and fault injection.
import express, { type NextFunction, type Request, type Response } from "express";
import type { EmulatorState, FaultRule } from "./state";

export type ServiceName = Exclude<FaultRule["service"], "any">;

/** The largest request the emulator reads: ARM's own limit for a request body is 4 MiB. */
const bodyLimit = "4mb";

export function serviceApp(service: ServiceName, state: EmulatorState): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use(express.raw({ type: () => true, limit: bodyLimit }));
  app.use(recordExchange(service, state));
  app.use(injectFaults(service, state));
  return app;
}

/** The raw request body as text ("" when there is none). */
export function bodyText(req: Request): string {
  const body: unknown = req.body;
  return Buffer.isBuffer(body) ? body.toString("utf8") : "";
}

/** Parses a JSON request body; undefined when it is absent or not JSON. */
export function jsonBody(req: Request): unknown {
  const text = bodyText(req);
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function formBody(req: Request): URLSearchParams {
  return new URLSearchParams(bodyText(req));
}

export function queryString(req: Request, name: string): string | undefined {
  // Query names are case-insensitive in ARM and Azure DevOps.
  for (const [key, value] of Object.entries(req.query)) {
    if (key.toLowerCase() === name.toLowerCase() && typeof value === "string") return value;
  }
  return undefined;
}

export function param(req: Request, name: string): string {
  const value = (req.params as Record<string, string | undefined>)[name];
  if (value === undefined) throw new Error(`route has no parameter ${name}`);
  return value;
}

function recordExchange(service: ServiceName, state: EmulatorState) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const chunks: Buffer[] = [];
    const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
    const end = res.end.bind(res) as (chunk?: unknown, ...rest: unknown[]) => Response;
    const keep = (chunk: unknown) => {
      if (typeof chunk === "string") chunks.push(Buffer.from(chunk));
      else if (Buffer.isBuffer(chunk)) chunks.push(chunk);
    };
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      keep(chunk);
      return write(chunk, ...rest);
    }) as Response["write"];
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      keep(chunk);
      const contentType = String(res.getHeader("content-type") ?? "");
      state.requestLog.push({
        service,
        method: req.method,
        url: req.originalUrl,
        userAgent: req.headers["user-agent"] ?? "",
        status: res.statusCode,
        requestBody: bodyText(req),
        responseBody: contentType.includes("gzip") || contentType.includes("octet") ? "<binary>" : Buffer.concat(chunks).toString("utf8"),
        at: new Date().toISOString(),
      });
      return end(chunk, ...rest);
    }) as Response["end"];
    next();
  };
}

function injectFaults(service: ServiceName, state: EmulatorState) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const rule = state.faults.find(
      (fault) =>
        fault.remaining > 0 &&
        (fault.service === "any" || fault.service === service) &&
        (fault.method === undefined || fault.method.toUpperCase() === req.method) &&
        new RegExp(fault.path, "i").test(req.path),
    );
    if (rule === undefined) {
      next();
      return;
    }
    rule.remaining--;
    for (const [name, value] of Object.entries(rule.headers ?? {})) res.setHeader(name, value);
    if (rule.body === undefined) {
      res.status(rule.status).end();
    } else if (typeof rule.body === "string") {
      res.status(rule.status).type(rule.body.trimStart().startsWith("<") ? "html" : "text").send(rule.body);
    } else {
      res.status(rule.status).json(rule.body);
    }
  };
}
