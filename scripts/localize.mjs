// Generates each task's localizable strings from its task.json, the way Microsoft's in-box tasks do
// (make-util.js in microsoft/azure-pipelines-tasks: createTaskLocJson and createResjson):
//   tasks/<Task>/task.loc.json                                     task.json with ms-resource:loc.* keys
//   tasks/<Task>/Strings/resources.resjson/en-US/resources.resjson the en-US strings for those keys
// Translations go beside en-US (e.g. de-DE/resources.resjson) with the same keys.
//   node scripts/localize.mjs           write them (`npm run build` does)
//   node scripts/localize.mjs --check   fail when a committed file is not what task.json gives
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tasksRoot = join(root, "tasks");

/** task.json with every user-visible string replaced by its resource key (createTaskLocJson). */
export function taskLocJson(task) {
  const loc = structuredClone(task);
  loc.friendlyName = "ms-resource:loc.friendlyName";
  loc.helpMarkDown = "ms-resource:loc.helpMarkDown";
  loc.description = "ms-resource:loc.description";
  loc.instanceNameFormat = "ms-resource:loc.instanceNameFormat";
  if ("releaseNotes" in loc) loc.releaseNotes = "ms-resource:loc.releaseNotes";
  for (const group of loc.groups ?? []) {
    if ("name" in group) group.displayName = `ms-resource:loc.group.displayName.${group.name}`;
  }
  for (const input of loc.inputs ?? []) {
    if (!("name" in input)) continue;
    input.label = `ms-resource:loc.input.label.${input.name}`;
    if (input.helpMarkDown) input.helpMarkDown = `ms-resource:loc.input.help.${input.name}`;
  }
  for (const key of Object.keys(loc.messages ?? {})) loc.messages[key] = `ms-resource:loc.messages.${key}`;
  return loc;
}

/** The en-US strings for those keys (createResjson). */
export function resjson(task) {
  const resources = {};
  for (const field of ["friendlyName", "helpMarkDown", "description", "instanceNameFormat", "releaseNotes"]) {
    if (field in task) resources[`loc.${field}`] = task[field];
  }
  for (const group of task.groups ?? []) {
    if ("name" in group) resources[`loc.group.displayName.${group.name}`] = group.displayName;
  }
  for (const input of task.inputs ?? []) {
    if (!("name" in input)) continue;
    resources[`loc.input.label.${input.name}`] = input.label;
    if (input.helpMarkDown) resources[`loc.input.help.${input.name}`] = input.helpMarkDown;
  }
  for (const [key, text] of Object.entries(task.messages ?? {})) resources[`loc.messages.${key}`] = text;
  return resources;
}

const asText = (value) => `${JSON.stringify(value, null, 2)}\n`;

/** The files to write per task folder under tasks/: path relative to the repository, and text. */
export function localizationFiles() {
  return readdirSync(tasksRoot)
    .filter((folder) => existsSync(join(tasksRoot, folder, "task.json")))
    .flatMap((folder) => {
      const task = JSON.parse(readFileSync(join(tasksRoot, folder, "task.json"), "utf8"));
      return [
        { path: join("tasks", folder, "task.loc.json"), text: asText(taskLocJson(task)) },
        { path: join("tasks", folder, "Strings", "resources.resjson", "en-US", "resources.resjson"), text: asText(resjson(task)) },
      ];
    });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  const stale = [];
  for (const file of localizationFiles()) {
    const target = join(root, file.path);
    const current = existsSync(target) ? readFileSync(target, "utf8") : undefined;
    if (current === file.text) continue;
    if (check) {
      stale.push(relative(root, target));
    } else {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.text);
      console.log(`${relative(root, target)}: written`);
    }
  }
  if (stale.length > 0) {
    console.error(`localize: not what task.json gives (run \`node scripts/localize.mjs\`): ${stale.join(", ")}`);
    process.exit(1);
  }
}
