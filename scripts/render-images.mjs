// Renders the listing's pictures with headless Chromium (Debian package `chromium`):
//   images/flow.png     from images/flow.svg
//   images/standby-flow.png from images/standby-flow.svg
//   images/summary.png  the summary tab of a real run: the Markdown AciAgentStart and AciAgentStop
//                       uploaded in `npm run demo` (dist/demo/*.md), rendered with marked
//   dist/overview.png   overview.md as the Marketplace shows it, to look at (not packed)
// Run `npm run demo` first for the summaries, then `node scripts/render-images.mjs`. The PNGs in
// images/ are committed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { marked } from "marked";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const chromium = ["chromium", "chromium-browser", "google-chrome"].find((name) => spawnSync(name, ["--version"], { stdio: "ignore" }).status === 0);
if (chromium === undefined) {
  console.error("render-images: no Chromium found (Debian: apt-get install chromium)");
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), "aci-render-"));

// Azure DevOps' and the Marketplace's look, near enough: Segoe UI (DejaVu Sans here), grey rules.
const pageStyle = `
  body { margin: 0; background: #ffffff; color: #323130; font: 14px/1.5 "Segoe UI", "DejaVu Sans", Arial, sans-serif; }
  main { padding: 24px 32px; }
  h1, h2, h3 { font-weight: 600; margin: 1.2em 0 0.5em; }
  h1 { font-size: 26px; } h2 { font-size: 20px; } h3 { font-size: 16px; }
  table { border-collapse: collapse; margin: 8px 0 16px; }
  th, td { border: 1px solid #d2d0ce; padding: 5px 12px; text-align: left; }
  th { background: #f3f2f1; font-weight: 600; }
  code { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 12.5px; background: #f3f2f1; padding: 1px 4px; border-radius: 3px; }
  pre { background: #f3f2f1; padding: 12px 16px; border-radius: 4px; overflow: hidden; }
  pre code { padding: 0; background: none; }
  img { max-width: 100%; }
  a { color: #0078d4; text-decoration: none; }
`;

function screenshot(html, output, width, height) {
  const page = join(work, `${Math.random().toString(36).slice(2)}.html`);
  writeFileSync(page, html);
  const run = spawnSync(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", `--screenshot=${output}`, `--window-size=${width},${height}`, pathToFileURL(page).href], { encoding: "utf8" });
  if (run.status !== 0 || !existsSync(output)) throw new Error(`chromium failed for ${output}:\n${run.stderr}`);
  console.log(`${output.slice(root.length + 1)} (${width}x${height})`);
}

const document = (body, base = root) => `<!doctype html><html><head><meta charset="utf-8"><base href="${pathToFileURL(base).href}/"><style>${pageStyle}</style></head><body>${body}</body></html>`;

try {
  for (const picture of ["flow", "standby-flow"]) {
    const svg = readFileSync(join(root, "images", `${picture}.svg`), "utf8");
    const [, width, height] = /width="(\d+)" height="(\d+)"/.exec(svg) ?? [];
    screenshot(`<!doctype html><html><body style="margin:0">${svg}</body></html>`, join(root, "images", `${picture}.png`), Number(width), Number(height));
  }

  const summaries = ["AciAgentStartV1", "AciAgentStopV1"].map((task) => join(root, "dist", "demo", `${task}.md`));
  const missing = summaries.filter((file) => !existsSync(file));
  if (missing.length > 0) throw new Error(`${missing.join(", ")} missing: run \`npm run demo\` first`);
  // The build summary's Extensions tab shows each uploaded summary as a section of its own.
  const sections = summaries.map((file) => `<section class="tab">${marked.parse(readFileSync(file, "utf8"))}</section>`).join("");
  screenshot(
    document(`<style>
      .tabs { display: flex; gap: 24px; padding: 0 32px; border-bottom: 1px solid #d2d0ce; font-weight: 600; }
      .tabs span { padding: 12px 0; color: #605e5c; } .tabs .on { color: #323130; border-bottom: 3px solid #0078d4; }
      .tab { border: 1px solid #d2d0ce; border-radius: 6px; padding: 4px 20px 8px; margin: 16px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
      .tab h2 { margin-top: 12px; }
    </style>
    <div class="tabs"><span>Summary</span><span>Tests</span><span class="on">Extensions</span></div><main style="padding-top:4px">${sections}</main>`),
    join(root, "images", "summary.png"),
    900,
    760,
  );

  mkdirSync(join(root, "dist"), { recursive: true });
  const overviewBody = marked.parse(readFileSync(join(root, "overview.md"), "utf8"));
  const overviewHeight = Number(process.env.OVERVIEW_HEIGHT ?? 4200);
  writeFileSync(join(root, "dist", "overview.html"), document(`<main style="max-width: 900px">${overviewBody}</main>`));
  screenshot(document(`<main style="max-width: 900px">${overviewBody}</main>`), join(root, "dist", "overview.png"), 1000, overviewHeight);
  // The same page in screen-sized slices, easier to look at than one tall picture.
  const slice = 1400;
  for (let index = 0; index * slice < overviewHeight; index++) {
    const shifted = `<main style="max-width: 900px; position: relative; top: -${index * slice}px">${overviewBody}</main>`;
    screenshot(document(shifted), join(root, "dist", `overview-${index + 1}.png`), 1000, slice);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
