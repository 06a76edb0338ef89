// A dry run also writes the build context of a prebuilt agent image (imageMode: prebuilt): the
// Dockerfile template and the start.sh it copies in, both shipped inside the task bundle, since
// users cannot reach files inside the installed extension.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import dockerfileTemplate from "../../agent/Dockerfile";
import type { TaskPlatform } from "../platform/types";

/** Writes `Dockerfile` and `start.sh` into `directory` and says how to build the image from them. */
export function writeImageTemplate(platform: Pick<TaskPlatform, "info">, directory: string, startScript: string): string {
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, "Dockerfile"), dockerfileTemplate);
  writeFileSync(join(directory, "start.sh"), startScript, { mode: 0o755 });
  platform.info(`Dry run: wrote the Dockerfile template of a prebuilt agent image (imageMode: prebuilt) to ${directory}; build it with: az acr build -r <registry> -t azp-agent:latest ${directory}`);
  return directory;
}
