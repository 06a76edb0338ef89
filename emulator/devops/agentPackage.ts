// The emulated Azure Pipelines agent package: emulator/agent-package/ packed as the tarball the
// packages route advertises, with its SHA-256 as hashValue.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as tar from "tar";

export const agentVersion = { major: 4, minor: 264, patch: 2 };
export const agentVersionText = `${agentVersion.major}.${agentVersion.minor}.${agentVersion.patch}`;
export const agentPlatforms = ["linux-x64", "linux-arm64", "linux-musl-x64"] as const;

export class AgentPackage {
  readonly file: string;
  readonly sha256: string;

  constructor(sourceDir: string, stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.file = join(stateDir, `vsts-agent-${agentVersionText}.tar.gz`);
    tar.create({ gzip: true, cwd: sourceDir, file: this.file, sync: true, portable: true }, ["."]);
    this.sha256 = createHash("sha256").update(readFileSync(this.file)).digest("hex");
  }

  fileName(platform: string): string {
    return `vsts-agent-${platform}-${agentVersionText}.tar.gz`;
  }

  extractTo(dir: string): void {
    mkdirSync(dir, { recursive: true });
    tar.extract({ file: this.file, cwd: dir, sync: true });
  }
}
