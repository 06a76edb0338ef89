// Packs the extension into dist/<publisher>.aci-build-agents-<version>.vsix with the local
// tfx-cli (offline) and prints its size. Run `node scripts/bundle.mjs` first (`npm run package`
// does). Extra arguments go to `tfx extension create`, e.g. `--publisher contoso --rev-version`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
const MARKETPLACE_LIMIT = 25 * 1024 * 1024;

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

const readJson = (path) => JSON.parse(readFileSync(join(root, path), "utf8"));
const manifest = readJson("vss-extension.json");
for (const contribution of manifest.contributions) {
  const taskJson = readJson(join(contribution.properties.name, "task.json"));
  for (const handler of Object.values(taskJson.execution)) {
    if (!existsSync(join(root, contribution.properties.name, handler.target))) {
      fail(`${contribution.properties.name}/${handler.target} is missing: run \`node scripts/bundle.mjs\` first`);
    }
  }
}

// tfx stops at a `files` entry that does not exist, while an empty folder adds nothing: create
// missing folder entries (agent/ has no files yet in a young checkout) rather than ship
// placeholders. A missing file entry still fails in tfx.
for (const entry of manifest.files) {
  if (extname(entry.path) === "" && !existsSync(join(root, entry.path))) {
    mkdirSync(join(root, entry.path), { recursive: true });
  }
}

const outDir = join(root, "dist");
mkdirSync(outDir, { recursive: true });
for (const old of readdirSync(outDir).filter((f) => f.endsWith(".vsix"))) rmSync(join(outDir, old));

const tfxPackage = require("tfx-cli/package.json");
const tfx = join(dirname(require.resolve("tfx-cli/package.json")), typeof tfxPackage.bin === "string" ? tfxPackage.bin : tfxPackage.bin.tfx);
const args = ["extension", "create", "--root", root, "--manifest-globs", "vss-extension.json", "--output-path", outDir + "/", "--json", "--no-prompt", "--no-color", ...process.argv.slice(2)];
const run = spawnSync(process.execPath, [tfx, ...args], { cwd: root, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
const output = `${run.stdout}${run.stderr}`.replace(/\u001b\[[0-9;]*m/g, "");
if (run.status !== 0) fail(`tfx failed (exit ${run.status}):\n${output}`);
// tfx only warns about an invalid task.json (bad id, missing handler target, ...): refuse those.
if (/^warning:/m.test(output)) fail(`tfx reported problems:\n${output}`);

const json = output.slice(output.indexOf("{"));
const vsix = JSON.parse(json).path;
const size = statSync(vsix).size;
console.log(`${relative(root, vsix)}: ${(size / 1024).toFixed(1)} KiB (${size} bytes)`);
if (size > MARKETPLACE_LIMIT) fail(`the VSIX is over the Marketplace's 25 MiB limit`);
