// L0 runner: AciAgentStop with inputs that break several rules at once.
import * as path from "node:path";
import { TaskMockRunner } from "azure-pipelines-task-lib/mock-run";

const runner = new TaskMockRunner(path.join(__dirname, "..", "..", "tasks", "AciAgentStopV1", "main.ts"));
runner.setInput("azureSubscription", "connection-id");
runner.setInput("resourceGroup", "ci-agents");
runner.setInput("pool", "aci");
runner.setInput("scope", "everything");
runner.setInput("collectLogs", "maybe");
runner.setInput("registrationAuth", "pat");
runner.setInput("registrationToken", "l0-stop-secret-pat-value");
runner.run();
