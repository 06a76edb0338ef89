// How the start step fails, and how a failure reads in one line.
import { AzureError } from "../azure/aci";

/** The step failed after pre-flight; what it created has been dealt with as the message says. */
export class StartFailure extends Error {
  override readonly name = "StartFailure";
}

/** The pipeline cancelled the step. */
export class StepCancelled extends Error {
  override readonly name = "StepCancelled";
  constructor() {
    super("The step was cancelled.");
  }
}

/** timeoutMinutes passed. */
export class StepTimedOut extends Error {
  override readonly name = "StepTimedOut";
  constructor(message = "timeoutMinutes passed before the step ended.") {
    super(message);
  }
}

export function describe(error: unknown): string {
  if (error instanceof AzureError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
