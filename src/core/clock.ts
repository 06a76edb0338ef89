/** Time as the core sees it, so tests can run the waiting logic without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects (with the signal's reason) as soon as the signal is aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** On the global timers, which sinon's fake timers replace in tests. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason as Error);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
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
