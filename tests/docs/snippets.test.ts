import { strict as assert } from "node:assert";
import { repoRoot } from "../integration/helpers";
import { inputProblems, snippetRuns, substitute, taskDefinition, yamlSnippets, type TaskStep } from "./snippets";

const start = taskDefinition(repoRoot, "AciAgentStart");
const stop = taskDefinition(repoRoot, "AciAgentStop");

describe("docs: snippet checks", function () {
  it("finds yaml fences with the line they start on, and nothing else", function () {
    const markdown = ["# Title", "```yaml", "a: 1", "```", "```sh", "echo", "```", "```yml", "- b", "```"].join("\n");
    assert.deepEqual(yamlSnippets(markdown, "x.md"), [
      { where: "x.md:2", text: "a: 1\n" },
      { where: "x.md:8", text: "- b\n" },
    ]);
  });

  it("reads a pipeline as one run, in document order, with its jobs' demands", function () {
    const [run, ...more] = snippetRuns({
      where: "x.md:1",
      text: [
        "jobs:",
        "- job: a",
        "  steps: [ { task: AciAgentStart@1, name: aci, inputs: { pool: p, agentCount: 2, ephemeral: false } } ]",
        "- job: b",
        "  pool: { name: p, demands: ACI_RUN_ID -equals $(Build.BuildId) }",
        "- job: c",
        "  steps: [ { task: AciAgentStop@1, inputs: { pool: p } }, { script: make } ]",
      ].join("\n"),
    });
    assert.equal(more.length, 0);
    assert.ok(run !== undefined);
    assert.deepEqual(run.steps, [
      { task: "AciAgentStart", major: 1, name: "aci", inputs: { pool: "p", agentCount: "2", ephemeral: "false" } },
      { task: "AciAgentStop", major: 1, inputs: { pool: "p" } },
    ]);
    assert.deepEqual(run.jobs, [{ demands: [{ name: "ACI_RUN_ID", value: "$(Build.BuildId)" }], reachedAfterSteps: 1 }]);
    assert.equal(run.classicRelease, false);
  });

  it("reads a snippet that uses Release variables as a classic release's stage", function () {
    const [run] = snippetRuns({
      where: "x.md:1",
      text: [
        "jobs:",
        "- job: agents",
        "  steps: [ { task: AciAgentStart@1, inputs: { namePrefix: qa } } ]",
        "- job: deploy",
        "  pool: { name: p, demands: ACI_FLEET -equals qa-$(Release.ReleaseId) }",
      ].join("\n"),
    });
    assert.equal(run?.classicRelease, true);
    assert.deepEqual(run.jobs, [{ demands: [{ name: "ACI_FLEET", value: "qa-$(Release.ReleaseId)" }], reachedAfterSteps: 1 }]);
  });

  it("reads a list of steps as separate examples", function () {
    const runs = snippetRuns({ where: "x.md:1", text: "- task: AciAgentStart@1\n- script: x\n- task: AciAgentStop@1\n" });
    assert.deepEqual(runs.map((r) => [r.label, r.steps.map((s) => s.task)]), [
      ["x.md:1 step 1", ["AciAgentStart"]],
      ["x.md:1 step 3", ["AciAgentStop"]],
    ]);
  });

  const step = (task: TaskStep["task"], inputs: Record<string, string>, major = 1): TaskStep => ({ task, major, inputs });
  const cases: { what: string; step: TaskStep; problems: RegExp[] }[] = [
    { what: "a correct start step", step: step("AciAgentStart", { azureSubscription: "c", resourceGroup: "g", pool: "p", agentCount: "2" }), problems: [] },
    { what: "a misspelled input", step: step("AciAgentStart", { azureSubscription: "c", agentCont: "2" }), problems: [/unknown input 'agentCont'/] },
    { what: "a start-only input on the stop task", step: step("AciAgentStop", { azureSubscription: "c", agentCount: "2" }), problems: [/AciAgentStop: unknown input 'agentCount'/] },
    { what: "a value a fixed pick list lacks", step: step("AciAgentStop", { scope: "all" }), problems: [/input 'scope' is 'all', not one of run, names, expired/] },
    { what: "a macro in a fixed pick list", step: step("AciAgentStop", { scope: "$(scope)" }), problems: [] },
    { what: "an editable pick list", step: step("AciAgentStart", { location: "anywhere" }), problems: [] },
    { what: "another major version", step: step("AciAgentStart", {}, 2), problems: [/AciAgentStart@2: task.json is version 1/] },
  ];
  for (const { what, step: given, problems } of cases) {
    it(`judges ${what}`, function () {
      const found = inputProblems(given, given.task === "AciAgentStart" ? start : stop);
      assert.equal(found.length, problems.length, found.join("\n"));
      problems.forEach((pattern, i) => { assert.match(found[i] ?? "", pattern); });
    });
  }

  it("substitutes macros and placeholders, and names one it cannot supply", function () {
    const substitutions = { macros: { AZP_TOKEN: "t", "aci.names": "a,b" }, placeholders: { sub: "s" } };
    assert.equal(substitute("$(AZP_TOKEN) $(aci.names) /subscriptions/<sub>/x", substitutions), "t a,b /subscriptions/s/x");
    assert.throws(() => substitute("$(Other)", substitutions), /no value for \$\(Other\)/);
    assert.throws(() => substitute("<registry>", substitutions), /placeholder <registry>/);
  });
});
