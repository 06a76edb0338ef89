// L0 runner: AciAgentStart with inputs that break several rules at once.
import * as path from "node:path";
import { TaskMockRunner } from "azure-pipelines-task-lib/mock-run";

const runner = new TaskMockRunner(path.join(__dirname, "..", "..", "tasks", "AciAgentStartV1", "main.ts"));
runner.setInput("azureSubscription", "connection-id");
runner.setInput("resourceGroup", "ci-agents");
runner.setInput("pool", "aci");
runner.setInput("agentCount", "0");
runner.setInput("cpu", "9");
runner.setInput("registrationAuth", "pat");
runner.run();
