import { strict as assert } from "node:assert";
import { canMove, FleetAgent, type AgentState } from "../../../src/start/fleet";

describe("agent states", () => {
  const moves: [AgentState, AgentState, boolean][] = [
    ["planned", "creating", true],
    ["planned", "online", false],
    ["creating", "creating", true],
    ["creating", "provisioned", true],
    ["creating", "online", true],
    ["creating", "taken", true],
    ["provisioned", "online", true],
    ["provisioned", "creating", false],
    ["online", "failed", false],
    ["failed", "creating", false],
    ["taken", "failed", false],
  ];
  for (const [from, to, allowed] of moves) {
    it(`${from} -> ${to}: ${allowed ? "allowed" : "refused"}`, () => { assert.equal(canMove(from, to), allowed); });
  }

  it("refuses a move the table does not allow", () => {
    const agent = new FleetAgent("azp-1-1-1", {}, "westeurope");
    agent.moveTo("creating");
    agent.moveTo("online");
    assert.throws(() => { agent.moveTo("failed", "late"); }, /cannot go from online to failed/);
  });

  it("counts only a group this step asked for as one it may have", () => {
    const agent = new FleetAgent("azp-1-1-1", {}, "westeurope");
    assert.equal(agent.mayHaveGroup, false);
    agent.moveTo("creating");
    assert.equal(agent.mayHaveGroup, true);
    agent.moveTo("taken", "another step's");
    assert.equal(agent.mayHaveGroup, false);
  });
});
