// overview.md as the listing renders it (Markdown to HTML with marked, as scripts/render-images.mjs
// does before its Chromium screenshot): the flow picture, the summary picture and the cost table.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";

describe("docs: the rendered overview", function () {
  let html = "";
  before(async function () {
    // marked is an ES module: imported, not required.
    const { marked } = await import("marked");
    html = marked.parse(readFileSync(join(__dirname, "..", "..", "overview.md"), "utf8"), { async: false });
  });

  for (const picture of ["images/flow.png", "images/summary.png"]) {
    it(`shows ${picture} with a description`, function () {
      assert.match(html, new RegExp(`<img src="${picture.replace(".", "\\.")}" alt="[^"]{20,}"`));
    });
  }

  it("has the cost table with its worked example", function () {
    const table = /<h2>What it costs<\/h2>[\s\S]*?(<table>[\s\S]*?<\/table>)/.exec(html)?.[1] ?? "";
    assert.match(table, /ACI total/);
    assert.match(table, /self-hosted parallel jobs/);
    assert.match(table, /\$17\.36/);
  });
});
