// L0 runner: AciAgentStop with scope names but no containerGroupNames; every other input is fine.
import * as path from "node:path";
import { TaskMockRunner } from "azure-pipelines-task-lib/mock-run";

const runner = new TaskMockRunner(path.join(__dirname, "..", "..", "tasks", "AciAgentStopV1", "main.ts"));
runner.setInput("azureSubscription", "connection-id");
runner.setInput("resourceGroup", "ci-agents");
runner.setInput("pool", "aci");
runner.setInput("scope", "names");
runner.setInput("registrationAuth", "pat");
runner.setInput("registrationToken", "l0-stop-secret-pat-value");
runner.run();
