import { strict as assert } from "node:assert";
import { ARM_READS_PER_SECOND, armPacing } from "../../../src/run/armPacing";

describe("armPacing: a step's ARM reads stay within its share of the subscription's bucket", () => {
  const cases: [groups: number, operationPollMs: number, groupReadMs: number][] = [
    [1, 2_000, 10_000],
    [10, 2_000, 10_000],
    [16, 2_000, 10_000],
    [20, 2_500, 10_000],
    [25, 3_400, 10_000],
    [30, 4_000, 12_000],
    [50, 6_700, 20_000],
  ];
  for (const [groups, operationPollMs, groupReadMs] of cases) {
    it(`${groups} group(s): an operation poll every ${operationPollMs} ms, a group read every ${groupReadMs} ms`, () => {
      assert.deepEqual(armPacing(groups), { operationPollMs, groupReadMs });
    });
  }

  it("never spends more than its reads a second, for any fleet size the task allows", () => {
    for (let groups = 1; groups <= 50; groups++) {
      const { operationPollMs, groupReadMs } = armPacing(groups);
      const readsPerSecond = (groups * 1000) / operationPollMs + (groups * 1000) / groupReadMs;
      assert.ok(readsPerSecond <= ARM_READS_PER_SECOND + 1e-9, `${groups} groups: ${readsPerSecond.toFixed(2)} reads a second`);
    }
  });

  it("no groups counts as one", () => {
    assert.deepEqual(armPacing(0), armPacing(1));
  });
});
