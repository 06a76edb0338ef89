// The agents one start step plans, each in one explicit state.
import type { AciEvent } from "../azure/aci";
import type { AgentKey } from "../run/agentIdentity";

/**
 * planned: name and tags decided, nothing sent. registering: its registration is sent (or being
 * retried), so it may be registered. creating: a PUT is sent (or waits out a 429) in some region,
 * so the group may exist. provisioned: ARM reports the group provisioned. online: Azure DevOps
 * shows the agent online. failed: it cannot come online (`reason` says why). taken: the name
 * belongs to a group or registration this step did not make, which it must never delete.
 */
export type AgentState = "planned" | "registering" | "creating" | "provisioned" | "online" | "failed" | "taken";

const allowedMoves: Record<AgentState, readonly AgentState[]> = {
  planned: ["registering", "creating", "failed"],
  registering: ["creating", "failed", "taken"],
  // creating -> creating: the next region after one without capacity or quota, or the same one
  // after a create refused for its rate. An agent may come online
  // before its create operation is seen to end.
  creating: ["creating", "provisioned", "online", "failed", "taken"],
  provisioned: ["online", "failed"],
  online: [],
  failed: [],
  taken: [],
};

export function canMove(from: AgentState, to: AgentState): boolean {
  return allowedMoves[from].includes(to);
}

export class FleetAgent {
  state: AgentState = "planned";
  /** Why it failed, or why its name is taken. */
  reason: string | undefined;
  /** The region of its current (or last) create. */
  location: string;
  /** The regions it tries, in order: its planned region first. */
  regions: readonly string[];
  provisionedAfterMs: number | undefined;
  onlineAfterMs: number | undefined;
  /** A PUT sent and not yet answered: the group it makes must be deleted even after a cancel. */
  unansweredPut: Promise<void> | undefined;
  /** Its key, made from the step's first moment for this agent alone (Linux agents). */
  key: Promise<AgentKey> | undefined;
  /** Its registration's id, once Azure DevOps answered. */
  agentId: number | undefined;
  /** A registration sent and not yet answered: it settles with the id of the agent it made, if any. */
  unansweredRegistration: Promise<number | undefined> | undefined;
  registeredAfterMs: number | undefined;
  /** Claimed from a standby pool: true when a warm instance was handed out, false for a fresh group from its profile. */
  warm: boolean | undefined;
  /** Its claim's config map is on its way: the container's listener starts as soon as it lands. */
  identitySent = false;
  /** What the watch last showed of the group, so that only changes are logged. */
  shownState: string | undefined;
  readonly shownEvents = new Set<string>();
  lastWatchAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly name: string,
    readonly tags: Record<string, string>,
    location: string,
    regions: readonly string[] = [location],
  ) {
    this.location = location;
    this.regions = regions;
  }

  moveTo(state: AgentState, reason?: string): void {
    if (state === this.state && state !== "creating") return;
    if (!canMove(this.state, state)) throw new Error(`${this.name}: cannot go from ${this.state} to ${state}`);
    this.state = state;
    if (reason !== undefined) this.reason = reason;
  }

  /** A group of this name may exist because this step asked for it. */
  get mayHaveGroup(): boolean {
    return this.state !== "planned" && this.state !== "registering" && this.state !== "taken";
  }

  /** Event lines not shown before. */
  newEvents(events: readonly AciEvent[]): string[] {
    const lines: string[] = [];
    for (const event of events) {
      const key = `${event.name}|${event.message}|${event.count}`;
      if (this.shownEvents.has(key)) continue;
      this.shownEvents.add(key);
      lines.push(`event ${event.name}${event.count > 1 ? ` (x${event.count})` : ""}: ${event.message}`);
    }
    return lines;
  }
}
