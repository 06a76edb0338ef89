import { setTimeout as delay } from "node:timers/promises";

/** Time as the core sees it, so tests can run the waiting logic without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects (with an AbortError) as soon as the signal is aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal === undefined ? {} : { signal });
  },
};

/** A polling interval that starts short and grows by half each time, up to `maxMs`. */
export class Backoff {
  private current: number;

  constructor(
    firstMs: number,
    private readonly maxMs: number,
  ) {
    this.current = firstMs;
  }

  next(): number {
    const value = this.current;
    this.current = Math.min(this.maxMs, Math.round(this.current * 1.5));
    return value;
  }
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
