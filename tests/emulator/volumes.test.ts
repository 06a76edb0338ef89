// ACI volumes as a container sees them: secret volumes mounted read-only at their mount path,
// emptyDir volumes shared by the group's containers, each container's mounts its own (a mount
// namespace per container), mounted again when the restart policy restarts a container.
import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Container, ContainerGroup, Volume } from "@azure/arm-containerinstance";
import { arm, armClient, armError, containerGroupWire, eventually, fastPolling, groupPath, logOf, useEmulator, type EmulatorInfo } from "../helpers/emulator";

const image = "mcr.microsoft.com/azure-pipelines/vsts-agent:ubuntu-22.04";

function groupWith(info: EmulatorInfo, containers: Container[], volumes: Volume[], restartPolicy: "Never" | "OnFailure" = "Never"): ContainerGroup {
  return { location: info.location, osType: "Linux", restartPolicy, containers, volumes };
}

function container(name: string, script: string, volumeMounts: Container["volumeMounts"] = []): Container {
  return { name, image, command: ["/bin/sh", "-c", script], resources: { requests: { cpu: 0.5, memoryInGB: 0.5 } }, volumeMounts };
}

function base64(text: string): string {
  return Buffer.from(text).toString("base64");
}

describe("emulator ACI volumes", function () {
  this.timeout(60_000);
  const emulator = useEmulator();
  // Mount points under the temporary folder: the runtime makes an absent mount point on this
  // machine (an empty folder), and the test removes it.
  let mountRoot = "";
  beforeEach(function () {
    mountRoot = join(tmpdir(), `aci-volumes-${randomUUID()}`);
  });
  afterEach(function () {
    rmSync(mountRoot, { recursive: true, force: true });
  });

  it("a secret volume mounted read-only: the container reads its files at the mount path, a write fails (EROFS), and no other container or the machine sees them", async function () {
    const { info } = emulator();
    const client = armClient(info);
    const identity = join(mountRoot, "aci-agent-identity");
    const first = `agent-file-${randomUUID()}`;
    const second = `agent-file-${randomUUID()}`;
    const reader = (name: string) =>
      container(
        name,
        `cat '${identity}/agent'; echo; stat -c 'mode=%a' '${identity}/agent'; ls -a '${identity}' | tr '\\n' ' '; echo; ` +
          `if echo changed > '${identity}/agent'; then echo write-ok; else echo write-failed; fi; ` +
          `if touch '${identity}/new'; then echo create-ok; else echo create-failed; fi; sleep 30`,
        [{ name: "agent-identity", mountPath: identity, readOnly: true }],
      );
    const secretVolume = (content: string): Volume => ({
      name: "agent-identity",
      secret: { agent: base64(content), credentials: base64("{}"), ".hidden": base64("dot") },
    });
    await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-secret-1", groupWith(info, [reader("main")], [secretVolume(first)]), fastPolling);
    const log = await logOf(info, "cg-secret-1", "main", /create-(ok|failed)/);
    assert.match(log, new RegExp(`^${first}\n`), "the container did not read the secret file at its mount path");
    assert.match(log, /^mode=644$/m);
    assert.match(log, /^\. \.\. \.hidden agent credentials $/m, "the files keep ACI's names");
    assert.match(log, /Read-only file system/);
    assert.match(log, /write-failed/, "root could write to a read-only secret volume");
    assert.match(log, /create-failed/);

    // The mount is the container's own: this process sees an empty mount point ...
    assert.equal(existsSync(join(identity, "agent")), false, "the secret file is visible on the machine, outside the container");
    // ... a container of another group without the volume sees nothing there ...
    await client.containerGroups.beginCreateOrUpdateAndWait(
      info.resourceGroup,
      "cg-secret-none",
      groupWith(info, [container("main", `if [ -e '${identity}/agent' ]; then echo agent-present; else echo agent-absent; fi; sleep 30`)], []),
      fastPolling,
    );
    assert.match(await logOf(info, "cg-secret-none", "main", /agent-(present|absent)/), /agent-absent/);
    // ... and a second group with a secret volume at the same path sees its own files.
    await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-secret-2", groupWith(info, [reader("main")], [secretVolume(second)]), fastPolling);
    const secondLog = await logOf(info, "cg-secret-2", "main", /create-(ok|failed)/);
    assert.match(secondLog, new RegExp(`^${second}\n`));
    assert.ok(!secondLog.includes(first), "the second group saw the first group's secret");
    // The first container still has its own.
    assert.ok(!(await logOf(info, "cg-secret-1", "main", /create-/)).includes(second));
  });

  it("a secret volume is read-only even when the mount does not say readOnly (ACI: a secret volume is read-only)", async function () {
    const { info } = emulator();
    const path = join(mountRoot, "secrets");
    const group = groupWith(
      info,
      [container("main", `cat '${path}/token'; echo; if echo x > '${path}/token'; then echo write-ok; else echo write-failed; fi; sleep 30`, [{ name: "secrets", mountPath: path }])],
      [{ name: "secrets", secret: { token: base64("token-value") } }],
    );
    await armClient(info).containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-secret-rw", group, fastPolling);
    const log = await logOf(info, "cg-secret-rw", "main", /write-(ok|failed)/);
    assert.match(log, /^token-value$/m);
    assert.match(log, /write-failed/);
  });

  it("an emptyDir volume is one folder shared by the group's containers, writable unless the mount is readOnly", async function () {
    const { info } = emulator();
    const writerPath = join(mountRoot, "scratch");
    const readerPath = join(mountRoot, "shared");
    const group = groupWith(
      info,
      [
        container("writer", `ls -A '${writerPath}' | wc -l | sed 's/^/entries=/'; echo hello > '${writerPath}/note' && echo wrote; sleep 30`, [{ name: "scratch", mountPath: writerPath }]),
        container(
          "reader",
          `while [ ! -e '${readerPath}/note' ]; do sleep 0.1; done; cat '${readerPath}/note'; if echo x > '${readerPath}/other'; then echo write-ok; else echo write-failed; fi; sleep 30`,
          [{ name: "scratch", mountPath: readerPath, readOnly: true }],
        ),
      ],
      [{ name: "scratch", emptyDir: {} }],
    );
    await armClient(info).containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-emptydir", group, fastPolling);
    assert.match(await logOf(info, "cg-emptydir", "writer", /wrote/), /^entries=0$/m, "the emptyDir volume was not empty");
    const readerLog = await logOf(info, "cg-emptydir", "reader", /write-(ok|failed)/);
    assert.match(readerLog, /^hello$/m, "the reader did not see the writer's file");
    assert.match(readerLog, /write-failed/);
  });

  it("a container restarted by restart policy OnFailure mounts its volumes again and keeps its own files", async function () {
    const { info } = emulator();
    const path = join(mountRoot, "aci-agent-identity");
    // Fails on its first run, runs on after its restart.
    const script =
      `echo "secret=$(cat '${path}/agent')"; n=$(cat "$HOME/runs" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$HOME/runs"; ` +
      `echo "run=$n"; if (echo x > '${path}/agent') 2>/dev/null; then echo write-ok; else echo write-failed; fi; [ "$n" -ge 2 ] || exit 3; sleep 30`;
    const group = groupWith(info, [container("main", script, [{ name: "identity", mountPath: path, readOnly: true }])], [{ name: "identity", secret: { agent: base64("agent-json") } }], "OnFailure");
    const client = armClient(info);
    await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-restart-volume", group, fastPolling);
    const log = await logOf(info, "cg-restart-volume", "main", /run=2\n[\s\S]*write-(ok|failed)/, 30_000);
    assert.deepEqual(log.match(/^secret=.*$/gm), ["secret=agent-json", "secret=agent-json"], "the restarted container did not see its secret volume");
    assert.deepEqual(log.match(/^write-\w+$/gm), ["write-failed", "write-failed"]);
    const view = (await client.containerGroups.get(info.resourceGroup, "cg-restart-volume")).containers[0]?.instanceView;
    assert.equal(view?.restartCount, 1);
    assert.equal(view.currentState?.state, "Running");
    assert.equal(view.previousState?.state, "Terminated");
    assert.equal(view.previousState.exitCode, 3);
  });

  it("a group restarted through the API gets fresh containers: files a container wrote are gone, the secret volume is back", async function () {
    const { info } = emulator();
    const path = join(mountRoot, "identity");
    const script = `cat '${path}/agent'; echo; if [ -e "$HOME/ran-before" ]; then echo ran-before; else echo first-run; fi; touch "$HOME/ran-before"; sleep 30`;
    const group = groupWith(info, [container("main", script, [{ name: "identity", mountPath: path, readOnly: true }])], [{ name: "identity", secret: { agent: base64("agent-json") } }]);
    const client = armClient(info);
    await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-api-restart", group, fastPolling);
    await logOf(info, "cg-api-restart", "main", /first-run/);
    await client.containerGroups.beginRestartAndWait(info.resourceGroup, "cg-api-restart", fastPolling);
    const log = await logOf(info, "cg-api-restart", "main", /first-run[\s\S]*(first-run|ran-before)/);
    assert.doesNotMatch(log, /ran-before/, "the restarted group's container kept the file its predecessor wrote");
    assert.deepEqual(log.match(/^agent-json$/gm), ["agent-json", "agent-json"]);
  });

  it("the command of a container with volume mounts is its main process: a stop's SIGTERM reaches it", async function () {
    const { info } = emulator();
    const path = join(mountRoot, "identity");
    const script = `trap 'echo got-term; exit 0' TERM; cat '${path}/agent'; echo; sleep 30 & wait`;
    const group = groupWith(info, [container("main", script, [{ name: "identity", mountPath: path, readOnly: true }])], [{ name: "identity", secret: { agent: base64("agent-json") } }]);
    const client = armClient(info);
    await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-volume-stop", group, fastPolling);
    await logOf(info, "cg-volume-stop", "main", /agent-json/);
    await client.containerGroups.stop(info.resourceGroup, "cg-volume-stop");
    // Had a wrapper stayed between them, the SIGTERM would have ended the wrapper, not run the trap.
    await logOf(info, "cg-volume-stop", "main", /got-term/);
    const view = await eventually("the container to terminate", async () => {
      const current = (await client.containerGroups.get(info.resourceGroup, "cg-volume-stop")).containers[0]?.instanceView?.currentState;
      return current?.state === "Terminated" ? current : undefined;
    });
    assert.equal(view.exitCode, 0, "the container did not end by its own trap");
  });

  it("a Windows group with a secret volume is refused with SecretVolumesNotSupportedOnWindows", async function () {
    const { info } = emulator();
    const body = containerGroupWire(info);
    const properties = body.properties as Record<string, unknown>;
    properties.osType = "Windows";
    properties.volumes = [{ name: "agent-identity", secret: { agent: base64("{}") } }];
    const res = await arm(info, "PUT", groupPath(info, "cg-windows-secret"), { body });
    assert.equal(res.status, 400);
    assert.equal(armError(res.json).code, "SecretVolumesNotSupportedOnWindows");
    assert.equal(armError(res.json).message, "Secret volumes are not supported for Windows container groups.");
    assert.equal((await arm(info, "GET", groupPath(info, "cg-windows-secret"))).status, 404, "the refused group was stored");
  });
});
