// L0 runner: AciAgentStandbyPool in a dry run writes the ARM template and creates nothing.
import * as path from "node:path";
import { TaskMockRunner } from "azure-pipelines-task-lib/mock-run";

const runner = new TaskMockRunner(path.join(__dirname, "..", "..", "tasks", "AciAgentStandbyPoolV1", "main.ts"));
runner.setInput("azureSubscription", "connection-id");
runner.setInput("resourceGroup", "ci-agents");
runner.setInput("standbyPool", "warm-agents");
runner.setInput("readyCapacity", "3");
runner.setInput("registrationAuth", "pat");
runner.setInput("registrationToken", "l0-secret-pat-value");
runner.setInput("registryServer", "contoso.azurecr.io");
runner.setInput("registryUsername", "puller");
runner.setInput("registryPassword", "l0-secret-registry-password");
runner.setInput("startupScript", "echo l0-secret-startup-script");
runner.setInput("dryRun", "true");
runner.run();
