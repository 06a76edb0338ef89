// Deadlines on requests and waits. They run on the global timers (not AbortSignal.timeout, whose
// timer is internal), so tests drive them with sinon's fake timers as they drive the Clock.
import { getMaxListeners, setMaxListeners } from "node:events";

/** A request got no answer in time; `what` names it (e.g. "ARM: GET container group azp-1-1-1"). */
export class RequestTimeout extends Error {
  override readonly name = "RequestTimeout";
  constructor(
    readonly what: string,
    readonly afterMs: number,
  ) {
    super(`${what}: no answer within ${Math.round(afterMs / 1000)} s`);
  }
}

/** A signal that aborts when `outer` does, or after `ms` with `reason()`; `clear` stops its timer. */
export function deadlineSignal(ms: number, reason: () => Error, outer?: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => { controller.abort(reason()); }, ms);
  const stopFollowing = abortWith(controller, outer);
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      stopFollowing();
    },
  };
}

/**
 * Settles with `promise`, or rejects with the signal's reason as soon as it aborts: a caller stops
 * waiting even for a call that ignores its abort signal (an SDK layer, a token request).
 */
export async function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    // No one waits for the call any more: its own failure (the SDK's AbortError) is not the caller's.
    promise.catch(() => {});
    signal.throwIfAborted();
  }
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => { reject(signal.reason as Error); };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Runs one request with a deadline of `ms` composed with `outer` (the step's cancel and timeout):
 * the request gets the combined signal, and the caller is released when it aborts.
 */
export async function withDeadline<T>(what: string, ms: number, outer: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = deadlineSignal(ms, () => new RequestTimeout(what, ms), outer);
  try {
    return await unlessAborted(call(deadline.signal), deadline.signal);
  } finally {
    deadline.clear();
  }
}

/** Aborts `controller` when `signal` aborts (at once if it has); answers a function that stops following. */
export function abortWith(controller: AbortController, signal: AbortSignal | undefined): () => void {
  if (signal === undefined) return () => {};
  const onAbort = () => { controller.abort(signal.reason); };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return () => { signal.removeEventListener("abort", onAbort); };
}

/**
 * Abort listeners one agent's concurrent requests and waits add to a signal they share, at most
 * (measured: 3 while a fleet starts, cold or claimed; 2 while its clean-up deletes after a cancel).
 */
const listenersPerAgent = 4;

/**
 * Lets every agent of a fleet of `agents` listen to `signal` at once. Node's leak warning, meant
 * for listeners that pile up, would otherwise print in the user's log from the 11th on.
 */
export function sharedByFleet(signal: AbortSignal, agents: number): void {
  sharedByReads(signal, listenersPerAgent * agents);
}

/** Lets `reads` requests made at once listen to `signal` besides what already does (Node warns from the 11th listener on). */
export function sharedByReads(signal: AbortSignal, reads: number): void {
  setMaxListeners(Math.max(getMaxListeners(signal), reads + 10), signal);
}
