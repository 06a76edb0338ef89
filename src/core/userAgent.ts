/** Prefixed to the User-Agent of every request the tasks send, so services (and their logs) can tell who called. */
export const userAgentPrefix = "aci-build-agents/1.0";
