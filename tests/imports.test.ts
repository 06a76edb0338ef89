// Imports run one way: no module of the core reaches itself again through what it imports
// (madge, the tool the issue names: `npx madge --circular --extensions ts src`).
import { strict as assert } from "node:assert";
import { join } from "node:path";
import madge from "madge";

describe("src/ imports", function () {
  this.timeout(60_000);

  it("have no circle", async () => {
    const graph = await madge(join(__dirname, "..", "src"), { fileExtensions: ["ts"], tsConfig: join(__dirname, "..", "tsconfig.json") });
    assert.ok(Object.keys(graph.obj()).length > 30, "madge found too few modules to judge");
    assert.deepEqual(graph.circular(), []);
  });
});
