// What every emulated service shares: body parsing, the request log, and fault injection
// (an error answer, a late answer, or none at all).
import express, { type NextFunction, type Request, type Response } from "express";
import { setTimeout as sleep } from "node:timers/promises";
import type { EmulatorState, FaultRule, RequestLogEntry } from "./state";

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

function logEntry(service: ServiceName, req: Request, receivedAt: string, status: number, responseBody: string): RequestLogEntry {
  return {
    service,
    method: req.method,
    url: req.originalUrl,
    userAgent: req.headers["user-agent"] ?? "",
    status,
    requestBody: bodyText(req),
    responseBody,
    receivedAt,
    at: new Date().toISOString(),
  };
}

function recordExchange(service: ServiceName, state: EmulatorState) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const receivedAt = new Date().toISOString();
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
      const responseBody = contentType.includes("gzip") || contentType.includes("octet") ? "<binary>" : Buffer.concat(chunks).toString("utf8");
      state.requestLog.push(logEntry(service, req, receivedAt, res.statusCode, responseBody));
      return end(chunk, ...rest);
    }) as Response["end"];
    res.locals.receivedAt = receivedAt;
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
    if ((rule.skip ?? 0) > 0) {
      rule.skip = (rule.skip ?? 0) - 1;
      next();
      return;
    }
    rule.remaining--;
    const act = () => {
      if (rule.hang !== undefined) {
        hang(service, state, rule.hang, req, res, next);
      } else if (rule.status !== undefined) {
        answer(rule, res);
      } else {
        next();
      }
    };
    if (rule.delayMs === undefined || rule.delayMs <= 0) {
      act();
    } else {
      // The held request is answered even when its client has given up meanwhile, as a server
      // that is merely slow does.
      void sleep(rule.delayMs, undefined, { ref: false }).then(act);
    }
  };
}

function answer(rule: FaultRule, res: Response): void {
  for (const [name, value] of Object.entries(rule.headers ?? {})) res.setHeader(name, value);
  const status = rule.status ?? 500;
  if (rule.body === undefined) {
    res.status(status).end();
  } else if (typeof rule.body === "string") {
    res.status(status).type(rule.body.trimStart().startsWith("<") ? "html" : "text").send(rule.body);
  } else {
    res.status(status).json(rule.body);
  }
}

/** Keeps the connection open and never answers; logs the request with status 0. */
function hang(service: ServiceName, state: EmulatorState, when: "before" | "after", req: Request, res: Response, next: NextFunction): void {
  state.hungConnections.add(req.socket);
  req.socket.once("close", () => state.hungConnections.delete(req.socket));
  const receivedAt = String(res.locals.receivedAt ?? new Date().toISOString());
  state.requestLog.push(logEntry(service, req, receivedAt, 0, ""));
  if (when === "after") {
    // The route runs and decides; whatever it answers never leaves.
    res.end = (() => res) as Response["end"];
    next();
  }
}
