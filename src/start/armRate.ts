// ARM's refusals for its rates, which the SDK leaves to the step for a write (PUT or PATCH): a
// create or a claim (ACI's create rate per subscription) and any write (ARM's write throttling)
// answered 429.
import { AzureError } from "../azure/aci";
import { Backoff, formatSeconds } from "../core/clock";
import type { StartRun } from "./context";
import type { FleetAgent } from "./fleet";

/**
 * A write refused for the rate of creates (ACI allows so many per subscription in five and in
 * sixty minutes) or by ARM's write throttling.
 */
export function isWriteRateError(error: AzureError): boolean {
  return error.status === 429;
}

/**
 * Sends a write until ARM takes it: one refused for a rate is sent again after the wait ARM asks
 * for (Retry-After), or a growing one when it asks for none; the step's time and a cancel end
 * the wait. Every other answer is the caller's.
 */
export async function writeWaitingOutRate<T>(run: Pick<StartRun, "services" | "signal" | "inFlight">, agent: FleetAgent, what: string, write: () => Promise<T>): Promise<T> {
  const { services, signal, inFlight } = run;
  const rateBackoff = new Backoff(10_000, 60_000);
  for (;;) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof AzureError) || !isWriteRateError(error) || signal.aborted) throw error;
      const waitMs = error.retryAfterMs ?? rateBackoff.next();
      services.log.warning(`${agent.name}: ARM refused the ${what} for its rate limits (${error.code}: ${error.message}); trying again in ${formatSeconds(waitMs)}, as ARM asks`);
      await inFlight.track(`ARM's rate limit: ${formatSeconds(waitMs)} before sending the ${what} again`, services.clock.sleep(waitMs, signal));
    }
  }
}
