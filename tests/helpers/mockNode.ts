/**
 * task-lib's MockTestRunner runs an L0 script with a pinned Node that it downloads from
 * nodejs.org unless a finished download is already cached under
 * ~/azure-pipelines-task-lib/_download/node<major>/ (with the marker node<major>.completed next
 * to it). Neither this machine nor CI can download it, so we seed that cache with the Node that
 * runs the tests. The layout mirrors getPathToNodeExe() in azure-pipelines-task-lib/mock-test.js
 * (5.281.0); the versions are the ones it pins.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const PINNED: Record<number, string> = { 20: "v20.13.1", 24: "v24.10.0" };

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
 * Makes MockTestRunner find "its" Node 20 and Node 24 without a download, by linking (or, where
 * links are not allowed, copying) process.execPath into the cache. A real earlier download is
 * left alone. Returns the paths it made available.
 */
export function seedMockTestRunnerNode(): string[] {
  const downloads = mockTestDownloadDirectory();
  return Object.entries(PINNED).map(([major, version]) => {
    const destination = path.join(downloads, `node${major}`);
    const exe = cachedNodePath(destination, version);
    const marker = `${destination}.completed`;
    if (!fs.existsSync(exe)) {
      // existsSync follows links, so a dangling link from an older Node lands here too.
      fs.rmSync(exe, { force: true });
      fs.mkdirSync(path.dirname(exe), { recursive: true });
      try {
        fs.symlinkSync(process.execPath, exe);
      } catch {
        fs.copyFileSync(process.execPath, exe);
        fs.chmodSync(exe, 0o755);
      }
    }
    if (!fs.existsSync(marker)) fs.writeFileSync(marker, "");
    return exe;
  });
}
