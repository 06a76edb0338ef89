// Packs the extension with scripts/package.mjs and checks the VSIX: what it holds, its size,
// and that each packaged task bundle runs on its own, without node_modules.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
// jszip is not a dependency of ours: it comes with tfx-cli (which builds VSIX files with it), so
// reading the archive needs no extra package.
import JSZip from "jszip";

const repo = path.join(__dirname, "..");
const TASKS = [
  { folder: "AciAgentStartV1", reference: "AciAgentStart@1", missing: [/runId: neither Build\.BuildId nor Release\.ReleaseId is set/] },
  { folder: "AciAgentStopV1", reference: "AciAgentStop@1", missing: [/runId: neither Build\.BuildId nor Release\.ReleaseId is set/] },
  // Not tied to a run; it stops at its own required input, which the environment below does not give.
  { folder: "AciAgentStandbyPoolV1", reference: "AciAgentStandbyPool@1", missing: [/standbyPool: required/] },
];
const MAX_VSIX_BYTES = 3 * 1024 * 1024;

function runScript(script: string): string {
  const run = spawnSync(process.execPath, [path.join(repo, "scripts", script)], { cwd: repo, encoding: "utf8" });
  assert.equal(run.status, 0, `${script} failed:\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

/** Files under `dir`, relative to the repo, with forward slashes. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(path.join(repo, dir))) return [];
  return fs
    .readdirSync(path.join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(repo, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"));
}

describe("the VSIX", function () {
  let vsixPath: string;
  let vsix: JSZip;
  let files: string[];

  before(async function () {
    this.timeout(120_000);
    // `npm test` has just built the bundles; build them when this file runs on its own.
    if (TASKS.some((task) => !fs.existsSync(path.join(repo, "tasks", task.folder, "dist", "main.js")))) {
      runScript("bundle.mjs");
    }
    runScript("package.mjs");
    const built = fs.readdirSync(path.join(repo, "dist")).filter((name) => name.endsWith(".vsix"));
    assert.equal(built.length, 1, `expected one VSIX in dist/, found ${built.join(", ")}`);
    vsixPath = path.join(repo, "dist", built[0] ?? "");
    vsix = await JSZip.loadAsync(fs.readFileSync(vsixPath));
    files = Object.values(vsix.files).filter((entry) => !entry.dir).map((entry) => entry.name);
  });

  it("is a Marketplace package with both task contributions", async function () {
    for (const name of ["extension.vsixmanifest", "extension.vsomanifest", "[Content_Types].xml", "images/icon.png", "overview.md"]) {
      assert.ok(files.includes(name), `${name} is missing`);
    }
    const manifest = JSON.parse(await vsix.file("extension.vsomanifest")?.async("string") ?? "{}") as {
      contributions?: { type: string; targets: string[]; properties: { name: string } }[];
    };
    assert.deepEqual(
      (manifest.contributions ?? []).map((c) => [c.type, c.targets, c.properties.name]),
      TASKS.map((task) => ["ms.vss-distributed-task.task", ["ms.vss-distributed-task.tasks"], `tasks/${task.folder}`]),
    );
  });

  for (const task of TASKS) {
    it(`holds ${task.folder}: task.json, icon, bundle and task-lib's lib.json`, async function () {
      for (const file of ["task.json", "task.loc.json", "Strings/resources.resjson/en-US/resources.resjson", "icon.png", "dist/main.js", "dist/lib.json", "dist/main.js.LEGAL.txt"]) {
        assert.ok(files.includes(`tasks/${task.folder}/${file}`), `tasks/${task.folder}/${file} is missing`);
      }
      const packed = await vsix.file(`tasks/${task.folder}/task.json`)?.async("string");
      assert.equal(packed, fs.readFileSync(path.join(repo, "tasks", task.folder, "task.json"), "utf8"));
    });
  }

  it("holds every picture and file overview.md references, addressable so the listing can show and link them", async function () {
    const overview = (await vsix.file("overview.md")?.async("string")) ?? "";
    const relative = [...overview.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? "").filter((target) => !/^[a-z]+:|^#/.test(target));
    for (const picture of ["images/flow.png", "images/standby-flow.png", "images/summary.png"]) assert.ok(relative.includes(picture), `overview.md does not show ${picture}`);
    assert.ok(relative.includes("agent/Dockerfile"), "overview.md does not link the Dockerfile template");
    const manifest = (await vsix.file("extension.vsixmanifest")?.async("string")) ?? "";
    for (const target of relative) {
      assert.ok(files.includes(target), `overview.md references ${target}, which the VSIX lacks`);
      assert.match(manifest, new RegExp(`Path="${target.replace(/[.]/g, "\\.")}" Addressable="true"`), `${target} is not addressable`);
    }
  });

  it("has distinct icons for the extension and each task", async function () {
    const icons = await Promise.all(["images/icon.png", ...TASKS.map((task) => `tasks/${task.folder}/icon.png`)].map(async (name) => {
      const bytes = await vsix.file(name)?.async("nodebuffer");
      assert.ok(bytes !== undefined, `${name} is missing`);
      assert.equal(bytes.readUInt32BE(16), 128, `${name} is not 128 pixels wide`);
      assert.equal(bytes.readUInt32BE(20), 128, `${name} is not 128 pixels high`);
      return bytes.toString("base64");
    }));
    assert.equal(new Set(icons).size, icons.length, "two icons are the same picture");
  });

  it("holds everything in agent/", function () {
    for (const file of filesUnder("agent")) {
      assert.ok(files.includes(file), `${file} is missing`);
    }
  });

  it("holds nothing else: no sources, no node_modules", function () {
    const allowed = [
      /^\[Content_Types\]\.xml$/,
      /^extension\.(vsixmanifest|vsomanifest)$/,
      /^(overview\.md|LICENSE)$/,
      /^images\/(icon|flow|standby-flow|summary)\.png$/,
      /^images\/(flow|standby-flow)\.svg$/,
      /^tasks\/AciAgent(Start|Stop|StandbyPool)V1\/(task\.json|task\.loc\.json|icon\.png|dist\/(main\.js|main\.js\.LEGAL\.txt|lib\.json))$/,
      /^tasks\/AciAgent(Start|Stop|StandbyPool)V1\/Strings\/resources\.resjson\/[a-zA-Z-]+\/resources\.resjson$/,
      /^agent\//,
    ];
    const unexpected = files.filter((file) => !allowed.some((pattern) => pattern.test(file)));
    assert.deepEqual(unexpected, []);
    assert.ok(!files.some((file) => file.includes("node_modules/")));
  });

  it("is smaller than 3 MiB", function () {
    const size = fs.statSync(vsixPath).size;
    assert.ok(size < MAX_VSIX_BYTES, `${size} bytes`);
  });

  describe("each packaged bundle, run on its own", function () {
    let sandbox: string;

    before(async function () {
      // A directory outside the repo, so no node_modules is anywhere above the bundle.
      sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "aci-vsix-"));
      for (const file of files.filter((name) => name.startsWith("tasks/"))) {
        const target = path.join(sandbox, ...file.split("/"));
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, await vsix.file(file)?.async("nodebuffer") ?? Buffer.alloc(0));
      }
    });

    after(function () {
      fs.rmSync(sandbox, { recursive: true, force: true });
    });

    for (const task of TASKS) {
      it(`${task.reference} starts from the VSIX alone and fails on missing pipeline variables, naming them`, function () {
        const taskDir = path.join(sandbox, "tasks", task.folder);
        const run = spawnSync(process.execPath, [path.join(taskDir, "dist", "main.js")], {
          cwd: taskDir,
          encoding: "utf8",
          // What the agent hands a task: inputs as INPUT_*, its temp directory; nothing from us,
          // and no pipeline variables, so the task stops at its input checks.
          env: {
            PATH: process.env.PATH ?? "",
            AGENT_TEMPDIRECTORY: sandbox,
            INPUT_AZURESUBSCRIPTION: "00000000-0000-0000-0000-000000000000",
            INPUT_RESOURCEGROUP: "ci-agents",
            INPUT_POOL: "aci",
            INPUT_REGISTRATIONTOKEN: "not-a-real-pat",
          },
        });
        assert.equal(run.stderr, "");
        assert.equal(run.status, 0);
        const complete = run.stdout.split("\n").find((line) => line.startsWith("##vso[task.complete result=Failed;]"));
        assert.ok(complete !== undefined, run.stdout);
        assert.match(complete, /organizationUrl: required, and System\.CollectionUri is not set either/);
        for (const problem of task.missing) assert.match(complete, problem);
      });
    }
  });
});

describe("the VSIX for a real publisher", function () {
  it("`package.mjs --publisher contoso --version 1.2.3` writes dist/contoso.aci-build-agents-1.2.3.vsix, tasks at 1.2.3", async function () {
    this.timeout(120_000);
    const run = spawnSync(process.execPath, [path.join(repo, "scripts", "package.mjs"), "--publisher", "contoso", "--version", "1.2.3"], { cwd: repo, encoding: "utf8" });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    const vsixPath = path.join(repo, "dist", "contoso.aci-build-agents-1.2.3.vsix");
    assert.ok(fs.existsSync(vsixPath), run.stdout);
    const vsix = await JSZip.loadAsync(fs.readFileSync(vsixPath));
    const identity = /<Identity [^>]*>/.exec((await vsix.file("extension.vsixmanifest")?.async("string")) ?? "")?.[0] ?? "";
    assert.match(identity, /Publisher="contoso"/);
    assert.match(identity, /Version="1\.2\.3"/);
    for (const task of TASKS) {
      const packed = JSON.parse((await vsix.file(`tasks/${task.folder}/task.json`)?.async("string")) ?? "{}") as { version?: unknown };
      assert.deepEqual(packed.version, { Major: 1, Minor: 2, Patch: 3 }, task.folder);
    }
    const checkedOut = JSON.parse(fs.readFileSync(path.join(repo, "tasks", "AciAgentStartV1", "task.json"), "utf8")) as { version?: unknown };
    assert.deepEqual(checkedOut.version, { Major: 1, Minor: 0, Patch: 0 }, "the checkout's task.json must not change");
  });

  it("refuses a version that is not MAJOR.MINOR.PATCH, naming it", function () {
    const run = spawnSync(process.execPath, [path.join(repo, "scripts", "package.mjs"), "--version", "1.2"], { cwd: repo, encoding: "utf8" });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /--version must be MAJOR\.MINOR\.PATCH, got '1\.2'/);
  });
});
