// Demands as Azure DevOps reads and matches them (its Demand.TryParse, DemandExists and
// DemandEquals): `NAME` asks that a capability exists, `NAME -equals VALUE` that it has that value.
// Capability names and values compare without regard to case.

export type Demand = { name: string; kind: "exists" } | { name: string; kind: "equals"; value: string };

const DEMAND = /^(?<name>\S+)(\s+-(?<opcode>\S+)\s+(?<value>.*))?$/;

/** Parses a demand string; undefined when Azure DevOps would not accept it. */
export function parseDemand(text: string): Demand | undefined {
  const match = DEMAND.exec(text.trim());
  const name = match?.groups?.name;
  if (match === null || name === undefined) return undefined;
  const opcode = match.groups?.opcode;
  if (opcode === undefined) return { name, kind: "exists" };
  // The opcode is matched with case, as the service's switch does.
  const value = match.groups?.value ?? "";
  if (opcode === "equals" && value !== "") return { name, kind: "equals", value };
  return undefined;
}

/** Whether an agent with these capabilities meets every demand (one it cannot read, never). */
export function demandsMet(capabilities: Record<string, string>, demands: readonly string[]): boolean {
  const byName = new Map(Object.entries(capabilities).map(([name, value]) => [name.toLowerCase(), value]));
  return demands.every((text) => {
    const demand = parseDemand(text);
    if (demand === undefined) return false;
    const value = byName.get(demand.name.toLowerCase());
    if (value === undefined) return false;
    return demand.kind === "exists" || value.toLowerCase() === demand.value.toLowerCase();
  });
}

/**
 * The one dictionary a demand is matched against (the service's Demand.IsSatisfied takes one):
 * system capabilities, then user capabilities, so that a user capability replaces a system one of
 * the same name, compared without regard to case.
 */
export function agentCapabilities(system: Record<string, string>, user: Record<string, string>): Record<string, string> {
  const byName = new Map<string, [string, string]>();
  for (const [name, value] of [...Object.entries(system), ...Object.entries(user)]) byName.set(name.toLowerCase(), [name, value]);
  return Object.fromEntries(byName.values());
}
