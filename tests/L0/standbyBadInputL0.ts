// L0 runner: AciAgentStandbyPool with inputs that break several rules at once.
import * as path from "node:path";
import { TaskMockRunner } from "azure-pipelines-task-lib/mock-run";

const runner = new TaskMockRunner(path.join(__dirname, "..", "..", "tasks", "AciAgentStandbyPoolV1", "main.ts"));
runner.setInput("azureSubscription", "connection-id");
runner.setInput("resourceGroup", "ci-agents");
runner.setInput("standbyPool", "x");
runner.setInput("readyCapacity", "2001");
runner.setInput("action", "recreate");
runner.setInput("registrationAuth", "pat");
runner.run();
