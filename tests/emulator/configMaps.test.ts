// ACI config maps (api-version 2024-05-01-preview and later): each key a file at
// /mnt/configmap/<container>/<key>, returned by GET in plain text, changed in place by a
// config-map-only update (no restart), while any other update restarts the containers.
import { strict as assert } from "node:assert";
import { arm, armError, eventually, useEmulator, type EmulatorInfo } from "../helpers/emulator";

export const standbyApiVersion = "2025-09-01";

function path(info: EmulatorInfo, name: string, apiVersion = standbyApiVersion, suffix = ""): string {
  return `subscriptions/${info.subscriptionId}/resourceGroups/${info.resourceGroup}/providers/Microsoft.ContainerInstance/containerGroups/${name}${suffix}?api-version=${apiVersion}`;
}

/** Prints its pid once, then every change of its config map file `greeting`. */
const watcher =
  'echo "started pid=$$"; last=""; while true; do now=$(cat /mnt/configmap/main/greeting 2>/dev/null); ' +
  'if [ "$now" != "$last" ]; then echo "greeting=$now"; last="$now"; fi; sleep 0.05; done';

function body(info: EmulatorInfo, greeting: string, extraEnv?: string): Record<string, unknown> {
  return {
    location: info.location,
    properties: {
      osType: "Linux",
      restartPolicy: "Never",
      containers: [
        {
          name: "main",
          properties: {
            image: "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04",
            command: ["/bin/sh", "-c", watcher],
            resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
            ...(extraEnv === undefined ? {} : { environmentVariables: [{ name: "EXTRA", value: extraEnv }] }),
            configMap: { keyValuePairs: { greeting } },
          },
        },
      ],
    },
  };
}

async function logUntil(info: EmulatorInfo, name: string, until: RegExp): Promise<string> {
  return eventually(`${name}'s log to match ${String(until)}`, async () => {
    const res = await arm(info, "GET", path(info, name, standbyApiVersion, "/containers/main/logs"));
    const content = (res.json as { content?: string } | undefined)?.content ?? "";
    return until.test(content) ? content : undefined;
  });
}

async function operationStatus(info: EmulatorInfo, url: string | string[] | undefined): Promise<string> {
  assert.equal(typeof url, "string", "no Azure-AsyncOperation header");
  return eventually("the operation to end", async () => {
    const res = await arm(info, "GET", new URL(url as string).pathname.slice(1) + new URL(url as string).search);
    const status = (res.json as { status?: string } | undefined)?.status;
    return status === "Pending" ? undefined : status;
  });
}

describe("emulator ACI config maps", function () {
  this.timeout(60_000);
  const emulator = useEmulator();

  it("each key is a file at /mnt/configmap/<container>/<key>; GET returns the values in plain text", async function () {
    const { info } = emulator();
    const created = await arm(info, "PUT", path(info, "cg-configmap"), { body: body(info, "hello") });
    assert.equal(created.status, 201, created.text);
    assert.equal(await operationStatus(info, created.headers["azure-asyncoperation"]), "Succeeded");
    assert.match(await logUntil(info, "cg-configmap", /greeting=hello/), /started pid=\d+\ngreeting=hello/);
    const got = await arm(info, "GET", path(info, "cg-configmap"));
    const container = (got.json as { properties: { containers: { properties: { configMap?: unknown } }[] } }).properties.containers[0];
    assert.deepEqual(container?.properties.configMap, { keyValuePairs: { greeting: "hello" } });
  });

  it("a PUT that changes only the config map updates the files in place without a restart; any other update restarts", async function () {
    const { info } = emulator();
    const first = await arm(info, "PUT", path(info, "cg-configmap-update"), { body: body(info, "one") });
    assert.equal(first.status, 201, first.text);
    await logUntil(info, "cg-configmap-update", /greeting=one/);

    // The whole body again, with another value.
    const second = await arm(info, "PUT", path(info, "cg-configmap-update"), { body: body(info, "two") });
    assert.equal(second.status, 200, second.text);
    assert.equal(await operationStatus(info, second.headers["azure-asyncoperation"]), "Succeeded");
    // Only the config map, as Learn's sample sends it.
    const third = await arm(info, "PUT", path(info, "cg-configmap-update"), {
      body: { location: info.location, properties: { containers: [{ name: "main", properties: { configMap: { keyValuePairs: { greeting: "three" } } } }] } },
    });
    assert.equal(third.status, 200, third.text);
    assert.equal(await operationStatus(info, third.headers["azure-asyncoperation"]), "Succeeded");
    const log = await logUntil(info, "cg-configmap-update", /greeting=three/);
    assert.deepEqual(log.match(/^started pid=\d+$/gm)?.length, 1, `the container restarted:\n${log}`);
    assert.match(log, /greeting=one\ngreeting=two\ngreeting=three/);
    const got = await arm(info, "GET", path(info, "cg-configmap-update"));
    const properties = (got.json as { properties: { containers: { properties: Record<string, unknown> }[] } }).properties.containers[0]?.properties;
    assert.equal(properties?.image, "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04", "the config-map-only update lost the container's image");
    assert.deepEqual(properties.configMap, { keyValuePairs: { greeting: "three" } });
    assert.equal((properties.instanceView as { restartCount?: number }).restartCount, 0);
    const pid = /started pid=(\d+)/.exec(log)?.[1];

    // An update of anything else restarts the container (a new process).
    const other = await arm(info, "PUT", path(info, "cg-configmap-update"), { body: body(info, "three", "changed") });
    assert.equal(other.status, 200, other.text);
    const restarted = await logUntil(info, "cg-configmap-update", /started pid=\d+/);
    assert.notEqual(/started pid=(\d+)/.exec(restarted)?.[1], pid, "the update of an environment variable did not restart the container");
    assert.match(await logUntil(info, "cg-configmap-update", /greeting=three/), /greeting=three/);
  });

  it("the files are read-only for the container, mode 0644", async function () {
    const { info } = emulator();
    const script =
      "stat -c 'mode=%a' /mnt/configmap/main/greeting; if echo x > /mnt/configmap/main/greeting; then echo write-ok; else echo write-failed; fi; sleep 30";
    const request = body(info, "hello");
    ((request.properties as { containers: { properties: { command: string[] } }[] }).containers[0] as { properties: { command: string[] } }).properties.command = ["/bin/sh", "-c", script];
    assert.equal((await arm(info, "PUT", path(info, "cg-configmap-ro"), { body: request })).status, 201);
    const log = await logUntil(info, "cg-configmap-ro", /write-(ok|failed)/);
    assert.match(log, /^mode=644$/m);
    assert.match(log, /write-failed/);
  });

  it("api-version 2023-05-01 does not know configMap; a key that is no file name is refused", async function () {
    const { info } = emulator();
    const old = await arm(info, "PUT", path(info, "cg-configmap-old", "2023-05-01"), { body: body(info, "hello") });
    assert.equal(old.status, 400);
    assert.match(armError(old.json).message ?? "", /Could not find member 'configMap'/);
    const bad = body(info, "hello");
    ((bad.properties as { containers: { properties: { configMap: unknown } }[] }).containers[0] as { properties: { configMap: unknown } }).properties.configMap = {
      keyValuePairs: { "../escape": "x" },
    };
    const refused = await arm(info, "PUT", path(info, "cg-configmap-bad"), { body: bad });
    assert.equal(refused.status, 400);
    assert.equal(armError(refused.json).code, "InvalidConfigMapKey");
  });
});
