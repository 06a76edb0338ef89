// A program that uses only the public Azure SDKs against the emulator, configured exactly as a
// user would configure it: the emulator's JSON line (argv[2]) and NODE_EXTRA_CA_CERTS, nothing
// else. It creates a container group, waits for it, reads its log, lists and deletes it, and
// prints one JSON line of what it saw.
import { ContainerInstanceManagementClient } from "@azure/arm-containerinstance";
import { ClientSecretCredential } from "@azure/identity";

interface EmulatorInfo {
  armUrl: string;
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
}

async function main(): Promise<void> {
  const info = JSON.parse(process.argv[2] ?? "{}") as EmulatorInfo;
  const credential = new ClientSecretCredential(info.tenantId, info.clientId, info.clientSecret, {
    authorityHost: info.authorityHost,
    disableInstanceDiscovery: true,
  });
  const client = new ContainerInstanceManagementClient(credential, info.subscriptionId, {
    endpoint: info.armUrl,
    credentialScopes: [`${info.armUrl}.default`],
  });
  const name = "public-sdk-smoke";
  const created = await client.containerGroups.beginCreateOrUpdateAndWait(
    info.resourceGroup,
    name,
    {
      location: info.location,
      osType: "Linux",
      restartPolicy: "Never",
      containers: [
        {
          name,
          image: "mcr.microsoft.com/azurelinux/base/core:3.0",
          command: ["/bin/sh", "-c", "echo hello from $GREETING_TARGET; sleep 30"],
          resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
          environmentVariables: [
            { name: "GREETING_TARGET", value: "the emulator" },
            { name: "SOME_SECRET", secureValue: "do-not-echo-me" },
          ],
        },
      ],
    },
    { updateIntervalInMs: 100 },
  );
  let log = "";
  for (let attempt = 0; attempt < 50 && !log.includes("hello"); attempt++) {
    log = (await client.containers.listLogs(info.resourceGroup, name, name)).content ?? "";
    if (!log.includes("hello")) await new Promise((r) => setTimeout(r, 100));
  }
  const listed: string[] = [];
  for await (const group of client.containerGroups.listByResourceGroup(info.resourceGroup)) listed.push(group.name ?? "");
  const fetched = await client.containerGroups.get(info.resourceGroup, name);
  await client.containerGroups.beginDeleteAndWait(info.resourceGroup, name, { updateIntervalInMs: 100 });
  let gone = false;
  try {
    await client.containerGroups.get(info.resourceGroup, name);
  } catch (error) {
    gone = (error as { statusCode?: number }).statusCode === 404;
  }
  process.stdout.write(
    `${JSON.stringify({
      provisioningState: created.provisioningState,
      state: fetched.instanceView?.state,
      containerState: fetched.containers[0]?.instanceView?.currentState?.state,
      secureValueEchoed: JSON.stringify(fetched).includes("do-not-echo-me"),
      log,
      listed,
      gone,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
