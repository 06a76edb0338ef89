// The container group profile and standby pool AciAgentStandbyPool@1 makes, made here through the
// emulator's ARM routes (profile container `azp-agent` in standby mode with the bootstrap command,
// restart policy Never; a pool of that profile): for the standby start's tests and the bench.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RunningEmulator } from "../../emulator/emulator";
import type { StandbyPoolInfo } from "../../src/azure/aci";
import { claimBody } from "../../src/start/claim";
import { bootstrapCommand } from "../../src/start/containerGroupSpec";
import { arm, devops, eventually, type EmulatorInfo } from "./emulator";

const repoRoot = resolve(__dirname, "..", "..");
const ciApiVersion = "2025-09-01";
const poolApiVersion = "2026-04-01";
export const poolName = "warm-agents";

/** The pool makeStandbyPool makes, as AciAgentStart's claims name it (its profile at revision 1). */
export function standbyPoolOf(info: EmulatorInfo): Pick<StandbyPoolInfo, "id" | "location" | "profileId" | "profileRevision"> {
  const providers = `/subscriptions/${info.subscriptionId}/resourceGroups/${info.resourceGroup}/providers`;
  return {
    id: `${providers}/Microsoft.StandbyPool/standbyContainerGroupPools/${poolName}`,
    location: info.location,
    profileId: `${providers}/Microsoft.ContainerInstance/containerGroupProfiles/${poolName}`,
    profileRevision: 1,
  };
}

/** Claims `name` from that pool, its container's config map holding `keyValuePairs`. */
export async function claimFromPool(info: EmulatorInfo, name: string, keyValuePairs: Record<string, string>): Promise<void> {
  const claim = await arm(info, "PUT", `subscriptions/${info.subscriptionId}/resourceGroups/${info.resourceGroup}/providers/Microsoft.ContainerInstance/containerGroups/${name}?api-version=${ciApiVersion}`, {
    body: claimBody(standbyPoolOf(info), keyValuePairs),
  });
  assert.ok(claim.status === 200 || claim.status === 201, claim.text);
}

async function agentPackage(info: EmulatorInfo, platform: string): Promise<{ downloadUrl: string; hashValue: string } | undefined> {
  const res = await devops(info, "GET", `_apis/distributedtask/packages/agent?platform=${platform}&top=1`);
  assert.equal(res.status, 200, res.text);
  return (res.json as { value: { downloadUrl: string; hashValue: string }[] }).value[0];
}

/** The profile and the pool AciAgentStandbyPool@1 would make, `capacity` instances of 0.5 CPU; waits until `capacity` are Running. */
export async function makeStandbyPool(emu: RunningEmulator, capacity: number, timeoutMs = 240_000): Promise<void> {
  const { info } = emu;
  // The one-time set-up: the roles the pool's provider needs (README, Permissions).
  emu.state.behaviour.standbyProviderWithoutRoles = false;
  const glibc = await agentPackage(info, "linux-x64");
  const musl = await agentPackage(info, "linux-musl-x64");
  assert.ok(glibc !== undefined);
  const { id, profileId } = standbyPoolOf(info);
  const profile = await arm(info, "PUT", `${profileId.slice(1)}?api-version=${ciApiVersion}`, {
    body: {
      location: info.location,
      properties: {
        osType: "Linux",
        restartPolicy: "Never",
        containers: [
          {
            name: "azp-agent",
            properties: {
              image: "mcr.microsoft.com/dotnet/runtime-deps:8.0",
              command: bootstrapCommand(readFileSync(join(repoRoot, "agent", "start.sh"), "utf8")),
              resources: { requests: { cpu: 0.5, memoryInGB: 1 } },
              environmentVariables: [
                { name: "AZP_STANDBY", value: "true" },
                { name: "AZP_CONTAINER_NAME", value: "azp-agent" },
                { name: "AZP_AGENT_PACKAGE_URL", value: glibc.downloadUrl },
                { name: "AZP_AGENT_PACKAGE_SHA256", value: glibc.hashValue },
                ...(musl === undefined
                  ? []
                  : [
                      { name: "AZP_AGENT_MUSL_PACKAGE_URL", value: musl.downloadUrl },
                      { name: "AZP_AGENT_MUSL_PACKAGE_SHA256", value: musl.hashValue },
                    ]),
                { name: "AZP_WORK", value: "_work" },
              ],
            },
          },
        ],
      },
    },
  });
  assert.equal(profile.status, 201, profile.text);
  const pool = await arm(info, "PUT", `${id.slice(1)}?api-version=${poolApiVersion}`, {
    body: {
      location: info.location,
      properties: {
        elasticityProfile: { maxReadyCapacity: capacity, refillPolicy: "always" },
        containerGroupProperties: { containerGroupProfile: { id: profileId, revision: 1 } },
      },
    },
  });
  assert.equal(pool.status, 201, pool.text);
  await eventually(
    `standby pool to hold ${capacity} instances with their keys printed`,
    () => {
      const ready = [...emu.state.standbyInstances].filter((i) => i.state === "Running" && [...i.containers.values()].some((c) => c.log.some((l) => l.text.startsWith("aci-agent-public-key "))));
      return Promise.resolve(ready.length >= capacity ? true : undefined);
    },
    timeoutMs,
  );
}

