import { strict as assert } from "node:assert";
import type { ContainerSnapshot, GroupSnapshot } from "../../../src/azure/aci";
import { deadReason } from "../../../src/start/watch";

function group(container: Partial<ContainerSnapshot>, fields: Partial<GroupSnapshot> = {}): GroupSnapshot {
  return {
    name: "azp-1-1-1", location: "westeurope", provisioningState: "Succeeded", state: "Running", tags: {}, events: [],
    containers: [{ name: "azp-1-1-1", state: "Running", exitCode: undefined, detailStatus: undefined, restartCount: 0, events: [], ...container }],
    ...fields,
  };
}

describe("deadReason", () => {
  const cases: Record<string, { group: GroupSnapshot; dead: RegExp | undefined }> = {
    "running": { group: group({}), dead: undefined },
    "starting (waiting, never ran)": { group: group({ state: "Waiting" }), dead: undefined },
    "failed to provision": { group: group({}, { provisioningState: "Failed" }), dead: /failed to provision/ },
    "stopped": { group: group({}, { state: "Stopped" }), dead: /stopped/ },
    "exited once, not restarted": { group: group({ state: "Terminated", exitCode: 0 }), dead: /exited with code 0/ },
    "crash loop: terminated again after restarts": { group: group({ state: "Terminated", exitCode: 2, restartCount: 3 }), dead: /keeps exiting \(code 2, restarted 3/ },
    "crash loop: waiting to restart after a failed run": {
      group: group({ state: "Waiting", restartCount: 0, previousState: { state: "Terminated", exitCode: 1 } }),
      dead: /keeps exiting \(code 1/,
    },
    "crash loop: running again after a failed run": {
      group: group({ state: "Running", restartCount: 1, previousState: { state: "Terminated", exitCode: 137 } }),
      dead: /keeps exiting \(code 137, restarted 1/,
    },
    "restarted after a clean exit": { group: group({ state: "Running", restartCount: 1, previousState: { state: "Terminated", exitCode: 0 } }), dead: undefined },
  };
  for (const [name, { group: snapshot, dead }] of Object.entries(cases)) {
    it(name, () => {
      const reason = deadReason(snapshot);
      if (dead === undefined) assert.equal(reason, undefined);
      else assert.match(reason ?? "", dead);
    });
  }
});
