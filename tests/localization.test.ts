// Localizable strings the way in-box tasks keep them: task.loc.json and the en-US resources,
// generated from task.json by scripts/localize.mjs, and every message key the code uses.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const repo = path.join(__dirname, "..");
const TASKS = [
  { folder: "AciAgentStartV1", sources: "src/start" },
  { folder: "AciAgentStopV1", sources: "src/stop" },
  { folder: "AciAgentStandbyPoolV1", sources: "src/standby" },
];

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(repo, file), "utf8"));

/** Every string value in a JSON value, with where it is. */
function strings(value: unknown, at = ""): { at: string; text: string }[] {
  if (typeof value === "string") return [{ at, text: value }];
  if (Array.isArray(value)) return value.flatMap((item, index) => strings(item, `${at}[${index}]`));
  if (typeof value === "object" && value !== null) return Object.entries(value).flatMap(([key, item]) => strings(item, `${at}.${key}`));
  return [];
}

/** Keys passed to `.loc("…"` in the TypeScript files under `dir`. */
function keysUsedIn(dir: string): string[] {
  return fs
    .readdirSync(path.join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .flatMap((entry) => [...fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8").matchAll(/\.loc\(\s*"([^"]+)"/g)].map((m) => m[1] ?? ""));
}

describe("localization", function () {
  it("task.loc.json and the en-US resources are what scripts/localize.mjs makes of task.json", function () {
    const run = spawnSync(process.execPath, [path.join(repo, "scripts", "localize.mjs"), "--check"], { cwd: repo, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
  });

  for (const task of TASKS) {
    describe(task.folder, function () {
      const taskJson = readJson(`tasks/${task.folder}/task.json`) as { messages?: Record<string, string> };
      const locJson = readJson(`tasks/${task.folder}/task.loc.json`);
      const resources = readJson(`tasks/${task.folder}/Strings/resources.resjson/en-US/resources.resjson`) as Record<string, string>;

      it("has an en-US string for every ms-resource key of task.loc.json, and no other", function () {
        const keys = strings(locJson).filter((s) => s.text.startsWith("ms-resource:")).map((s) => s.text.slice("ms-resource:".length));
        assert.ok(keys.length > 20, `only ${keys.length} keys`);
        assert.deepEqual(keys.filter((key) => resources[key] === undefined), []);
        assert.deepEqual(Object.keys(resources).filter((key) => !keys.includes(key)), []);
      });

      it("leaves no string in task.loc.json that make-util localizes unlocalized", function () {
        // As in Microsoft's make-util: not output variable descriptions, not pick list options.
        const visible = /\.(friendlyName|description|helpMarkDown|instanceNameFormat|label|displayName)$|\.messages\./;
        const plain = strings(locJson).filter((s) => visible.test(s.at) && !s.at.startsWith(".outputVariables") && !s.text.startsWith("ms-resource:"));
        assert.deepEqual(plain, []);
      });

      it(`defines every message key ${task.sources} uses, and uses every message it defines`, function () {
        const used = keysUsedIn(task.sources);
        const defined = Object.keys(taskJson.messages ?? {});
        assert.ok(used.length > 0, `${task.sources} uses no message keys`);
        assert.deepEqual(used.filter((key) => !defined.includes(key)), [], "used but not in task.json messages");
        assert.deepEqual(defined.filter((key) => !used.includes(key)), [], "in task.json messages but never used");
      });
    });
  }
});
