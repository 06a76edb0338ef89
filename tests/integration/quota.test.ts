// Integration: the bundled AciAgentStart@1 against the emulator's ACI quotas and create rate
// (emulator/README.md, "Quotas and rates"): the fleet planned across regions from their usage
// before any write, a PUT refused for quota moving its agent on, and a create refused for the
// rate sent again after ARM's Retry-After.
import { strict as assert } from "node:assert";
import type { RequestLogEntry } from "../../emulator/state";
import { assertInvariants, assertNoWrites, groupNames, namesOf, plainOutput, runStart, startStep, until, useEmulator, type RunningEmulator } from "./helpers";

function armPuts(emu: RunningEmulator): RequestLogEntry[] {
  return emu.state.requestLog.filter((e) => e.service === "arm" && e.method === "PUT" && /\/containerGroups\//i.test(e.url));
}

function putLocation(entry: RequestLogEntry): string | undefined {
  return (JSON.parse(entry.requestBody) as { location?: string }).location;
}

function putName(entry: RequestLogEntry): string {
  return /\/containerGroups\/([^/?]+)/i.exec(entry.url)?.[1] ?? "";
}

function usageReads(emu: RunningEmulator): RequestLogEntry[] {
  return emu.state.requestLog.filter((e) => e.service === "arm" && e.method === "GET" && /\/providers\/Microsoft\.ContainerInstance\/locations\/[^/]+\/usages/i.test(e.url));
}

/** Where each group of the run is, by region: { westeurope: 3, … }. */
function groupsByRegion(emu: RunningEmulator, names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const group of emu.state.containerGroups.values()) {
    if (!names.includes(group.name)) continue;
    const location = (group.body as { location?: string }).location ?? "?";
    counts[location] = (counts[location] ?? 0) + 1;
  }
  return counts;
}

describe("integration: AciAgentStart@1 against the emulator's quotas and create rate", function () {
  this.timeout(180_000);
  const emulator = useEmulator();

  it("starts 8 agents of 2 CPU with 6 cores left in the first region: 3 there and 5 in the fallback, with no PUT refused", async function () {
    const emu = emulator();
    emu.state.behaviour.quotas.set("westeurope", { StandardCores: 6 });
    const run = await runStart(emu, { inputs: { agentCount: "8", cpu: "2", location: "westeurope", fallbackLocations: "northeurope", timeoutMinutes: "5" } });
    assertInvariants(emu, run);
    assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
    const names = namesOf(run.step.buildId, 8);
    assert.deepEqual(groupNames(emu), [...names].sort());
    assert.deepEqual(groupsByRegion(emu, names), { westeurope: 3, northeurope: 5 });
    const puts = armPuts(emu);
    assert.deepEqual(puts.map((p) => p.status).filter((s) => s >= 300), [], "a PUT was refused");
    assert.equal(puts.length, 8);
    assert.deepEqual(
      names.map((name) => putLocation(puts.find((p) => putName(p) === name) ?? puts[0] ?? ({ requestBody: "{}" } as RequestLogEntry))),
      [...Array<string>(3).fill("westeurope"), ...Array<string>(5).fill("northeurope")],
    );
    assert.deepEqual(usageReads(emu).map((r) => /locations\/([^/]+)\/usages/.exec(r.url)?.[1]).sort(), ["northeurope", "westeurope"]);
    assert.ok(run.lines.some((l) => l.includes("Plan: 3 agent(s) in westeurope (6 of 6 StandardCores left), 5 in northeurope (400 of 400 StandardCores left).")), plainOutput(run));
    const summaryLine = run.lines.find((l) => l.startsWith("##vso[task.uploadsummary]"));
    assert.ok(summaryLine !== undefined, "no summary uploaded");
  });

  it("fails the same start without a fallback before any write (ARM or Azure DevOps), naming the numbers and the ways out", async function () {
    const emu = emulator();
    emu.state.behaviour.quotas.set("westeurope", { StandardCores: 6 });
    const run = await runStart(emu, { inputs: { agentCount: "8", cpu: "2", location: "westeurope" } });
    assertInvariants(emu, run);
    assert.equal(run.result, "Failed");
    assert.match(
      run.message,
      /(^|\n)agentCount: 8 agent\(s\) of 2 CPU \(2 StandardCores each\) need 16 StandardCores and 8 ContainerGroups in all, but the subscription's Container Instances quota leaves room for 3 \(westeurope: 6 of 6 StandardCores and 100 of 100 ContainerGroups left, room for 3\); the other 5 need 10 StandardCores and 5 ContainerGroups more\./,
    );
    assert.match(run.message, /Lower agentCount or cpu, add regions with room to fallbackLocations, or request more quota on the Azure portal's Quotas page \(provider: Container Instances\)/);
    assertNoWrites(emu);
    assert.deepEqual(groupNames(emu), []);
  });

  it("moves an agent whose PUT is refused for quota (another fleet took the room after pre-flight) to the next region", async function () {
    const emu = emulator();
    emu.state.behaviour.quotas.set("westeurope", { StandardCores: 6 });
    // Registrations come between pre-flight and the creates: time for another fleet to take room.
    emu.state.delays.registrationMs = 1_500;
    const step = startStep(emu, { inputs: { agentCount: "4", cpu: "2", location: "westeurope", fallbackLocations: "northeurope", timeoutMinutes: "5" } });
    await until("pre-flight read the usage of both regions", () => usageReads(emu).length >= 2, 30_000);
    assert.equal(armPuts(emu).length, 0, "a create was sent before the other fleet took its room");
    emu.state.behaviour.quotas.set("westeurope", { StandardCores: 4 });
    const run = { ...(await step.running.done), step };
    assertInvariants(emu, run);
    assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
    const names = namesOf(step.buildId, 4);
    assert.deepEqual(groupsByRegion(emu, names), { westeurope: 2, northeurope: 2 });
    const refused = armPuts(emu).filter((p) => p.status === 400);
    assert.equal(refused.length, 1, armPuts(emu).map((p) => `${putName(p)} ${putLocation(p) ?? ""} ${p.status}`).join("\n"));
    const [moved] = refused;
    assert.ok(moved !== undefined);
    assert.equal(putLocation(moved), "westeurope");
    assert.match(moved.responseBody, /ContainerGroupQuotaReached/);
    assert.deepEqual(
      armPuts(emu).filter((p) => putName(p) === putName(moved)).map((p) => `${putLocation(p) ?? ""} ${p.status}`),
      ["westeurope 400", "northeurope 201"],
    );
    assert.ok(run.lines.some((l) => l.includes(`${putName(moved)}: the StandardCores quota of westeurope is used up`) && l.includes("trying northeurope")), plainOutput(run));
    assert.ok(!run.lines.some((l) => /no capacity/i.test(l)));
  });

  it("waits after a create refused for the create rate, as ARM's Retry-After says, and creates in the same region", async function () {
    const emu = emulator();
    // One create per five minutes, five minutes being one second here.
    emu.state.behaviour.createRateLimits = { perFiveMinutes: 1, perHour: 300 };
    emu.state.behaviour.rateWindowScale = 1 / 300;
    const run = await runStart(emu, { inputs: { agentCount: "2", location: "westeurope", fallbackLocations: "northeurope", timeoutMinutes: "5" } });
    assertInvariants(emu, run);
    assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
    const names = namesOf(run.step.buildId, 2);
    assert.deepEqual(groupsByRegion(emu, names), { westeurope: 2 });
    const throttled = armPuts(emu).filter((p) => p.status === 429);
    assert.ok(throttled.length >= 1, "no create was refused for the rate");
    for (const refused of throttled) {
      assert.match(refused.responseBody, /^\{"error":\{"code":"ResourceRequestsThrottled","message":"Number of container group create requests for subscription '[^']+' exceeded the limit of '1' for time interval/);
      assert.equal(putLocation(refused), "westeurope");
    }
    const name = putName(throttled[0] ?? armPuts(emu)[0] ?? ({ url: "" } as RequestLogEntry));
    const puts = armPuts(emu).filter((p) => putName(p) === name);
    assert.equal(puts.at(-1)?.status, 201);
    assert.ok(run.lines.some((l) => l.includes(`${name}: ARM refused the create of container group ${name} in westeurope for its rate limits (ResourceRequestsThrottled: `) && /trying again in \d+\.\d s, as ARM asks/.test(l)), plainOutput(run));
  });

  it("warns once and creates as without a plan when the identity may not read the usage", async function () {
    const emu = emulator();
    emu.state.faults.push({
      id: "usage-refused",
      service: "arm",
      method: "GET",
      path: "/providers/Microsoft.ContainerInstance/locations/[^/]+/usages",
      status: 403,
      body: { error: { code: "AuthorizationFailed", message: "The client 'x' does not have authorization to perform action 'Microsoft.ContainerInstance/locations/usages/read' over scope '/subscriptions/x' or the scope is invalid." } },
      remaining: 10,
    });
    emu.state.behaviour.quotas.set("westeurope", { StandardCores: 2 });
    const run = await runStart(emu, { inputs: { agentCount: "2", cpu: "2", location: "westeurope", fallbackLocations: "northeurope", timeoutMinutes: "5" } });
    assertInvariants(emu, run);
    assert.equal(run.result, "Succeeded", `${run.message}\n${plainOutput(run)}`);
    const warnings = run.lines.filter((l) => l.includes("may not read the Container Instances usage"));
    assert.equal(warnings.length, 1, plainOutput(run));
    assert.ok(warnings[0]?.startsWith("##vso[task.issue type=warning"), warnings[0]);
    assert.ok(!run.lines.some((l) => l.includes("Plan: ")));
    // As before the plan: the first region until ACI refuses for quota, then the next.
    assert.deepEqual(groupsByRegion(emu, namesOf(run.step.buildId, 2)), { westeurope: 1, northeurope: 1 });
  });
});
