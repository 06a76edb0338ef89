// Naming what the step is still waiting for when its time runs out.
/** The step's requests not answered yet, named, so that a timeout can say what hung. */
export class InFlight {
  private readonly pending = new Map<number, string | (() => string)>();
  private next = 0;
  private atEnd: string | undefined;

  /** Remembers what was pending when `signal` aborts, before the aborted requests settle. */
  constructor(signal: AbortSignal) {
    signal.addEventListener("abort", () => { this.atEnd = this.pendingNow(); }, { once: true });
  }

  /** `what` may be a function, for a request whose name changes while it runs. */
  async track<T>(what: string | (() => string), call: Promise<T>): Promise<T> {
    const id = this.next++;
    this.pending.set(id, what);
    try {
      return await call;
    } finally {
      this.pending.delete(id);
    }
  }

  /** What was pending when the step ended, or now. */
  describe(): string {
    return this.atEnd ?? this.pendingNow();
  }

  private pendingNow(): string {
    return [...new Set([...this.pending.values()].map((what) => (typeof what === "string" ? what : what())))].join(", ");
  }
}
