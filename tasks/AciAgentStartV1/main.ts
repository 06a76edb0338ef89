// Entry point of AciAgentStart@1, bundled to dist/main.js. Stays thin: read inputs, call the
// core in src/, set the result once.
import { createTaskPlatform } from "../../src/platform/taskLib";

createTaskPlatform().setResult("failed", "AciAgentStart@1 is not implemented yet");
