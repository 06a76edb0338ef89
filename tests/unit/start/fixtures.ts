import { generateKeyPairSync } from "node:crypto";
import { rsaParametersOf, type AgentKey } from "../../../src/run/agentIdentity";
import { parseStartInputs } from "../../../src/start/inputs";
import { parserWith, requiredInputs } from "../fixtures";

export { BUILD_VARIABLES, PROJECT_ID, readerOf } from "../fixtures";

export const PAT = "pat-0123456789-secret";
export const SUBSCRIPTION_SCOPE = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/net-rg";
export const SUBNET_ID = `${SUBSCRIPTION_SCOPE}/providers/Microsoft.Network/virtualNetworks/ci-vnet/subnets/agents`;
export const IDENTITY_ID = `${SUBSCRIPTION_SCOPE}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/agent-id`;
export const PULL_IDENTITY_ID = `${SUBSCRIPTION_SCOPE}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull`;

/** The inputs of the design's example pipeline. */
export const REQUIRED_INPUTS = requiredInputs(PAT);

/** Parses the required inputs with the given ones on top; "" leaves an input unset. */
export const configWith = parserWith(parseStartInputs, REQUIRED_INPUTS);

/** One real key for the tests that need a key and not its making (made once, at load). */
export const TEST_KEY: AgentKey = (() => {
  const parameters = rsaParametersOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey);
  return { parameters, publicKey: { exponent: parameters.exponent, modulus: parameters.modulus } };
})();
