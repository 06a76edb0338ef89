// Run by tests/platform.test.ts in a child Node process (through tsx), with INPUT_*, ENDPOINT_*
// and variables in its environment the way the agent passes them. It drives the real task-lib
// adapter and prints what the getters returned as one `PROBE {json}` line among task-lib's
// logging commands.
import { createTaskPlatform } from "../../src/platform/taskLib";

const platform = createTaskPlatform();

function errorOf(action: () => unknown): string {
  try {
    action();
    return "";
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const read = {
  pool: platform.getInput("pool"),
  missing: platform.getInput("missing"),
  missingRequired: errorOf(() => platform.getInput("missing", true)),
  tokenRead: platform.getSecretInput("registrationToken") === "s3cr3t-pat",
  flag: platform.getBoolInput("flag"),
  unset: platform.getBoolInput("unset"),
  badBool: errorOf(() => platform.getBoolInput("badFlag")),
  list: platform.getDelimitedInput("list", ","),
  lines: platform.getMultilineInput("lines"),
  buildId: platform.getVariable("Build.BuildId"),
  url: platform.getEndpointUrl("conn1"),
  scheme: platform.getEndpointAuthorizationScheme("conn1"),
  clientId: platform.getEndpointAuthorizationParameter("conn1", "serviceprincipalid"),
  hasClientSecret: platform.getEndpointAuthorizationParameter("conn1", "serviceprincipalkey") === "client-secret-value",
  subscription: platform.getEndpointDataParameter("conn1", "subscriptionId"),
  noEndpoint: platform.getEndpointUrl("nope") ?? null,
  tempDirectory: platform.tempDirectory,
};
console.log(`PROBE ${JSON.stringify(read)}`);

platform.setVariable("runId", "42", { isOutput: true });
platform.setVariable("hidden", "hidden-value", { isSecret: true });
platform.setSecret("line-one\nline-two");
platform.setProgress(49.6, "half way");
platform.uploadSummary("/tmp/summary.md");
platform.uploadFile("/tmp/agent.log");
platform.info("plain line");
platform.infoExternal("from a container ##vso[task.setvariable variable=evil]1");
platform.warning("a warning");
platform.setResult("failed", "probe done");
