// Bundles each task's main.ts with everything it imports into tasks/<Task>/dist/main.js, so
// the packaged task runs without node_modules. Usage: node scripts/bundle.mjs
//
// Notes on azure-pipelines-task-lib (checked against 5.281.0):
// - Its own messages are compiled into lib-resource.js, so the bundle does not read lib.json;
//   lib.json is still copied beside the bundle in case a task-lib update goes back to reading
//   it from __dirname (a missing file would turn every message into "missing resource").
// - The runtime code we import (task, internal, toolrunner, vault, externaloutput) requires
//   neither shelljs nor nodejs-file-downloader; only mock-test.js does, and that is never
//   bundled. The build fails below if a bundle ends up importing a package at run time.
// - There is exactly one copy of task-lib per bundle (its vault is process-global state).
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
// Every folder under tasks/ with a main.ts is a task to bundle.
const TASKS = readdirSync(join(root, "tasks")).filter((name) => existsSync(join(root, "tasks", name, "main.ts")));

const taskLibDir = dirname(require.resolve("azure-pipelines-task-lib/package.json"));
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** The directory of the npm package that contains `file` (a path relative to the repo root). */
function packageDirOf(file) {
  const parts = file.split(/[\\/]/);
  const at = parts.lastIndexOf("node_modules");
  if (at < 0) return undefined;
  const length = parts[at + 1]?.startsWith("@") ? 2 : 1;
  return parts.slice(0, at + 1 + length).join("/");
}

/** Licence texts of every package that ended up in the bundle, so the notices ship with it. */
function thirdPartyNotices(metafile) {
  const packages = [...new Set(Object.keys(metafile.inputs).map(packageDirOf).filter(Boolean))].sort();
  const sections = packages.map((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
    const files = readdirSync(join(root, dir)).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
    const texts = files.map((f) => readFileSync(join(root, dir, f), "utf8").trim());
    const licence = typeof pkg.license === "string" ? pkg.license : JSON.stringify(pkg.license ?? "see package");
    return [`${pkg.name}@${pkg.version} (${licence})`, ...texts].join("\n\n");
  });
  const rule = `\n\n${"-".repeat(78)}\n\n`;
  return `Third-party software bundled in main.js, with its licence notices.${rule}${sections.join(rule)}\n`;
}

async function bundleTask(task) {
  const taskDir = join(root, "tasks", task);
  const dist = join(taskDir, "dist");
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });

  const outfile = join(dist, "main.js");
  const result = await build({
    absWorkingDir: root,
    entryPoints: [join(taskDir, "main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: true,
    sourcemap: false,
    legalComments: "none", // replaced by the complete licence texts in main.js.LEGAL.txt
    metafile: true,
    // The bootstrap script (agent/start.sh) and the Dockerfile template travel inside the bundle as strings.
    loader: { ".sh": "text", "": "text" },
    logLevel: "warning",
  });

  const leftovers = Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((imp) => imp.external && !builtins.has(imp.path));
  if (leftovers.length > 0) {
    throw new Error(`${task}: the bundle still imports ${leftovers.map((imp) => imp.path).join(", ")} at run time`);
  }

  writeFileSync(join(dist, "main.js.LEGAL.txt"), thirdPartyNotices(result.metafile));
  copyFileSync(join(taskLibDir, "lib.json"), join(dist, "lib.json"));
  return outfile;
}

const outputs = await Promise.all(TASKS.map(bundleTask));
for (const file of outputs) {
  console.log(`${relative(root, file)}: ${(statSync(file).size / 1024).toFixed(1)} KiB`);
}
