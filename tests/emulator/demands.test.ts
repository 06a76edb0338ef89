import { strict as assert } from "node:assert";
import { demandsMet, parseDemand } from "../../emulator/devops/demands";

describe("emulator: demands as Azure DevOps matches them", function () {
  const parses: [string, ReturnType<typeof parseDemand>][] = [
    ["docker", { name: "docker", kind: "exists" }],
    ["ACI_FLEET -equals linux-77", { name: "ACI_FLEET", kind: "equals", value: "linux-77" }],
    ["Agent.OS   -equals   Linux", { name: "Agent.OS", kind: "equals", value: "Linux" }],
    ["  ACI_RUN_ID -equals 77  ", { name: "ACI_RUN_ID", kind: "equals", value: "77" }],
    ["name -equals a value with spaces", { name: "name", kind: "equals", value: "a value with spaces" }],
    ["ACI_FLEET -Equals linux-77", undefined],
    ["ACI_FLEET -gtVersion 1", undefined],
    ["ACI_FLEET -equals", undefined],
    ["ACI_FLEET linux-77", undefined],
    ["", undefined],
  ];
  for (const [text, expected] of parses) {
    it(`reads '${text}' as ${expected === undefined ? "no demand" : `${expected.kind} ${expected.name}`}`, function () {
      assert.deepEqual(parseDemand(text), expected);
    });
  }

  const capabilities = { "Agent.OS": "Linux", ACI_RUN_ID: "77", ACI_FLEET: "linux-77", docker: "" };
  const matches: [string[], boolean][] = [
    [[], true],
    [["ACI_FLEET -equals linux-77"], true],
    [["aci_fleet -equals LINUX-77"], true],
    [["ACI_FLEET -equals windows-77"], false],
    [["ACI_FLEET -equals linux-7"], false],
    [["ACI_RUN_ID -equals 77", "ACI_FLEET -equals linux-77"], true],
    [["ACI_RUN_ID -equals 77", "ACI_FLEET -equals windows-77"], false],
    [["docker"], true],
    [["DOCKER"], true],
    [["maven"], false],
    [["maven -equals 3"], false],
    [["ACI_FLEET -gtVersion 1"], false],
  ];
  for (const [demands, expected] of matches) {
    it(`an agent with ACI_FLEET=linux-77 ${expected ? "meets" : "does not meet"} [${demands.join("; ")}]`, function () {
      assert.equal(demandsMet(capabilities, demands), expected);
    });
  }
});
