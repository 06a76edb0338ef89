// Entry point of AciAgentStop@1, bundled to dist/main.js. Stays thin: the platform and the core.
import { createTaskPlatform } from "../../src/platform/taskLib";
import { runStopTask } from "../../src/stop/task";

void runStopTask(createTaskPlatform(__dirname));
