// The emulated agent's step runner cancels a step the way the real agent does: SIGINT, SIGTERM
// 7.5 s later, SIGKILL 2.5 s after that, each only while the step still runs. The waits run on
// sinon's fake clock; the step is a real child process.
import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sinon from "sinon";
import { agentCancel, runStep, type RunningStep } from "../../emulator/pipeline";

/** A "task" that ignores the signals it is not told to exit on. */
const stubbornTask = `
const exitOn = process.env.EXIT_ON ?? "";
process.on("SIGINT", () => { if (exitOn === "SIGINT") process.exit(2); });
process.on("SIGTERM", () => { if (exitOn === "SIGTERM") process.exit(3); });
console.log("ready");
setInterval(() => {}, 1000);
`;

describe("emulated pipeline step: cancel as the agent does", function () {
  let root: string;
  let clock: sinon.SinonFakeTimers | undefined;

  before(function () {
    root = mkdtempSync(join(tmpdir(), "aci-pipeline-"));
    mkdirSync(join(root, "tasks", "Stubborn", "dist"), { recursive: true });
    writeFileSync(join(root, "tasks", "Stubborn", "dist", "main.js"), stubbornTask);
  });

  afterEach(function () {
    clock?.restore();
    clock = undefined;
  });

  after(function () {
    rmSync(root, { recursive: true, force: true });
  });

  /** Starts the stub on the fake clock (Date.now() = 0) and waits until it has set its handlers. */
  async function startStub(exitOn: string): Promise<RunningStep> {
    clock = sinon.useFakeTimers({ now: 0, toFake: ["setTimeout", "clearTimeout", "Date"] });
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((resolve) => { ready = resolve; });
    const step = runStep(root, "Stubborn", { PATH: process.env.PATH ?? "", AGENT_TEMPDIRECTORY: root, EXIT_ON: exitOn }, (line) => {
      if (line === "ready") ready();
    });
    await isReady;
    return step;
  }

  it("a step that ignores SIGINT and SIGTERM gets SIGINT, SIGTERM 7.5 s later and SIGKILL 2.5 s after that", async function () {
    const step = await startStub("");
    const cancelled = step.cancel();
    await clock?.tickAsync(agentCancel.sigintTimeoutMs);
    await clock?.tickAsync(agentCancel.sigtermTimeoutMs);
    const run = await cancelled;
    assert.deepEqual(run.signals, [
      { signal: "SIGINT", at: 0 },
      { signal: "SIGTERM", at: 7500 },
      { signal: "SIGKILL", at: 10_000 },
    ]);
    assert.equal(run.exitCode, null, "the step was not killed");
  });

  it("a step that ends on SIGTERM gets no SIGKILL", async function () {
    const step = await startStub("SIGTERM");
    const cancelled = step.cancel();
    await clock?.tickAsync(agentCancel.sigintTimeoutMs);
    const run = await cancelled;
    await clock?.tickAsync(agentCancel.sigtermTimeoutMs);
    assert.deepEqual(run.signals.map((s) => [s.signal, s.at]), [["SIGINT", 0], ["SIGTERM", 7500]]);
    assert.equal(run.exitCode, 3);
  });

  it("a step that ends on SIGINT gets nothing else", async function () {
    const step = await startStub("SIGINT");
    const run = await step.cancel();
    await clock?.tickAsync(agentCancel.sigintTimeoutMs + agentCancel.sigtermTimeoutMs);
    assert.deepEqual(run.signals.map((s) => s.signal), ["SIGINT"]);
    assert.deepEqual(step.signals.map((s) => s.signal), ["SIGINT"]);
    assert.equal(run.exitCode, 2);
  });
});
