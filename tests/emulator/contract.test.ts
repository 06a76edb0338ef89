// The emulator as the real SDKs see it: @azure/identity credentials and the
// ContainerInstanceManagementClient over HTTPS, checked against the wire protocols of
// /work/shared/reference/azure-protocols.md.
import { strict as assert } from "node:assert";
import { createHash, generateKeyPairSync, randomUUID, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AzurePipelinesCredential,
  ClientAssertionCredential,
  ClientCertificateCredential,
} from "@azure/identity";
import type { ContainerGroup } from "@azure/arm-containerinstance";
import jwt from "jsonwebtoken";
import forge from "node-forge";
import {
  arm,
  armClient,
  armError,
  azureDevOpsResource,
  containerGroup,
  containerGroupWire,
  control,
  credentialOptions,
  devops,
  eventually,
  fastPolling,
  groupPath,
  isAlive,
  logOf,
  rawRequest,
  rejectionOf,
  requestLog,
  secretCredential,
  setBehaviour,
  setDelays,
  useEmulator,
  type EmulatorInfo,
  type HttpResult,
} from "../helpers/emulator";

/** A self-signed certificate and its key in one PEM, as ClientCertificateCredential takes it. */
function selfSignedCertificate(): { certificatePem: string; privateKeyPem: string; bundlePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  cert.serialNumber = `01${Buffer.from(randomUUID().replace(/-/g, ""), "hex").toString("hex").slice(0, 14)}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const subject = [{ name: "commonName", value: "aci-build-agents-contract-test" }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forge.pki.privateKeyFromPem(privatePem), forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  return { certificatePem, privateKeyPem: privatePem, bundlePem: `${privatePem}\n${certificatePem}` };
}

/** A client assertion signed the way MSAL signs one, with nbf `nbfOffsetSeconds` from now. */
function certificateAssertion(certificatePem: string, privateKeyPem: string, clientId: string, audience: string, nbfOffsetSeconds: number): string {
  const der = new X509Certificate(certificatePem).raw;
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ jti: randomUUID(), nbf: now + nbfOffsetSeconds, exp: now + 600 }, privateKeyPem, {
    algorithm: "PS256",
    audience,
    issuer: clientId,
    subject: clientId,
    header: { alg: "PS256", typ: "JWT", "x5t#S256": createHash("sha256").update(der).digest("base64url") },
  });
}

function tokenRequest(info: EmulatorInfo, assertion: string): Promise<HttpResult> {
  const form = new URLSearchParams({
    client_id: info.clientId,
    scope: `${info.armUrl}.default`,
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: assertion,
  });
  return rawRequest(info, `${info.authorityHost}/${info.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
}

/** Waits until the clock is at least 600 ms into a second. */
async function secondHalfOfASecond(): Promise<void> {
  const ms = Date.now() % 1000;
  if (ms < 600) await sleep(650 - ms);
}


function oidcRequestUri(info: EmulatorInfo): string {
  return `${info.organizationUrl}${info.projectId}/_apis/distributedtask/hubs/build/plans/${randomUUID()}/jobs/${randomUUID()}/oidctoken`;
}

async function createGroup(info: EmulatorInfo, name: string, group: ContainerGroup = containerGroup(info)): Promise<ContainerGroup> {
  return armClient(info).containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, name, group, fastPolling);
}

async function getGroup(info: EmulatorInfo, name: string): Promise<ContainerGroup> {
  return armClient(info).containerGroups.get(info.resourceGroup, name);
}

describe("emulator contract (real SDKs over HTTPS)", function () {
  const emulator = useEmulator();

  describe("container groups", function () {
    it("create: the PUT answers 201 Pending and the SDK polls the operation from Pending to Succeeded", async function () {
      const { info } = emulator();
      await setDelays(info, { provisionMs: 600 });
      const client = armClient(info);
      const poller = await client.containerGroups.beginCreateOrUpdate(info.resourceGroup, "cg-create", containerGroup(info), fastPolling);
      const result = await poller.pollUntilDone();
      assert.equal(result.provisioningState, "Succeeded");
      assert.equal(result.name, "cg-create");

      const log = (await requestLog(info)).filter((e) => e.service === "arm");
      const put = log.find((e) => e.method === "PUT");
      assert.ok(put !== undefined, "no PUT in the request log");
      assert.equal(put.status, 201);
      const created = JSON.parse(put.responseBody) as { properties: { provisioningState: string; instanceView: unknown } };
      assert.equal(created.properties.provisioningState, "Pending");
      assert.deepEqual(created.properties.instanceView, { events: [], state: "Pending" });

      const polls = log.filter((e) => e.method === "GET" && /\/locations\/[^/]+\/operations\//i.test(e.url));
      const statuses = polls.map((e) => (JSON.parse(e.responseBody) as { status: string }).status);
      assert.ok(statuses.length >= 2, `expected at least two polls, got ${JSON.stringify(statuses)}`);
      assert.equal(statuses[0], "Pending");
      assert.equal(statuses.at(-1), "Succeeded");
      const firstPoll = JSON.parse(polls[0]?.responseBody ?? "{}") as Record<string, unknown>;
      assert.equal(firstPoll.id, `/subscriptions/${info.subscriptionId}/resourceGroups/${info.resourceGroup}/providers/Microsoft.ContainerInstance/containerGroups/cg-create`);
      assert.equal(typeof firstPoll.startTime, "string");
      assert.deepEqual(firstPoll.properties, { events: [] });
      // After the operation succeeded core-lro GETs the PUT URL and returns that body.
      const last = log.at(-1);
      assert.equal(last?.method, "GET");
      assert.match(last.url, /containerGroups\/cg-create\?/);
    });

    it("create (raw): 201 with Azure-AsyncOperation at the location's operations URL, no Location, no Retry-After", async function () {
      const { info } = emulator();
      const res = await arm(info, "PUT", groupPath(info, "cg-raw"), { body: containerGroupWire(info) });
      assert.equal(res.status, 201);
      const operation = res.headers["azure-asyncoperation"];
      assert.equal(typeof operation, "string");
      assert.match(
        String(operation),
        new RegExp(
          `^${info.armUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}subscriptions/${info.subscriptionId}/providers/Microsoft\\.ContainerInstance/locations/${info.location}/operations/[0-9a-f-]{36}\\?api-version=2018-06-01$`,
        ),
      );
      assert.equal(res.headers.location, undefined);
      assert.equal(res.headers["retry-after"], undefined);
      const body = res.json as { id: string; type: string; location: string; properties: { provisioningState: string } };
      assert.equal(body.type, "Microsoft.ContainerInstance/containerGroups");
      assert.equal(body.location, info.location);
      assert.equal(body.properties.provisioningState, "Pending");
      // A second PUT of the same group is an update: 200.
      const again = await arm(info, "PUT", groupPath(info, "cg-raw"), { body: containerGroupWire(info) });
      assert.equal(again.status, 200);
    });

    it("GET shows the group's instanceView Running and the container's currentState", async function () {
      const { info } = emulator();
      await createGroup(info, "cg-running");
      const group = await getGroup(info, "cg-running");
      assert.equal(group.provisioningState, "Succeeded");
      assert.equal(group.instanceView?.state, "Running");
      const container = group.containers[0];
      assert.equal(container?.name, "main");
      const view = container.instanceView;
      assert.equal(view?.restartCount, 0);
      assert.equal(view.currentState?.state, "Running");
      assert.ok(view.currentState.startTime instanceof Date, "currentState.startTime should be a date");
      assert.ok(
        view.events?.some((e) => e.name === "Started"),
        `no Started event in ${JSON.stringify(view.events)}`,
      );
    });

    it("never returns secrets: secureValue, secret volumes and registry passwords stay out of GET, list and the PUT response", async function () {
      const { info } = emulator();
      const secureValue = `secure-${randomUUID()}`;
      const secureHash = createHash("sha256").update(secureValue).digest("hex");
      const volumeSecret = Buffer.from(`volume-${randomUUID()}`).toString("base64");
      const registryPassword = `registry-${randomUUID()}`;
      // Under the temporary folder: the runtime makes an absent mount point on this machine.
      const secretsPath = join(tmpdir(), `aci-contract-secrets-${randomUUID()}`);
      const group: ContainerGroup = {
        location: info.location,
        osType: "Linux",
        restartPolicy: "Never",
        imageRegistryCredentials: [{ server: "contoso.azurecr.io", username: "puller", password: registryPassword }],
        volumes: [{ name: "secrets", secret: { "token.txt": volumeSecret } }],
        containers: [
          {
            name: "main",
            image: "contoso.azurecr.io/agents/azp:1",
            // The container gets the secure value even though ARM never shows it.
            command: ["/bin/sh", "-c", `if [ "$(printf %s "$AZP_TOKEN" | sha256sum | cut -c1-64)" = "${secureHash}" ]; then echo secret-delivered; fi; sleep 600`],
            environmentVariables: [
              { name: "AZP_URL", value: "https://dev.azure.com/contoso" },
              { name: "AZP_TOKEN", secureValue },
            ],
            volumeMounts: [{ name: "secrets", mountPath: secretsPath }],
            resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
          },
        ],
      };
      const client = armClient(info);
      const created = await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-secrets", group, fastPolling);
      const fetched = await client.containerGroups.get(info.resourceGroup, "cg-secrets");
      const listed: ContainerGroup[] = [];
      for await (const item of client.containerGroups.listByResourceGroup(info.resourceGroup)) listed.push(item);
      for (const [what, view] of [["create result", created], ["GET", fetched], ["list", listed[0]]] as const) {
        assert.ok(view !== undefined, `${what}: missing`);
        const env = view.containers[0]?.environmentVariables ?? [];
        assert.deepEqual(env.map((v) => v.name), ["AZP_URL", "AZP_TOKEN"], `${what}: variables`);
        assert.equal(env[0]?.value, "https://dev.azure.com/contoso", `${what}: plain values are returned`);
        // Real ARM answers secureValue null or leaves it out.
        assert.equal(env[1]?.secureValue ?? undefined, undefined, `${what}: secureValue returned`);
        assert.deepEqual(view.volumes?.[0]?.secret, {}, `${what}: secret volume contents returned`);
        assert.equal(view.imageRegistryCredentials?.[0]?.password, undefined, `${what}: registry password returned`);
        assert.equal(view.imageRegistryCredentials?.[0]?.username, "puller", `${what}: registry user`);
      }

      const log = (await requestLog(info)).filter((e) => e.service === "arm");
      assert.ok(log.some((e) => e.method === "PUT" && e.requestBody.includes(secureValue)), "the PUT should have carried the secret");
      for (const entry of log) {
        for (const secret of [secureValue, volumeSecret, registryPassword]) {
          assert.ok(!entry.responseBody.includes(secret), `${entry.method} ${entry.url} answered with a secret`);
        }
      }
      const logs = await logOf(info, "cg-secrets", "main", /secret-delivered/);
      assert.ok(!logs.includes(secureValue));
      rmSync(secretsPath, { recursive: true, force: true });
    });

    it("a mounted secret volume: the container reads its files, while GET, list and every ARM answer leave its contents out", async function () {
      const { info } = emulator();
      const mountPath = join(tmpdir(), `aci-contract-identity-${randomUUID()}`);
      const plain = `credentials-${randomUUID()}`;
      const plainHash = createHash("sha256").update(plain).digest("hex");
      const encoded = Buffer.from(plain).toString("base64");
      try {
        const group: ContainerGroup = {
          location: info.location,
          osType: "Linux",
          restartPolicy: "Never",
          volumes: [{ name: "agent-identity", secret: { credentials: encoded } }],
          containers: [
            {
              name: "main",
              image: "contoso.azurecr.io/agents/azp:1",
              // Compares hashes, so that neither the command nor the log carries the secret.
              command: ["/bin/sh", "-c", `if [ "$(sha256sum < '${mountPath}/credentials' | cut -c1-64)" = "${plainHash}" ]; then echo volume-mounted; else echo volume-missing; fi; sleep 600`],
              volumeMounts: [{ name: "agent-identity", mountPath, readOnly: true }],
              resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
            },
          ],
        };
        const client = armClient(info);
        await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-secret-volume", group, fastPolling);
        const logs = await logOf(info, "cg-secret-volume", "main", /volume-(mounted|missing)/);
        assert.match(logs, /volume-mounted/, "the secret volume was not mounted in the container");
        const fetched = await client.containerGroups.get(info.resourceGroup, "cg-secret-volume");
        const listed: ContainerGroup[] = [];
        for await (const item of client.containerGroups.listByResourceGroup(info.resourceGroup)) listed.push(item);
        for await (const item of client.containerGroups.list()) listed.push(item);
        assert.equal(listed.length, 2);
        for (const [what, view] of [["GET", fetched], ["list", listed[0]], ["subscription list", listed[1]]] as const) {
          assert.deepEqual(view?.volumes, [{ name: "agent-identity", secret: {} }], `${what}: the secret volume's contents`);
          assert.deepEqual(view.containers[0]?.volumeMounts, [{ name: "agent-identity", mountPath, readOnly: true }], `${what}: the volume mount`);
        }
        for (const entry of (await requestLog(info)).filter((e) => e.service === "arm")) {
          for (const secret of [encoded, plain]) assert.ok(!entry.responseBody.includes(secret), `${entry.method} ${entry.url} answered with the secret`);
        }
      } finally {
        rmSync(mountPath, { recursive: true, force: true });
      }
    });

    it("logs: containers.listLogs returns the output, honours tail and prefixes timestamps", async function () {
      const { info } = emulator();
      const client = armClient(info);
      await createGroup(info, "cg-logs", containerGroup(info, { command: ["/bin/sh", "-c", "echo one; echo two; echo three; sleep 600"] }));
      const all = await logOf(info, "cg-logs", "main", /three/);
      assert.equal(all, "one\ntwo\nthree\n");
      const tail = await client.containers.listLogs(info.resourceGroup, "cg-logs", "main", { tail: 2 });
      assert.equal(tail.content, "two\nthree\n");
      const stamped = await client.containers.listLogs(info.resourceGroup, "cg-logs", "main", { tail: 1, timestamps: true });
      assert.match(stamped.content ?? "", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z three\n$/);
    });

    it("logs: stdout and stderr are each cut into lines of their own, so a part line on one never joins a line of the other", async function () {
      const { info } = emulator();
      const script = "printf 'out-begins '; sleep 0.3; echo err-line >&2; sleep 0.3; echo out-ends; sleep 600";
      await createGroup(info, "cg-log-streams", containerGroup(info, { command: ["/bin/sh", "-c", script] }));
      const content = await logOf(info, "cg-log-streams", "main", /out-ends/);
      assert.equal(content, "err-line\nout-begins out-ends\n");
    });

    it("a container and all it starts run ten nice levels below the emulator, with the pid its command was given, and its files are on the RAM file system", async function () {
      const { info } = emulator();
      const script = 'echo "main pid=$$ nice=$(nice)"; sh -c \'echo "child nice=$(nice)"\'; echo "home=$HOME"; exec sleep 600';
      await createGroup(info, "cg-nice", containerGroup(info, { command: ["/bin/sh", "-c", script] }));
      const content = await logOf(info, "cg-nice", "main", /home=/);
      const expected = Math.min(19, getPriority() + 10);
      assert.match(content, new RegExp(`^main pid=\\d+ nice=${expected}\\nchild nice=${expected}\\n`));
      const pid = Number(/pid=(\d+)/.exec(content)?.[1]);
      // The process the runtime started (detached: the leader of a process group of its own, which
      // it signals) is the command itself: nice replaced itself with it rather than forking it.
      const processGroup = Number(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[2]);
      assert.equal(processGroup, pid);
      // Where the kernel groups sessions for the scheduler, the container's session group is lowered too.
      if (existsSync("/proc/self/autogroup")) assert.match(readFileSync(`/proc/${pid}/autogroup`, "utf8"), /nice 10\s*$/);
      // Where /dev/shm may hold programs (Docker mounts its own noexec).
      const ram = readFileSync("/proc/mounts", "utf8").split("\n").map((line) => line.split(" ")).find((fields) => fields[1] === "/dev/shm");
      if (ram !== undefined && !(ram[3] ?? "").split(",").includes("noexec")) assert.match(content, /home=\/dev\/shm\//);
    });

    it("listByResourceGroup pages with an absolute nextLink and the SDK follows it to all groups", async function () {
      const { info } = emulator();
      await setBehaviour(info, { listPageSize: 2 });
      const names = ["cg-page-1", "cg-page-2", "cg-page-3", "cg-page-4", "cg-page-5"];
      for (const name of names) await createGroup(info, name);
      const client = armClient(info);
      const listed: ContainerGroup[] = [];
      for await (const group of client.containerGroups.listByResourceGroup(info.resourceGroup)) listed.push(group);
      assert.deepEqual(listed.map((g) => g.name).sort(), names);
      // List items carry no instanceView.
      assert.ok(listed.every((g) => g.instanceView === undefined), "list items should have no instanceView");

      const pages = (await requestLog(info)).filter(
        (e) => e.service === "arm" && e.method === "GET" && /\/containerGroups(\?|$)/.test(e.url),
      );
      assert.equal(pages.length, 3);
      const first = JSON.parse(pages[0]?.responseBody ?? "{}") as { value: unknown[]; nextLink?: string };
      assert.equal(first.value.length, 2);
      assert.ok(first.nextLink?.startsWith(info.armUrl), `nextLink should be absolute: ${String(first.nextLink)}`);
      const last = JSON.parse(pages[2]?.responseBody ?? "{}") as { value: unknown[]; nextLink?: string };
      assert.equal(last.value.length, 1);
      assert.equal(last.nextLink, undefined);
    });

    it("lists the subscription's groups across resource groups", async function () {
      const { info } = emulator();
      const other = await control(info, "POST", "/resourceGroups", { name: "other-rg", location: info.location });
      assert.equal(other.status, 201);
      const client = armClient(info);
      await createGroup(info, "cg-sub-a");
      await client.containerGroups.beginCreateOrUpdateAndWait("other-rg", "cg-sub-b", containerGroup(info), fastPolling);
      const listed: ContainerGroup[] = [];
      for await (const group of client.containerGroups.list()) listed.push(group);
      assert.deepEqual(listed.map((g) => g.name).sort(), ["cg-sub-a", "cg-sub-b"]);
      const b = listed.find((g) => g.name === "cg-sub-b");
      assert.match(b?.id ?? "", /\/resourceGroups\/other-rg\/providers\/Microsoft\.ContainerInstance\/containerGroups\/cg-sub-b$/);
    });

    it("stop makes the group Stopped; beginStart runs it again; restart restarts the container", async function () {
      const { info } = emulator();
      const client = armClient(info);
      await createGroup(info, "cg-lifecycle");
      await client.containerGroups.stop(info.resourceGroup, "cg-lifecycle");
      const stopped = await getGroup(info, "cg-lifecycle");
      assert.equal(stopped.instanceView?.state, "Stopped");

      await client.containerGroups.beginStartAndWait(info.resourceGroup, "cg-lifecycle", fastPolling);
      const started = await getGroup(info, "cg-lifecycle");
      assert.equal(started.instanceView?.state, "Running");
      assert.equal(started.containers[0]?.instanceView?.currentState?.state, "Running");
      const startedAt = started.containers[0].instanceView.currentState.startTime?.getTime();
      assert.ok(startedAt !== undefined);

      await client.containerGroups.beginRestartAndWait(info.resourceGroup, "cg-lifecycle", fastPolling);
      const restarted = await eventually("the restarted container", async () => {
        const group = await getGroup(info, "cg-lifecycle");
        const current = group.containers[0]?.instanceView?.currentState;
        return group.instanceView?.state === "Running" && current?.state === "Running" && current.startTime !== undefined && current.startTime.getTime() !== startedAt
          ? group
          : undefined;
      });
      assert.equal(restarted.containers[0]?.instanceView?.previousState?.state, "Terminated");

      const log = (await requestLog(info)).filter((e) => e.service === "arm" && e.method === "POST");
      assert.deepEqual(
        log.map((e) => [new URL(e.url, info.armUrl).pathname.split("/").at(-1), e.status]),
        [["stop", 204], ["start", 202], ["restart", 204]],
      );
    });

    it("delete is slow by default: 202 + Azure-AsyncOperation, Deleting for a while, a second DELETE joins it, then 204 once gone", async function () {
      const { info } = emulator();
      const client = armClient(info);
      await createGroup(info, "cg-delete");
      const started = Date.now();
      const first = await arm(info, "DELETE", groupPath(info, "cg-delete"));
      const second = await arm(info, "DELETE", groupPath(info, "cg-delete"));
      assert.equal(first.status, 202);
      assert.equal(first.text, "");
      assert.equal(first.headers.location, undefined);
      assert.equal(second.status, 202);
      assert.equal(second.headers["azure-asyncoperation"], first.headers["azure-asyncoperation"], "the second DELETE started a delete of its own");
      assert.equal((await client.containerGroups.get(info.resourceGroup, "cg-delete")).provisioningState, "Deleting");
      await client.containerGroups.beginDeleteAndWait(info.resourceGroup, "cg-delete", fastPolling);
      assert.ok(Date.now() - started >= 600, `the delete ended after ${Date.now() - started} ms, sooner than the default 600 ms`);
      assert.equal((await rejectionOf(client.containerGroups.get(info.resourceGroup, "cg-delete"))).statusCode, 404);
      await client.containerGroups.beginDeleteAndWait(info.resourceGroup, "cg-delete", fastPolling);
      const deletes = (await requestLog(info)).filter((e) => e.service === "arm" && e.method === "DELETE");
      assert.deepEqual(deletes.map((e) => e.status), [202, 202, 202, 204]);
      assert.equal(deletes[3]?.responseBody, "");
    });

    it("throttles as ARM does: a bucket per subscription, principal and kind of request; 429 SubscriptionRequestsThrottled with Retry-After when empty", async function () {
      const { info } = emulator();
      await setBehaviour(info, { armRequestLimits: { reads: { size: 3, refillPerSecond: 2 } } });
      const read = () => arm(info, "GET", `/subscriptions/${info.subscriptionId}/resourcegroups/${info.resourceGroup}?api-version=2021-04-01`);
      const answered = [await read(), await read(), await read()];
      assert.deepEqual(answered.map((r) => r.status), [200, 200, 200]);
      assert.deepEqual(answered.map((r) => r.headers["x-ms-ratelimit-remaining-subscription-reads"]), ["2", "1", "0"]);
      const throttled = await read();
      assert.equal(throttled.status, 429);
      assert.equal(throttled.headers["retry-after"], "1");
      const error = (throttled.json as { error: { code: string; message: string } }).error;
      assert.equal(error.code, "SubscriptionRequestsThrottled");
      assert.match(error.message, /^Number of 'read' requests for subscription '[^']+' actor '[^']+' exceeded\. Please try again after '1' seconds/);
      // Writes have a bucket of their own.
      assert.equal((await arm(info, "PUT", groupPath(info, "cg-throttled"), { body: containerGroupWire(info) })).status, 201);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal((await read()).status, 200, "the bucket got no token back after its refill time");
    });

    it("a PUT while the group is being deleted answers 409 ContainerGroupTransitioning; once it is gone the PUT creates it", async function () {
      const { info } = emulator();
      const client = armClient(info);
      await createGroup(info, "cg-put-deleting");
      await setDelays(info, { deleteMs: 1500 });
      assert.equal((await arm(info, "DELETE", groupPath(info, "cg-put-deleting"))).status, 202);
      const refused = await arm(info, "PUT", groupPath(info, "cg-put-deleting"), { body: containerGroupWire(info) });
      assert.equal(refused.status, 409);
      assert.equal((refused.json as { error: { code: string } }).error.code, "ContainerGroupTransitioning");
      assert.equal((await client.containerGroups.get(info.resourceGroup, "cg-put-deleting")).provisioningState, "Deleting", "the refused PUT changed the group");
      await client.containerGroups.beginDeleteAndWait(info.resourceGroup, "cg-put-deleting", fastPolling);
      assert.equal((await arm(info, "PUT", groupPath(info, "cg-put-deleting"), { body: containerGroupWire(info) })).status, 201);
    });

    it("a delete while the group provisions: it stays Deleting, the create's operation fails and no container starts", async function () {
      const { info, state } = emulator();
      const client = armClient(info);
      await setDelays(info, { provisionMs: 300, deleteMs: 1500 });
      const creating = await client.containerGroups.beginCreateOrUpdate(info.resourceGroup, "cg-delete-early", containerGroup(info), fastPolling);
      assert.equal((await arm(info, "DELETE", groupPath(info, "cg-delete-early"))).status, 202);
      const failed = await rejectionOf(creating.pollUntilDone());
      assert.match(failed.message, /OperationCanceled/);
      const group = await client.containerGroups.get(info.resourceGroup, "cg-delete-early");
      assert.equal(group.provisioningState, "Deleting");
      assert.equal(state.containerGroups.get(`${info.resourceGroup}/cg-delete-early`)?.containers.size, 0);
    });

    it("with deleteMs 0 a delete answers 200 with the group at once", async function () {
      const { info } = emulator();
      const client = armClient(info);
      await createGroup(info, "cg-delete-now");
      await setDelays(info, { deleteMs: 0 });
      const deleted = await client.containerGroups.beginDeleteAndWait(info.resourceGroup, "cg-delete-now", fastPolling);
      assert.equal(deleted.name, "cg-delete-now");
      const deletes = (await requestLog(info)).filter((e) => e.service === "arm" && e.method === "DELETE");
      assert.deepEqual(deletes.map((e) => e.status), [200]);
      assert.equal((await rejectionOf(client.containerGroups.get(info.resourceGroup, "cg-delete-now"))).statusCode, 404);
    });

    it("GET of an absent group is a RestError 404 ResourceNotFound; an absent resource group is 404 ResourceGroupNotFound", async function () {
      const { info } = emulator();
      const client = armClient(info);
      const missing = await rejectionOf(client.containerGroups.get(info.resourceGroup, "cg-absent"));
      assert.equal(missing.name, "RestError");
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.code, "ResourceNotFound");
      assert.match(missing.message, /Microsoft\.ContainerInstance\/containerGroups\/cg-absent/);

      const noGroup = await rejectionOf(client.containerGroups.get("no-such-rg", "cg-absent"));
      assert.equal(noGroup.statusCode, 404);
      assert.equal(noGroup.code, "ResourceGroupNotFound");
      assert.equal(noGroup.message, "Resource group 'no-such-rg' could not be found.");

      const create = await rejectionOf(client.containerGroups.beginCreateOrUpdateAndWait("no-such-rg", "cg-x", containerGroup(info), fastPolling));
      assert.equal(create.statusCode, 404);
      assert.equal(create.code, "ResourceGroupNotFound");
    });

    it("usages count the location's container groups", async function () {
      const { info } = emulator();
      const client = armClient(info);
      await createGroup(info, "cg-usage-1");
      await createGroup(info, "cg-usage-2");
      const usages = [];
      for await (const usage of client.location.listUsage(info.location)) usages.push(usage);
      const groups = usages.find((u) => u.name?.value === "ContainerGroups");
      assert.ok(groups !== undefined, `no ContainerGroups usage in ${JSON.stringify(usages)}`);
      assert.equal(groups.unit, "Count");
      assert.equal(groups.currentValue, 2);
      assert.equal(typeof groups.limit, "number");
    });

    it("a command that exits 0 with restartPolicy Never: container Terminated with exitCode 0, group Succeeded", async function () {
      const { info } = emulator();
      await createGroup(info, "cg-exit0", containerGroup(info, { command: ["/bin/sh", "-c", "exit 0"], restartPolicy: "Never" }));
      const group = await eventually("the container to terminate", async () => {
        const g = await getGroup(info, "cg-exit0");
        return g.containers[0]?.instanceView?.currentState?.state === "Terminated" ? g : undefined;
      });
      const current = group.containers[0]?.instanceView?.currentState;
      assert.equal(current?.exitCode, 0);
      assert.ok(current.finishTime instanceof Date);
      assert.equal(group.instanceView?.state, "Succeeded");
      assert.equal(group.provisioningState, "Succeeded");
      assert.equal(group.containers[0]?.instanceView?.restartCount, 0);
    });

    it("a command that exits 3 with restartPolicy Never: exitCode 3, group Failed", async function () {
      const { info } = emulator();
      await createGroup(info, "cg-exit3", containerGroup(info, { command: ["/bin/sh", "-c", "exit 3"], restartPolicy: "Never" }));
      const group = await eventually("the group to fail", async () => {
        const g = await getGroup(info, "cg-exit3");
        return g.instanceView?.state === "Failed" ? g : undefined;
      });
      const current = group.containers[0]?.instanceView?.currentState;
      assert.equal(current?.state, "Terminated");
      assert.equal(current.exitCode, 3);
    });

    it("restartPolicy OnFailure restarts a failing container", async function () {
      const { info } = emulator();
      await createGroup(info, "cg-onfailure", containerGroup(info, { command: ["/bin/sh", "-c", "exit 3"], restartPolicy: "OnFailure" }));
      const group = await eventually("a restart", async () => {
        const g = await getGroup(info, "cg-onfailure");
        return (g.containers[0]?.instanceView?.restartCount ?? 0) >= 1 ? g : undefined;
      });
      assert.ok((group.containers[0]?.instanceView?.restartCount ?? 0) >= 1);
      assert.notEqual(group.instanceView?.state, "Failed");
    });
  });

  describe("container isolation", function () {
    it("groups with the same name in two resource groups are separate: deleting one leaves the other running", async function () {
      const { info } = emulator();
      assert.equal((await control(info, "POST", "/resourceGroups", { name: "other-rg", location: info.location })).status, 201);
      const client = armClient(info);
      // Short-lived commands, so that a process the emulator loses track of cannot outlive the run for long.
      const group = containerGroup(info, { command: ["/bin/sh", "-c", "echo twin-started; sleep 20"] });
      await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-twin", group, fastPolling);
      await client.containerGroups.beginCreateOrUpdateAndWait("other-rg", "cg-twin", group, fastPolling);
      await client.containerGroups.beginDeleteAndWait(info.resourceGroup, "cg-twin", fastPolling);
      // Give a wrongly killed process time to be reported as exited.
      await sleep(500);
      const other = await client.containerGroups.get("other-rg", "cg-twin");
      assert.equal(other.containers[0]?.instanceView?.currentState?.state, "Running", "the twin in other-rg was stopped by deleting the one in ci-agents");
      assert.equal(other.instanceView?.state, "Running");
    });

    it("updating a group (a second PUT) gives the new container a working file system", async function () {
      const { info } = emulator();
      // The first container takes a moment to stop, as real processes do after SIGTERM.
      await createGroup(info, "cg-update", containerGroup(info, { command: ["/bin/sh", "-c", "trap 'sleep 1; exit 0' TERM; sleep 20 & wait"] }));
      await createGroup(
        info,
        "cg-update",
        containerGroup(info, { command: ["/bin/sh", "-c", 'sleep 2; if echo data > "$HOME/file"; then echo write-ok; else echo write-failed; fi; sleep 20'] }),
      );
      const logs = await logOf(info, "cg-update", "main", /write-(ok|failed)/);
      assert.match(logs, /write-ok/, "the new container's folder was removed by the cleanup of the replaced one");
    });
  });

  describe("lifecycle races", function () {
    it("a group deleted while it restarts does not start again", async function () {
      const { info } = emulator();
      const marker = join(tmpdir(), `aci-emulator-restart-${randomUUID()}`);
      try {
        const client = armClient(info);
        // Appends a line each time the container starts; takes a second to stop after SIGTERM.
        const command = ["/bin/sh", "-c", `echo started >> '${marker}'; trap 'sleep 1; exit 0' TERM; sleep 20 & wait`];
        await createGroup(info, "cg-restart-delete", containerGroup(info, { command }));
        await eventually("the first start", () => Promise.resolve(existsSync(marker) ? true : undefined));
        await client.containerGroups.beginRestartAndWait(info.resourceGroup, "cg-restart-delete", fastPolling);
        await client.containerGroups.beginDeleteAndWait(info.resourceGroup, "cg-restart-delete", fastPolling);
        assert.equal((await rejectionOf(client.containerGroups.get(info.resourceGroup, "cg-restart-delete"))).statusCode, 404);
        // Past the container's stop grace, when the interrupted restart would start it again.
        await sleep(2500);
        const starts = readFileSync(marker, "utf8").trim().split("\n");
        assert.deepEqual(starts, ["started"], "the deleted group's container was started again (an orphaned process)");
      } finally {
        rmSync(marker, { force: true });
      }
    });
  });

  describe("container processes", function () {
    it("when the main process exits, the container is Terminated and the processes it left in the background end", async function () {
      const { info } = emulator();
      const marker = join(tmpdir(), `aci-emulator-background-${randomUUID()}`);
      let pid: number | undefined;
      try {
        // As in Docker and ACI, the container ends with its main process, whatever it started.
        const command = ["/bin/sh", "-c", `sleep 30 & echo $! > '${marker}'; exit 0`];
        await createGroup(info, "cg-background", containerGroup(info, { command, restartPolicy: "Never" }));
        pid = Number(await eventually("the background pid", () => Promise.resolve(existsSync(marker) ? readFileSync(marker, "utf8").trim() || undefined : undefined)));
        const group = await eventually(
          "the container to terminate",
          async () => {
            const g = await getGroup(info, "cg-background");
            return g.containers[0]?.instanceView?.currentState?.state === "Terminated" ? g : undefined;
          },
          10_000,
        );
        assert.equal(group.containers[0]?.instanceView?.currentState?.exitCode, 0);
        const background = pid;
        await eventually("the background process to end", () => Promise.resolve(isAlive(background) ? undefined : true), 5_000);
      } finally {
        if (pid !== undefined && isAlive(pid)) process.kill(pid, "SIGKILL");
        rmSync(marker, { force: true });
      }
    });

    it("when the main process exits, a background process with redirected output ends too", async function () {
      const { info } = emulator();
      const marker = join(tmpdir(), `aci-emulator-redirected-${randomUUID()}`);
      let pid: number | undefined;
      try {
        const command = ["/bin/sh", "-c", `sleep 30 >/dev/null 2>&1 & echo $! > '${marker}'; exit 0`];
        await createGroup(info, "cg-redirected", containerGroup(info, { command, restartPolicy: "Never" }));
        pid = Number(await eventually("the background pid", () => Promise.resolve(existsSync(marker) ? readFileSync(marker, "utf8").trim() || undefined : undefined)));
        await eventually("the container to terminate", async () => {
          const g = await getGroup(info, "cg-redirected");
          return g.containers[0]?.instanceView?.currentState?.state === "Terminated" ? g : undefined;
        });
        const background = pid;
        await eventually("the background process to end", () => Promise.resolve(isAlive(background) ? undefined : true), 5_000);
      } finally {
        if (pid !== undefined && isAlive(pid)) process.kill(pid, "SIGKILL");
        rmSync(marker, { force: true });
      }
    });

    it("deleting a group ends every process of its containers, background ones included", async function () {
      const { info } = emulator();
      const marker = join(tmpdir(), `aci-emulator-delete-background-${randomUUID()}`);
      let pid: number | undefined;
      try {
        const command = ["/bin/sh", "-c", `sleep 30 >/dev/null 2>&1 & echo $! > '${marker}'; sleep 30`];
        await createGroup(info, "cg-delete-background", containerGroup(info, { command }));
        pid = Number(await eventually("the background pid", () => Promise.resolve(existsSync(marker) ? readFileSync(marker, "utf8").trim() || undefined : undefined)));
        await armClient(info).containerGroups.beginDeleteAndWait(info.resourceGroup, "cg-delete-background", fastPolling);
        const background = pid;
        await eventually("the background process to end", () => Promise.resolve(isAlive(background) ? undefined : true), 5_000);
      } finally {
        if (pid !== undefined && isAlive(pid)) process.kill(pid, "SIGKILL");
        rmSync(marker, { force: true });
      }
    });
  });

  describe("authentication", function () {
    it("ClientCertificateCredential with a registered certificate obtains an ARM token that works", async function () {
      const { info } = emulator();
      const { certificatePem, bundlePem } = selfSignedCertificate();
      const registered = await control(info, "POST", `/clients/${info.clientId}/certificates`, { certificatePem });
      assert.equal(registered.status, 204);
      const credential = new ClientCertificateCredential(info.tenantId, info.clientId, { certificate: bundlePem }, credentialOptions(info));
      // MSAL stamps nbf with Math.round(now / 1000): in the second half of a second that is up to
      // 0.5 s ahead of the clock. Entra tolerates clock skew; an emulator that does not fails here.
      await secondHalfOfASecond();
      const token = await credential.getToken(`${info.armUrl}.default`);
      assert.equal((jwt.decode(token.token, { json: true }) ?? {}).aud, info.armUrl);
      const client = armClient(info, { credential });
      await client.containerGroups.beginCreateOrUpdateAndWait(info.resourceGroup, "cg-cert", containerGroup(info), fastPolling);
      assert.equal((await client.containerGroups.get(info.resourceGroup, "cg-cert")).provisioningState, "Succeeded");
    });

    it("a certificate client assertion (x5t#S256, PS256) is exchanged for a token ARM accepts", async function () {
      const { info } = emulator();
      const { certificatePem, privateKeyPem } = selfSignedCertificate();
      assert.equal((await control(info, "POST", `/clients/${info.clientId}/certificates`, { certificatePem })).status, 204);
      const tokenEndpoint = `${info.authorityHost}/${info.tenantId}/oauth2/v2.0/token`;
      const res = await tokenRequest(info, certificateAssertion(certificatePem, privateKeyPem, info.clientId, tokenEndpoint, -10));
      assert.equal(res.status, 200, res.text);
      const body = res.json as { token_type: string; expires_in: number; ext_expires_in: number; access_token: string };
      assert.equal(body.token_type, "Bearer");
      assert.equal(body.expires_in, 86399);
      assert.equal(body.ext_expires_in, 86399);
      const group = await arm(info, "GET", `subscriptions/${info.subscriptionId}/resourcegroups/${info.resourceGroup}?api-version=2021-04-01`, {
        token: body.access_token,
      });
      assert.equal(group.status, 200, group.text);
    });

    it("a certificate client assertion whose nbf is a second ahead (clock skew) is accepted, as Entra allows skew", async function () {
      const { info } = emulator();
      const { certificatePem, privateKeyPem } = selfSignedCertificate();
      assert.equal((await control(info, "POST", `/clients/${info.clientId}/certificates`, { certificatePem })).status, 204);
      const tokenEndpoint = `${info.authorityHost}/${info.tenantId}/oauth2/v2.0/token`;
      const res = await tokenRequest(info, certificateAssertion(certificatePem, privateKeyPem, info.clientId, tokenEndpoint, 2));
      assert.equal(res.status, 200, res.text);
    });

    it("ClientCertificateCredential with an unregistered certificate is refused (AADSTS700027)", async function () {
      const { info } = emulator();
      const { bundlePem } = selfSignedCertificate();
      const credential = new ClientCertificateCredential(info.tenantId, info.clientId, { certificate: bundlePem }, credentialOptions(info));
      const error = await rejectionOf(credential.getToken(`${info.armUrl}.default`));
      assert.match(error.message, /AADSTS700027/);
    });

    it("ClientAssertionCredential with the pipeline's OIDC token (workload identity federation) works", async function () {
      const { info } = emulator();
      let fetched = 0;
      const credential = new ClientAssertionCredential(
        info.tenantId,
        info.clientId,
        async () => {
          fetched++;
          const res = await devops(info, "POST", `${oidcRequestUri(info)}?serviceConnectionId=${randomUUID()}&api-version=7.1-preview.1`, {
            auth: "bearer",
            body: {},
          });
          const oidcToken = (res.json as { oidcToken?: string } | undefined)?.oidcToken;
          if (res.status !== 200 || oidcToken === undefined) throw new Error(`oidctoken answered ${res.status}: ${res.text}`);
          return oidcToken;
        },
        credentialOptions(info),
      );
      const client = armClient(info, { credential });
      const listed: ContainerGroup[] = [];
      for await (const group of client.containerGroups.listByResourceGroup(info.resourceGroup)) listed.push(group);
      assert.deepEqual(listed, []);
      assert.ok(fetched >= 1, "the assertion callback was never called");
    });

    it("the OIDC token route wants the job's access token and answers a JWT for api://AzureADTokenExchange", async function () {
      const { info } = emulator();
      const url = `${oidcRequestUri(info)}?serviceConnectionId=${randomUUID()}&api-version=7.1-preview.1`;
      const ok = await devops(info, "POST", url, { auth: "bearer", body: {} });
      assert.equal(ok.status, 200);
      const claims = jwt.decode((ok.json as { oidcToken: string }).oidcToken, { json: true });
      assert.equal(claims?.aud, "api://AzureADTokenExchange");
      assert.match(String(claims.sub), /^sc:\/\//);
      const withPat = await devops(info, "POST", url, { auth: "pat", body: {} });
      assert.equal(withPat.status, 403);
    });

    it("AzurePipelinesCredential (SYSTEM_OIDCREQUESTURI) works", async function () {
      const { info } = emulator();
      const saved = process.env.SYSTEM_OIDCREQUESTURI;
      process.env.SYSTEM_OIDCREQUESTURI = oidcRequestUri(info);
      try {
        const credential = new AzurePipelinesCredential(info.tenantId, info.clientId, randomUUID(), info.systemAccessToken, credentialOptions(info));
        const token = await credential.getToken(`${info.armUrl}.default`);
        assert.equal((jwt.decode(token.token, { json: true }) ?? {}).aud, info.armUrl);
        const client = armClient(info, { credential });
        const usages = [];
        for await (const usage of client.location.listUsage(info.location)) usages.push(usage);
        assert.ok(usages.length > 0);
      } finally {
        if (saved === undefined) delete process.env.SYSTEM_OIDCREQUESTURI;
        else process.env.SYSTEM_OIDCREQUESTURI = saved;
      }
      const oidcCalls = (await requestLog(info)).filter((e) => e.service === "devops" && e.url.includes("/oidctoken"));
      assert.ok(oidcCalls.length >= 1, "no OIDC token request");
      assert.ok(oidcCalls.every((e) => e.status === 200));
      assert.match(oidcCalls[0]?.url ?? "", /\?api-version=7\.1&serviceConnectionId=[0-9a-f-]{36}$/);
    });

    it("a wrong client secret fails with AADSTS7000215", async function () {
      const { info } = emulator();
      const error = await rejectionOf(secretCredential(info, "not-the-secret").getToken(`${info.armUrl}.default`));
      assert.match(error.message, /AADSTS7000215/);
      const entra = (await requestLog(info)).filter((e) => e.service === "entra" && e.method === "POST");
      assert.ok(entra.length > 0);
      assert.equal(entra.at(-1)?.status, 401);
      assert.equal((JSON.parse(entra.at(-1)?.responseBody ?? "{}") as { error?: string }).error, "invalid_client");
    });

    it("ARM refuses a token for another audience (401 InvalidAuthenticationTokenAudience)", async function () {
      const { info } = emulator();
      const devopsToken = await secretCredential(info).getToken(`${azureDevOpsResource}/.default`);
      const res = await arm(info, "GET", groupPath(info, "cg-any"), { token: devopsToken.token });
      assert.equal(res.status, 401);
      assert.equal(armError(res.json).code, "InvalidAuthenticationTokenAudience");
    });

    it("ARM without Authorization answers 401 AuthenticationFailed with a WWW-Authenticate challenge", async function () {
      const { info } = emulator();
      const res = await arm(info, "GET", groupPath(info, "cg-any"), { token: null });
      assert.equal(res.status, 401);
      assert.equal(armError(res.json).code, "AuthenticationFailed");
      assert.match(String(res.headers["www-authenticate"]), /^Bearer authorization_uri=/);
    });

    it("ARM without api-version answers 400 MissingApiVersionParameter", async function () {
      const { info } = emulator();
      const path = groupPath(info, "cg-any").replace(/\?api-version=.*$/, "");
      const res = await arm(info, "GET", path);
      assert.equal(res.status, 400);
      assert.equal(armError(res.json).code, "MissingApiVersionParameter");
    });
  });
});
