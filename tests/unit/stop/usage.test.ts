// What a removed agent used: its lifetime from the container's instance view, vCPU-seconds and
// GB-seconds, and the cost estimate, as pure functions over snapshots.
import { strict as assert } from "node:assert";
import type { ContainerSnapshot, GroupSnapshot } from "../../../src/azure/aci";
import {
  consumption,
  formatLifetime,
  formatQuantity,
  formatUsd,
  groupLifetime,
  groupRequests,
  groupUsage,
  LINUX_PRICES,
  priceNote,
  totalConsumption,
  totalLine,
  usageLine,
  type GroupUsage,
  type Lifetime,
} from "../../../src/stop/usage";

/** The stop's moment: 12:00. */
const NOW = Date.parse("2026-03-01T12:00:00Z");
const at = (hhmmss: string) => `2026-03-01T${hhmmss}.000Z`;

function container(fields: Partial<ContainerSnapshot>): ContainerSnapshot {
  return { name: "agent", state: "Running", exitCode: undefined, detailStatus: undefined, restartCount: 0, requests: { cpu: 2, memoryInGB: 4 }, events: [], ...fields };
}

function group(...containers: ContainerSnapshot[]): GroupSnapshot {
  return { name: "azp-1-1-1", location: "eastus", provisioningState: "Succeeded", state: "Running", tags: {}, containers, events: [] };
}

describe("groupLifetime: from the instance view's start and finish times", () => {
  const cases: [string, GroupSnapshot, Lifetime | undefined][] = [
    ["running: from its start until the stop's moment", group(container({ startTime: at("11:50:00") })), { startedAt: at("11:50:00"), ms: 600_000, running: true, atLeast: false }],
    [
      "ended (an ephemeral agent after its job): from its start until its finish, not until the stop",
      group(container({ state: "Terminated", exitCode: 0, startTime: at("11:00:00"), finishTime: at("11:12:30") })),
      { startedAt: at("11:00:00"), ms: 750_000, running: false, atLeast: false },
    ],
    [
      "restarted once: from the previous run's start, the gap before the restart included",
      group(container({ restartCount: 1, startTime: at("11:30:00"), previousState: { state: "Terminated", exitCode: 1, startTime: at("11:00:00"), finishTime: at("11:29:50") } })),
      { startedAt: at("11:00:00"), ms: 3_600_000, running: true, atLeast: false },
    ],
    [
      "restarted twice: only the last two runs are shown, so at least that long",
      group(container({ restartCount: 2, startTime: at("11:40:00"), previousState: { state: "Terminated", exitCode: 1, startTime: at("11:20:00"), finishTime: at("11:39:00") } })),
      { startedAt: at("11:20:00"), ms: 2_400_000, running: true, atLeast: true },
    ],
    [
      "waiting to restart (no current start): until the previous run's finish",
      group(container({ state: "Waiting", restartCount: 1, previousState: { state: "Terminated", exitCode: 1, startTime: at("11:00:00"), finishTime: at("11:05:00") } })),
      { startedAt: at("11:00:00"), ms: 300_000, running: false, atLeast: false },
    ],
    ["never started (image still downloading): nothing ran", group(container({ state: "Waiting" })), undefined],
    ["a list item (no instance view): nothing known", group(container({ state: undefined })), undefined],
    [
      "two containers: from the first start until the last end",
      group(container({ startTime: at("11:45:00") }), container({ name: "sidecar", state: "Terminated", startTime: at("11:40:00"), finishTime: at("11:41:00") })),
      { startedAt: at("11:40:00"), ms: 1_200_000, running: true, atLeast: false },
    ],
    ["a start after the stop's moment (clocks apart): 0, not negative", group(container({ startTime: at("12:00:05") })), { startedAt: at("12:00:05"), ms: 0, running: true, atLeast: false }],
    ["an unreadable time: ignored", group(container({ startTime: "yesterday" })), undefined],
  ];
  for (const [title, snapshot, expected] of cases) {
    it(title, () => {
      assert.deepEqual(groupLifetime(snapshot, NOW), expected);
    });
  }
});

describe("groupRequests and groupUsage: what the group requested", () => {
  const cases: [string, GroupSnapshot, { cpu: number; memoryGB: number } | undefined][] = [
    ["one container", group(container({ requests: { cpu: 2, memoryInGB: 4 } })), { cpu: 2, memoryGB: 4 }],
    ["fractional", group(container({ requests: { cpu: 0.5, memoryInGB: 1.5 } })), { cpu: 0.5, memoryGB: 1.5 }],
    ["two containers: summed, as ACI bills the group", group(container({ requests: { cpu: 1, memoryInGB: 2 } }), container({ name: "b", requests: { cpu: 0.5, memoryInGB: 0.5 } })), { cpu: 1.5, memoryGB: 2.5 }],
    ["none says: unknown", group(container({ requests: undefined })), undefined],
  ];
  for (const [title, snapshot, expected] of cases) {
    it(title, () => {
      assert.deepEqual(groupRequests(snapshot), expected);
    });
  }

  it("puts the lifetime and the requests together, and knows nothing without requests", () => {
    assert.deepEqual(groupUsage(group(container({ startTime: at("11:59:00") })), NOW), {
      lifetime: { startedAt: at("11:59:00"), ms: 60_000, running: true, atLeast: false },
      cpu: 2,
      memoryGB: 4,
    });
    assert.equal(groupUsage(group(container({ startTime: at("11:59:00"), requests: undefined })), NOW), undefined);
  });
});

describe("consumption: vCPU-seconds, GB-seconds and the estimate", () => {
  const lifetime = (ms: number): Lifetime => ({ startedAt: at("11:00:00"), ms, running: false, atLeast: false });
  const prices = { vCpuSecondUsd: 0.00001, gbSecondUsd: 0.000001 };
  const cases: [string, GroupUsage, { vCpuSeconds: number; gbSeconds: number; estimatedUsd: number }][] = [
    ["2 vCPU, 4 GB for 720 s", { lifetime: lifetime(720_000), cpu: 2, memoryGB: 4 }, { vCpuSeconds: 1440, gbSeconds: 2880, estimatedUsd: 0.01728 }],
    ["1 vCPU, 1.5 GB for 90.5 s", { lifetime: lifetime(90_500), cpu: 1, memoryGB: 1.5 }, { vCpuSeconds: 90.5, gbSeconds: 135.75, estimatedUsd: 0.00104075 }],
    ["never started: nothing", { lifetime: undefined, cpu: 2, memoryGB: 4 }, { vCpuSeconds: 0, gbSeconds: 0, estimatedUsd: 0 }],
  ];
  for (const [title, usage, expected] of cases) {
    it(title, () => {
      const used = consumption(usage, prices);
      assert.equal(used.vCpuSeconds, expected.vCpuSeconds);
      assert.equal(used.gbSeconds, expected.gbSeconds);
      assert.ok(Math.abs(used.estimatedUsd - expected.estimatedUsd) < 1e-12, `${used.estimatedUsd} ≠ ${expected.estimatedUsd}`);
    });
  }

  it("totals the fleet", () => {
    const total = totalConsumption(cases.map(([, usage]) => usage), prices);
    assert.equal(total.vCpuSeconds, 1530.5);
    assert.equal(total.gbSeconds, 3015.75);
    assert.ok(Math.abs(total.estimatedUsd - 0.01832075) < 1e-12);
  });

  it("prices the README's worked example (2 vCPU, 4 GB, 720 s) as the README does, at the documented figures", () => {
    const used = consumption({ lifetime: lifetime(720_000), cpu: 2, memoryGB: 4 });
    assert.equal(formatUsd(used.vCpuSeconds * LINUX_PRICES.vCpuSecondUsd), "US$0.0163");
    assert.equal(formatUsd(used.gbSeconds * LINUX_PRICES.gbSecondUsd), "US$0.0035");
    assert.equal(formatUsd(used.estimatedUsd), "US$0.0197");
  });
});

describe("the usage text", () => {
  const cases: [string, () => string, string][] = [
    ["a quantity", () => formatQuantity(2849.16), "2,849.2"],
    ["a whole quantity", () => formatQuantity(2), "2"],
    ["cents", () => formatUsd(0.01953), "US$0.0195"],
    ["dollars", () => formatUsd(17.364), "US$17.36"],
    ["nothing", () => formatUsd(0), "US$0.0000"],
    ["less than shown", () => formatUsd(0.00002), "<US$0.0001"],
    ["a lifetime", () => formatLifetime({ startedAt: at("11:00:00"), ms: 712_345, running: false, atLeast: false }), "712.3 s"],
    ["a lower bound", () => formatLifetime({ startedAt: at("11:00:00"), ms: 712_345, running: false, atLeast: true }), "≥ 712.3 s"],
    ["no start", () => formatLifetime(undefined), "0 s (never started)"],
    [
      "an agent's line",
      () => usageLine("azp-1-1-1", { lifetime: { startedAt: at("11:48:00"), ms: 720_000, running: true, atLeast: false }, cpu: 2, memoryGB: 4 }),
      "Used by azp-1-1-1: 2 vCPU and 4 GB for 720.0 s = 1,440 vCPU-s and 2,880 GB-s, estimated cost US$0.0197",
    ],
    ["an agent whose instance view was not read", () => usageLine("azp-1-1-2", undefined), "Used by azp-1-1-2: not known (its container group's instance view could not be read)"],
    [
      "the total, naming the prices, their date and source",
      () => totalLine([{ lifetime: { startedAt: at("11:48:00"), ms: 720_000, running: false, atLeast: false }, cpu: 2, memoryGB: 4 }], 1),
      "Used in total by 1 agent(s) (1 more not known): 1,440 vCPU-s and 2,880 GB-s, estimated cost US$0.0197 " +
        "(estimate at East US Linux pay-as-you-go list prices, US$0.0000113 per vCPU-s and US$0.0000012 per GB-s, checked 2026-12-06: https://azure.microsoft.com/pricing/details/container-instances/)",
    ],
    ["the price note", () => priceNote(), `East US Linux pay-as-you-go list prices, US$0.0000113 per vCPU-s and US$0.0000012 per GB-s, checked 2026-12-06: ${LINUX_PRICES.pricingPage}`],
  ];
  for (const [title, text, expected] of cases) {
    it(title, () => {
      assert.equal(text(), expected);
    });
  }
});
