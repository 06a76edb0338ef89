// Packs the extension into dist/<publisher>.aci-build-agents-<version>.vsix with the local
// tfx-cli (offline) and prints its size. Run `node scripts/bundle.mjs` first (`npm run package`
// does).
//
//   npm run package -- --publisher contoso --version 1.2.3
//
// --publisher:  your Marketplace publisher id (the manifest's is a placeholder).
// --repository: where your copy of this repository lives, e.g. https://github.com/contoso/aci-build-agents:
//               the listing's links (input reference, issues, Q&A), overview.md and the tasks' helpUrl point there.
// --version:   the extension's version; the tasks get the same minor and patch (their major stays),
//              because Azure DevOps only replaces an installed task when its version changes.
// Other arguments go to `tfx extension create` as they are.
//
// The files the manifest names are copied to dist/stage/ and packed from there, so the versions
// can be set without touching the checkout.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
const MARKETPLACE_LIMIT = 25 * 1024 * 1024;
const PLACEHOLDER_PUBLISHER = "your-publisher-id";
const PLACEHOLDER_REPOSITORY = "https://github.com/your-org/aci-build-agents";

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

const { values: options, tokens } = parseArgs({
  options: { publisher: { type: "string" }, version: { type: "string" }, repository: { type: "string" } },
  strict: false,
  tokens: true,
});
const ours = tokens.filter((token) => token.kind === "option" && (["publisher", "version", "repository"].includes(token.name)));
const dropped = new Set(ours.flatMap((token) => (token.inlineValue === false ? [token.index, token.index + 1] : [token.index])));
const passThrough = process.argv.slice(2).filter((_, index) => !dropped.has(index));
if (options.version !== undefined && !/^\d+\.\d+\.\d+$/.test(String(options.version))) fail(`--version must be MAJOR.MINOR.PATCH, got '${options.version}'`);
if (options.repository !== undefined && !/^https:\/\/\S+[^/]$/.test(String(options.repository))) fail(`--repository must be an https URL without a trailing slash, got '${options.repository}'`);
if (options.publisher !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9-]*$/.test(String(options.publisher))) fail(`--publisher must be a Marketplace publisher id (letters, digits, dashes), got '${options.publisher}'`);

const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));
const manifest = readJson(join(root, "vss-extension.json"));
const taskFolders = manifest.contributions.filter((c) => c.type === "ms.vss-distributed-task.task").map((c) => c.properties.name);
for (const folder of taskFolders) {
  const taskJson = readJson(join(root, folder, "task.json"));
  for (const handler of Object.values(taskJson.execution)) {
    if (!existsSync(join(root, folder, handler.target))) fail(`${folder}/${handler.target} is missing: run \`node scripts/bundle.mjs\` first`);
  }
}

const outDir = join(root, "dist");
const stage = join(outDir, "stage");
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
for (const old of readdirSync(outDir).filter((f) => f.endsWith(".vsix"))) rmSync(join(outDir, old));

// What the manifest packs or points at: its files, content pages, icon and screenshots.
const referenced = [
  "vss-extension.json",
  ...manifest.files.map((entry) => entry.path),
  ...Object.values(manifest.content ?? {}).map((entry) => entry.path),
  ...Object.values(manifest.icons ?? {}),
  ...(manifest.screenshots ?? []).map((entry) => entry.path),
];
for (const path of new Set(referenced)) {
  if (!existsSync(join(root, path))) fail(`${path}, named in vss-extension.json, does not exist`);
  cpSync(join(root, path), join(stage, path), { recursive: true });
}

if (options.repository !== undefined) {
  const taskFiles = taskFolders.flatMap((folder) => ["task.json", "task.loc.json"].map((name) => join(folder, name)));
  for (const file of ["vss-extension.json", manifest.content.details.path, ...taskFiles].map((name) => join(stage, name)).filter(existsSync)) {
    writeFileSync(file, readFileSync(file, "utf8").replaceAll(PLACEHOLDER_REPOSITORY, String(options.repository)));
  }
}

if (options.version !== undefined) {
  const [, minor, patch] = String(options.version).split(".").map(Number);
  for (const folder of taskFolders) {
    for (const file of ["task.json", "task.loc.json"].map((name) => join(stage, folder, name)).filter(existsSync)) {
      const taskJson = readJson(file);
      taskJson.version = { Major: taskJson.version.Major, Minor: minor, Patch: patch };
      writeFileSync(file, `${JSON.stringify(taskJson, null, 2)}\n`);
    }
  }
}

const overrides = options.version === undefined ? [] : ["--override", JSON.stringify({ version: options.version })];
const publisher = options.publisher === undefined ? [] : ["--publisher", String(options.publisher)];
const tfxPackage = require("tfx-cli/package.json");
const tfx = join(dirname(require.resolve("tfx-cli/package.json")), typeof tfxPackage.bin === "string" ? tfxPackage.bin : tfxPackage.bin.tfx);
const args = ["extension", "create", "--root", stage, "--manifest-globs", "vss-extension.json", "--output-path", outDir + "/", "--json", "--no-prompt", "--no-color", ...publisher, ...overrides, ...passThrough];
const run = spawnSync(process.execPath, [tfx, ...args], { cwd: stage, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
const output = `${run.stdout}${run.stderr}`.replace(/\u001b\[[0-9;]*m/g, "");
rmSync(stage, { recursive: true, force: true });
if (run.status !== 0) fail(`tfx failed (exit ${run.status}):\n${output}`);
// tfx only warns about an invalid task.json (bad id, missing handler target, ...): refuse those.
if (/^warning:/m.test(output)) fail(`tfx reported problems:\n${output}`);

const vsix = JSON.parse(output.slice(output.indexOf("{"))).path;
const size = statSync(vsix).size;
console.log(`${relative(root, vsix)}: ${(size / 1024).toFixed(1)} KiB (${size} bytes)`);
if (size > MARKETPLACE_LIMIT) fail(`the VSIX is over the Marketplace's 25 MiB limit`);
if (options.publisher === undefined && manifest.publisher === PLACEHOLDER_PUBLISHER) {
  console.log(`note: packed under the placeholder publisher '${PLACEHOLDER_PUBLISHER}'; pass --publisher <your publisher id> for a VSIX the Marketplace accepts`);
}
if (options.repository === undefined) {
  console.log(`note: the listing's links point to the placeholder ${PLACEHOLDER_REPOSITORY}; pass --repository <your repository URL>`);
}
