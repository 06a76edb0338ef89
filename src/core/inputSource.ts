import { InputError } from "./errors";

/** Raw task inputs by name, as the pipeline hands them over; undefined when not set. */
export interface InputReader {
  get(name: string): string | undefined;
}

/** The pipeline variables the tasks need, as raw strings; undefined when the pipeline has none. */
export interface PipelineVariables {
  /** Build.BuildId: set in build and YAML pipelines. */
  buildId?: string;
  /** Release.ReleaseId: set in classic release pipelines. */
  releaseId?: string;
  /** System.JobAttempt: 1 on the first run of a job, higher on re-runs. */
  jobAttempt?: string;
  /** System.CollectionUri: the organization URL, with a trailing slash. */
  collectionUri?: string;
  /** System.TeamProjectId */
  teamProjectId?: string;
  /** System.TeamProject: the project name, used only when the id is missing. */
  teamProject?: string;
}

// Checking raw inputs: value parsers throw `invalid(reason)`; parseInput turns that into problems
// that name the input; combine gathers fields so that every problem is reported at once.

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };
export type ValuesOf<R> = { [K in keyof R]: R[K] extends Parsed<infer T> ? T : never };

/** Given text is trimmed and non-empty; undefined means the input was not set. */
export type ValueParser<T> = (given: string | undefined) => T;
export type TextParser<T> = (text: string) => T;

/** Why a value is wrong; the caller prefixes the name of the input. */
class Invalid extends Error {
  readonly reasons: readonly string[];

  constructor(reasons: readonly string[]) {
    super(reasons.join("; "));
    this.reasons = reasons;
  }
}

/** Throw it from a value parser to report why the value is wrong. */
export function invalid(reason: string): Error {
  return new Invalid([reason]);
}

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function failed(problems: string[]): Parsed<never> {
  return { ok: false, problems };
}

export function valueOf<T>(parsed: Parsed<T>): T | undefined {
  return parsed.ok ? parsed.value : undefined;
}

export function nonEmpty(raw: string | undefined): string | undefined {
  const text = raw?.trim();
  return text === "" ? undefined : text;
}

export function parseValue<T>(label: string, raw: string | undefined, parse: ValueParser<T>): Parsed<T> {
  try {
    return ok(parse(nonEmpty(raw)));
  } catch (error) {
    if (error instanceof Invalid) {
      return failed(error.reasons.map((reason) => `${label}: ${reason}`));
    }
    throw error;
  }
}

export function parseInput<T>(read: InputReader, input: string, parse: ValueParser<T>): Parsed<T> {
  return parseValue(input, read.get(input), parse);
}

/** All values when every field parsed and there are no further problems, else every problem. */
export function combine<R extends Record<string, Parsed<unknown>>>(fields: R, moreProblems: readonly string[] = []): Parsed<ValuesOf<R>> {
  const problems = [...Object.values(fields).flatMap((field) => (field.ok ? [] : field.problems)), ...moreProblems];
  if (problems.length > 0) {
    return failed(problems);
  }
  return ok(Object.fromEntries(Object.entries(fields).map(([key, field]) => [key, valueOf(field)])) as ValuesOf<R>);
}

export function valuesOrThrow<R extends Record<string, Parsed<unknown>>>(fields: R, moreProblems: readonly string[] = []): ValuesOf<R> {
  const combined = combine(fields, moreProblems);
  if (!combined.ok) {
    throw new InputError(combined.problems);
  }
  return combined.value;
}

export function required<T>(parse: TextParser<T>, reason = "required"): ValueParser<T> {
  return (given) => {
    if (given === undefined) {
      throw invalid(reason);
    }
    return parse(given);
  };
}

export function optional<T>(parse: TextParser<T>): ValueParser<T | undefined> {
  return (given) => (given === undefined ? undefined : parse(given));
}

export function withDefault<T>(fallback: T, parse: TextParser<T>): ValueParser<T> {
  return (given) => (given === undefined ? fallback : parse(given));
}

/** Parses every item, reporting the problems of all of them rather than only the first. */
export function parseEach<I, T>(items: readonly I[], parse: (item: I) => T): T[] {
  const reasons: string[] = [];
  const values: T[] = [];
  for (const item of items) {
    try {
      values.push(parse(item));
    } catch (error) {
      if (!(error instanceof Invalid)) {
        throw error;
      }
      reasons.push(...error.reasons);
    }
  }
  if (reasons.length > 0) {
    throw new Invalid(reasons);
  }
  return values;
}

/** Items separated by commas or line breaks; blank items are ignored. */
export function listItems(text: string): string[] {
  return text
    .split(/[,\r\n]+/)
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

export interface NumberedLine {
  number: number;
  line: string;
}

export function nonBlankLines(text: string): NumberedLine[] {
  return text
    .split(/\r?\n/)
    .map((line, index) => ({ number: index + 1, line: line.trim() }))
    .filter(({ line }) => line !== "");
}

/** `name=value`, split at the first `=`. The line itself is not echoed: it may hold a secret. */
export function assignment({ number, line }: NumberedLine, form: string): { name: string; value: string } {
  const equals = line.indexOf("=");
  if (equals < 0) {
    throw invalid(`line ${number} has no '=' (expected ${form})`);
  }
  return { name: line.slice(0, equals).trim(), value: line.slice(equals + 1).trim() };
}

export function uniqueIgnoringCase(values: readonly string[]): string[] {
  const seen = new Set<string>();
  return values.filter((value) => {
    const key = value.toLowerCase();
    const isNew = !seen.has(key);
    seen.add(key);
    return isNew;
  });
}

export const asIs: TextParser<string> = (text) => text;

export function bool(text: string): boolean {
  if (/^true$/i.test(text)) {
    return true;
  }
  if (/^false$/i.test(text)) {
    return false;
  }
  throw invalid(`must be true or false, got '${text}'`);
}

export function choice<T extends string>(options: readonly T[]): TextParser<T> {
  return (text) => {
    const match = options.find((option) => option.toLowerCase() === text.toLowerCase());
    if (match === undefined) {
      throw invalid(`must be one of ${options.join(", ")}, got '${text}'`);
    }
    return match;
  };
}

export function wholeNumber(min: number, max = Number.POSITIVE_INFINITY): TextParser<number> {
  return (text) => {
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!(value >= min && value <= max)) {
      const range = max === Number.POSITIVE_INFINITY ? `of at least ${min}` : `from ${min} to ${max}`;
      throw invalid(`must be a whole number ${range}, got '${text}'`);
    }
    return value;
  };
}

/** A pipeline variable that does not exist reaches the task as its own unexpanded `$(name)`. */
export function secret(text: string): string {
  if (/^\$\([^)]*\)$/.test(text)) {
    throw invalid(`got the text ${text}: that pipeline variable is not defined`);
  }
  return text;
}

export function httpsBaseUrl(text: string): string {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  // Checked first so that the message never repeats a password.
  if (url !== undefined && (url.username !== "" || url.password !== "")) {
    throw invalid("must not contain a user name or password");
  }
  if (url?.protocol !== "https:") {
    throw invalid(`must be an https URL such as https://dev.azure.com/contoso, got '${text}'`);
  }
  if (url.search !== "" || url.hash !== "") {
    throw invalid(`must not have a query or fragment, got '${text}'`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

