// Starts the emulated services: Entra, ARM, Azure DevOps and the control API, each on its own
// HTTPS port of the loopback interface, sharing one state store.
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import express from "express";
import { armAuthentication } from "./arm/auth";
import { armThrottling } from "./arm/throttling";
import { compileSchemas } from "./arm/validation";
import { containerGroupRoutes } from "./arm/containerGroups";
import { containerGroupProfileRoutes } from "./arm/containerGroupProfiles";
import { standbyPoolRoutes } from "./arm/standbyPools";
import { operationRoutes } from "./arm/operations";
import { providerRoutes } from "./arm/providers";
import { resourceGroupRoutes } from "./arm/resourceGroups";
import type { EmulatorContext, EmulatorUrls } from "./context";
import { controlRoutes } from "./control/routes";
import { AgentPackage } from "./devops/agentPackage";
import { devopsRoutes } from "./devops/routes";
import { entraRoutes } from "./entra/routes";
import { imdsRoutes } from "./imds/routes";
import { serviceApp } from "./http";
import { ContainerRuntime } from "./runtime/containerRuntime";
import { Reaper } from "./runtime/reaper";
import { EmulatorState, wellKnown, type WellKnownIdentity } from "./state";
import { loadOrCreateTls } from "./tls";
import { TokenService } from "./tokens";

export interface EmulatorOptions {
  /** Where the test CA and the agent package are kept (default: .emulator/ in the repository). */
  stateDir?: string;
  /** Fixed ports (default: any free port) for arm, entra, devops and control. */
  ports?: Partial<Record<"arm" | "entra" | "devops" | "control" | "imds", number>>;
}

/** What `npm run emulator` prints: where the services are and the well-known test identity. */
export type EmulatorInfo = {
  armUrl: string;
  authorityHost: string;
  organizationUrl: string;
  caFile: string;
  controlUrl: string;
  /** The agent machine's instance metadata service (plain HTTP, as IMDS is), for managed identities. */
  imdsUrl: string;
} & WellKnownIdentity;

export interface RunningEmulator {
  info: EmulatorInfo;
  state: EmulatorState;
  context: EmulatorContext;
  stop(): Promise<void>;
}

const repositoryRoot = resolve(__dirname, "..");

/**
 * Where the containers' files go: Linux's RAM file system when there is one that may hold
 * programs (the containers run the agent's and their image's from there; Docker mounts its
 * /dev/shm noexec). Containers create files in bursts (twenty claimed containers' config maps land
 * within a few milliseconds), and on a VM's ext4 each file creation can hold the emulator's one
 * thread for half a millisecond, which ACI's own services would not spend on the agents' cores.
 */
function scratchRoot(): string {
  const ram = "/dev/shm";
  try {
    const mount = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((line) => line.split(" "))
      .find((fields) => fields[1] === ram);
    if (mount === undefined || (mount[3] ?? "").split(",").includes("noexec")) return tmpdir();
    accessSync(ram, constants.W_OK);
    return ram;
  } catch {
    return tmpdir();
  }
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  compileSchemas();
  const stateDir = options.stateDir ?? join(repositoryRoot, ".emulator");
  const tls = loadOrCreateTls(stateDir);
  const state = new EmulatorState();
  const workRoot = mkdtempSync(join(scratchRoot(), "aci-emulator-"));
  const agentPackage = new AgentPackage(join(__dirname, "agent-package"), workRoot);
  const reaper = new Reaper(workRoot);
  const runtime = new ContainerRuntime(state, join(workRoot, "containers"), tls.caFile, agentPackage, reaper);

  const servers: (Server | ReturnType<typeof createHttpServer>)[] = [];
  const listen = async (port: number | undefined): Promise<{ server: Server; origin: string }> => {
    const server = createServer({ cert: tls.certPem, key: tls.keyPem });
    servers.push(server);
    await new Promise<void>((done, fail) => {
      server.once("error", fail);
      server.listen(port ?? 0, "127.0.0.1", () => { done(); });
    });
    return { server, origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
  };
  const arm = await listen(options.ports?.arm);
  const entra = await listen(options.ports?.entra);
  const devops = await listen(options.ports?.devops);
  const control = await listen(options.ports?.control);
  // IMDS is plain HTTP on a link-local address; the emulator's stands on the loopback interface.
  const imdsServer = createHttpServer();
  servers.push(imdsServer);
  await new Promise<void>((done, fail) => {
    imdsServer.once("error", fail);
    imdsServer.listen(options.ports?.imds ?? 0, "127.0.0.1", () => { done(); });
  });
  const imdsUrl = `http://127.0.0.1:${(imdsServer.address() as AddressInfo).port}`;

  const urls: EmulatorUrls = {
    arm: `${arm.origin}/`,
    authority: entra.origin,
    devopsHost: `${devops.origin}/`,
    organization: `${devops.origin}/${wellKnown.organization}/`,
    control: `${control.origin}/_emulator`,
  };
  const context: EmulatorContext = { state, tokens: new TokenService(), urls, tls, runtime, agentPackage };

  const armApp = serviceApp("arm", state);
  armApp.use(armAuthentication(context), armThrottling(context), resourceGroupRoutes(context), providerRoutes(), containerGroupRoutes(context), containerGroupProfileRoutes(context), standbyPoolRoutes(context), operationRoutes(context));
  armApp.use(notFound("arm"));
  arm.server.on("request", armApp);

  const entraApp = serviceApp("entra", state);
  entraApp.use(entraRoutes(context));
  entraApp.use(notFound("entra"));
  entra.server.on("request", entraApp);

  const devopsApp = serviceApp("devops", state);
  devopsApp.use(devopsRoutes(context));
  devopsApp.use(notFound("devops"));
  devops.server.on("request", devopsApp);

  const imdsApp = serviceApp("imds", state);
  imdsApp.use(imdsRoutes(context));
  imdsApp.use(notFound("imds"));
  imdsServer.on("request", imdsApp);

  const controlApp = express();
  controlApp.use(express.raw({ type: () => true, limit: "4mb" }));
  controlApp.use("/_emulator", controlRoutes(context));
  control.server.on("request", controlApp);

  const info: EmulatorInfo = {
    armUrl: urls.arm,
    authorityHost: urls.authority,
    organizationUrl: urls.organization,
    caFile: tls.caFile,
    controlUrl: urls.control,
    imdsUrl,
    ...wellKnown,
  };

  return {
    info,
    state,
    context,
    async stop() {
      // A container waiting out its restart backoff must not start again in a folder about to go.
      for (const group of [...state.containerGroups.values(), ...state.standbyInstances]) group.generation++;
      await runtime.close();
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((done) => {
              server.close(() => { done(); });
              server.closeAllConnections();
            }),
        ),
      );
      rmSync(workRoot, { recursive: true, force: true });
      reaper.close();
    },
  };
}

function notFound(service: string) {
  return (req: express.Request, res: express.Response): void => {
    if (service === "arm") {
      res.status(404).json({ error: { code: "InvalidResourceType", message: `The emulator does not serve ${req.method} ${req.path}.` } });
    } else {
      res.status(404).json({ message: `The emulator does not serve ${req.method} ${req.path}.` });
    }
  };
}
