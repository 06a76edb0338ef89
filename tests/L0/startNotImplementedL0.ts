// L0 runner: MockTestRunner starts this file in a child Node process, which runs the unbundled
// AciAgentStart entry point with task-lib mocked by TaskMockRunner.
import * as path from "node:path";
import { TaskMockRunner } from "azure-pipelines-task-lib/mock-run";

const runner = new TaskMockRunner(path.join(__dirname, "..", "..", "tasks", "AciAgentStartV1", "main.ts"));
runner.setInput("azureSubscription", "connection-id");
runner.setInput("resourceGroup", "ci-agents");
runner.setInput("pool", "aci");
runner.setInput("agentCount", "2");
runner.run();
