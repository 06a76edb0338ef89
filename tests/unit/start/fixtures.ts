import type { InputReader, PipelineVariables } from "../../../src/core/inputSource";
import { parseStartInputs, type StartConfig } from "../../../src/start/inputs";

export const PROJECT_ID = "6c5b2f9e-1f2a-4e0b-9a55-0d7e8c3b1a42";
export const PAT = "pat-0123456789-secret";
export const SUBSCRIPTION_SCOPE = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/net-rg";
export const SUBNET_ID = `${SUBSCRIPTION_SCOPE}/providers/Microsoft.Network/virtualNetworks/ci-vnet/subnets/agents`;
export const IDENTITY_ID = `${SUBSCRIPTION_SCOPE}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/agent-id`;
export const PULL_IDENTITY_ID = `${SUBSCRIPTION_SCOPE}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull`;

/** The inputs of the design's example pipeline. */
export const REQUIRED_INPUTS: Readonly<Record<string, string>> = {
  azureSubscription: "9f0c3c1e-arm-connection",
  resourceGroup: "ci-agents",
  pool: "aci",
  registrationToken: PAT,
};

export const BUILD_VARIABLES: Readonly<PipelineVariables> = {
  buildId: "1234",
  jobAttempt: "1",
  collectionUri: "https://dev.azure.com/contoso/",
  teamProjectId: PROJECT_ID,
  teamProject: "Platform",
};

export function readerOf(inputs: Readonly<Record<string, string>>): InputReader {
  return { get: (name) => inputs[name] };
}

/** Parses the required inputs with the given ones on top; "" leaves an input unset. */
export function configWith(inputs: Readonly<Record<string, string>> = {}, vars: PipelineVariables = BUILD_VARIABLES): StartConfig {
  return parseStartInputs(readerOf({ ...REQUIRED_INPUTS, ...inputs }), vars);
}
