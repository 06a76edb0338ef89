// Entry point of AciAgentStart@1, bundled to dist/main.js. Stays thin: the platform, the
// bootstrap script (inlined by the bundler), cancellation, and the core.
import bootstrapScript from "../../agent/start.sh";
import { createTaskPlatform } from "../../src/platform/taskLib";
import { runStartTask } from "../../src/start/task";

const cancellation = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => { cancellation.abort(); });

void runStartTask(createTaskPlatform(__dirname), bootstrapScript, cancellation.signal);
