// Bounds how many calls of a kind are in flight at once, queueing the rest in order. p-limit does
// this too, but its current versions are ES modules only and the bundle is CommonJS.
export class Limiter {
  private active = 0;
  private readonly waiting: { start: () => void }[] = [];

  constructor(private readonly limit: number) {}

  /** Runs `call` when a slot is free; a call still queued when `signal` aborts never runs. */
  async run<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    // A finishing call hands its slot straight to the next waiter, so a newcomer cannot take it
    // in between and exceed the limit.
    if (this.active < this.limit) this.active++;
    else await this.queue(signal);
    try {
      return await call();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.active--;
      else next.start();
    }
  }

  private queue(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }
}
