// L0 runner: AciAgentStart in a dry run writes the ARM template and creates nothing.
import * as path from "node:path";
import { TaskMockRunner } from "azure-pipelines-task-lib/mock-run";

const runner = new TaskMockRunner(path.join(__dirname, "..", "..", "tasks", "AciAgentStartV1", "main.ts"));
runner.setInput("azureSubscription", "connection-id");
runner.setInput("resourceGroup", "ci-agents");
runner.setInput("pool", "aci");
runner.setInput("agentCount", "2");
runner.setInput("registrationAuth", "pat");
runner.setInput("registrationToken", "l0-secret-pat-value");
runner.setInput("dryRun", "true");
runner.run();
