/**
 * How a raw input value becomes what TaskPlatform returns. Shared by the task-lib adapter and
 * the in-memory fake in tests/helpers so both behave the same; no task-lib import here.
 */

/** The value trimmed, or undefined when absent or blank. */
export function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** The value, or an Error naming the input when it is required and missing. */
export function requireValue(name: string, value: string | undefined, required: boolean | undefined): string | undefined {
  if (required && value === undefined) {
    throw new Error(`Input required: ${name}`);
  }
  return value;
}

/** Items of a delimited value, each trimmed, blanks dropped. */
export function splitValue(value: string | undefined, separator: string | RegExp): string[] {
  if (value === undefined) return [];
  return value.split(separator).map((item) => item.trim()).filter((item) => item !== "");
}

/** The lines of a multiLine value, each trimmed, blanks dropped. */
export function splitLines(value: string | undefined): string[] {
  return splitValue(value, /\r?\n/);
}

/** `true`/`false` in any case; absent is false; anything else is an Error naming the input. */
export function parseBool(name: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const lower = value.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  throw new Error(`Input ${name} must be true or false, not '${value}'`);
}
