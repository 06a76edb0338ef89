// Entry point of AciAgentStandbyPool@1, bundled to dist/main.js. Stays thin: the platform, the
// bootstrap script (inlined by the bundler: a standby container runs it), cancellation, and the core.
import bootstrapScript from "../../agent/start.sh";
import { createTaskPlatform } from "../../src/platform/taskLib";
import { runStandbyPoolTask } from "../../src/standby/task";

const cancellation = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => { cancellation.abort(); });

void runStandbyPoolTask(createTaskPlatform(__dirname), bootstrapScript, cancellation.signal);
