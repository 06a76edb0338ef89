// Runs a container group's containers as local processes. There is no image and no isolation:
// the container's command runs on this machine with the container's environment (secure values
// included), in a fresh folder that stands for its file system, with $AZP_HOME and $HOME inside it.
// A container with volume mounts runs in a mount namespace of its own, where its secret and
// emptyDir volumes are bind-mounted at their mount paths (see mountedCommand).
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { inaccessibleImage } from "../arm/errors";
import type { AgentPackage } from "../devops/agentPackage";
import type { ArmEvent, ContainerGroupRecord, ContainerRuntimeState, EmulatorState } from "../state";
import type { Reaper } from "./reaper";

/** How long a stopped container may take to exit after SIGTERM before SIGKILL (Docker's default). */
const stopGraceMs = 10_000;
/** Pause before a container with restart policy Always/OnFailure is started again. */
const restartBackoffMs = 1_000;
/** ACI keeps about this much of a container's output; older lines are dropped. */
const maxLogBytes = 4 * 1024 * 1024;

export interface StartFailure {
  code: string;
  message: string;
}

interface RunningContainer {
  process: ChildProcess;
  exited: Promise<void>;
  stopping: boolean;
}

interface VolumeMountSpec {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  environmentVariables?: { name: string; value?: string; secureValue?: string }[];
  volumeMounts?: VolumeMountSpec[];
  configMap?: { keyValuePairs?: Record<string, string> };
}

/** Where ACI mounts a Linux container's config map (Learn, "Config maps": /mnt/configmap/<containername>/<key>). */
export function configMapPath(containerName: string): string {
  return `/mnt/configmap/${containerName}`;
}

interface VolumeSpec {
  name: string;
  secret?: Record<string, string>;
  emptyDir?: unknown;
  azureFile?: unknown;
  gitRepo?: unknown;
}

/** A bind mount of a folder of this machine at a path of the container. */
interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

export class ContainerRuntime {
  private readonly running = new Map<string, RunningContainer>();
  /** Containers (by keyOf) whose process runs with their config map folder mounted. */
  private readonly mountedConfigMaps = new Set<string>();
  /** Each stored group (each PUT makes a new record) gets a folder of its own. */
  private readonly folders = new WeakMap<ContainerGroupRecord, string>();
  private nextFolder = 1;
  private closed = false;

  constructor(
    private readonly state: EmulatorState,
    private readonly workRoot: string,
    private readonly caFile: string,
    private readonly agentPackage: AgentPackage,
    private readonly reaper: Reaper,
  ) {}

  /**
   * Pulls the images and starts every container of the group. Resolves once all run, or with
   * the failure ACI would report (an image that cannot be pulled).
   */
  async start(group: ContainerGroupRecord): Promise<StartFailure | undefined> {
    const generation = group.generation;
    // A group started again (start or restart) gets new containers from its images and new
    // volumes: its containers' file systems and emptyDir volumes do not survive (README).
    rmSync(this.folderOf(group), { recursive: true, force: true });
    for (const spec of containerSpecs(group)) {
      const container = containerState(group, spec.name);
      addEvent(container.events, "Pulling", `pulling image "${spec.image}"`, "Normal");
    }
    await sleep(this.state.delays.pullMs, undefined, { ref: false });
    if (this.closed || group.generation !== generation || !this.state.isStored(group)) return undefined;
    for (const spec of containerSpecs(group)) {
      const container = containerState(group, spec.name);
      if (this.state.behaviour.inaccessibleImages.has(spec.image)) {
        addEvent(container.events, "Failed", `Failed to pull image "${spec.image}": image not found or access denied`, "Warning");
        return inaccessibleImage(spec.image, group.name);
      }
      addEvent(container.events, "Pulled", `Successfully pulled image "${spec.image}"`, "Normal");
    }
    this.prepareVolumes(group);
    this.writeConfigMaps(group);
    for (const spec of containerSpecs(group)) this.launch(group, spec);
    group.state = "Running";
    return undefined;
  }

  /**
   * Writes the group's config maps into the folders its containers have bind-mounted at
   * /mnt/configmap/<container>: the running containers see the new files without a restart.
   * Returns false when a container runs without that mount (it had no config map and the group
   * was not made from a profile when it started): only a restart gives it the folder.
   */
  updateConfigMaps(group: ContainerGroupRecord): boolean {
    this.writeConfigMaps(group);
    return containerSpecs(group).every((spec) => spec.configMap === undefined || this.mountedConfigMaps.has(this.keyOf(group, spec.name)));
  }

  /**
   * One folder per container holding a file per key, written anew: each file is written beside
   * the folder and renamed into it, so a reader sees the old or the new content, never a part;
   * keys no longer in the config map are removed. [guess] modes: files 0644 in a folder of 0755
   * (Kubernetes' defaults for a configMap volume; ACI's are not published).
   */
  private writeConfigMaps(group: ContainerGroupRecord): void {
    const root = join(this.folderOf(group), "configmap");
    const staging = join(this.folderOf(group), "configmap-staging");
    for (const spec of containerSpecs(group)) {
      const folder = join(root, spec.name);
      mkdirSync(folder, { recursive: true, mode: 0o755 });
      mkdirSync(staging, { recursive: true, mode: 0o700 });
      const pairs = spec.configMap?.keyValuePairs ?? {};
      for (const [key, value] of Object.entries(pairs)) {
        if (!isPlainFileName(key)) continue;
        const temporary = join(staging, `${spec.name}-${key}`);
        writeFileSync(temporary, value, { mode: 0o644 });
        chmodSync(temporary, 0o644);
        renameSync(temporary, join(folder, key));
      }
      for (const existing of readdirSync(folder)) {
        if (!(existing in pairs)) rmSync(join(folder, existing), { force: true, recursive: true });
      }
    }
  }

  /** Stops every container of the group (the group's state becomes Stopped). */
  async stop(group: ContainerGroupRecord): Promise<void> {
    await Promise.all(containerSpecs(group).map((spec) => this.kill(group, spec.name)));
    group.state = "Stopped";
  }

  /** Ends the group's processes and removes their folders: the group is being deleted. */
  async remove(group: ContainerGroupRecord): Promise<void> {
    await Promise.all(containerSpecs(group).map((spec) => this.kill(group, spec.name)));
    rmSync(this.folderOf(group), { recursive: true, force: true });
  }

  /**
   * At the emulator's stop: every container stopped, and none started afterwards, whatever was
   * still on its way (a standby pool's refill provisioning, its retry after a failure).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.stopAll();
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.running.values()].map(async (run) => {
        run.stopping = true;
        signalGroup(run.process, "SIGKILL");
        await run.exited;
      }),
    );
  }

  private launch(group: ContainerGroupRecord, spec: ContainerSpec): void {
    const container = containerState(group, spec.name);
    const root = join(this.folderOf(group), spec.name);
    const azpHome = join(root, "azp");
    const home = join(root, "home");
    const tmp = join(root, "tmp");
    for (const dir of [azpHome, home, tmp]) mkdirSync(dir, { recursive: true });

    const image = this.state.behaviour.images.get(spec.image);
    if (image?.agentPreinstalled === true) this.agentPackage.extractTo(join(azpHome, "agent"));
    const argv = spec.command !== undefined && spec.command.length > 0 ? spec.command : (image?.entrypoint ?? ["sleep", "infinity"]);
    const [file, ...args] = argv;
    if (file === undefined) throw new Error("empty command");

    let path = process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin";
    if (image?.programs !== undefined) {
      const imageBin = join(root, "image-bin");
      mkdirSync(imageBin, { recursive: true });
      for (const [name, script] of Object.entries(image.programs)) {
        writeFileSync(join(imageBin, name), script);
        chmodSync(join(imageBin, name), 0o755);
      }
      path = `${imageBin}:${path}`;
    }
    const env: Record<string, string> = {
      PATH: path,
      HOSTNAME: group.name,
      LANG: "C.UTF-8",
      // The "image" trusts the emulator's CA, as a real image trusts public CAs.
      SSL_CERT_FILE: this.caFile,
      CURL_CA_BUNDLE: this.caFile,
      NODE_EXTRA_CA_CERTS: this.caFile,
    };
    for (const variable of spec.environmentVariables ?? []) {
      env[variable.name] = variable.secureValue ?? variable.value ?? "";
    }
    env.HOME = home;
    env.TMPDIR = tmp;
    env.AZP_HOME = azpHome;

    const mounts = this.mountsOf(group, spec, container);
    if (mounts.some((m) => m.target === configMapPath(spec.name))) this.mountedConfigMaps.add(this.keyOf(group, spec.name));
    else this.mountedConfigMaps.delete(this.keyOf(group, spec.name));
    const command = mounts.length === 0 ? [file, ...args] : mountedCommand(mounts, [file, ...args]);
    addEvent(container.events, "Created", `Created container ${spec.name}`, "Normal");
    // A container runs on cores of its own in ACI, never on those of the services that run it:
    // here it yields to the emulator's process (nice execs the command: no moment at priority 0).
    const child = spawn(hostProgram("nice"), ["-n", String(containerNiceness), "--", ...command], { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    lowerSessionPriority(child.pid);
    const processGroup = child.pid;
    if (processGroup !== undefined) this.reaper.track(processGroup);
    const key = this.keyOf(group, spec.name);
    const run: RunningContainer = {
      process: child,
      stopping: false,
      exited: new Promise((resolve) => child.once("exit", () => { resolve(); })),
    };
    this.running.set(key, run);
    const output = logWriter(container);
    child.stdout.on("data", output.stdout.append);
    child.stderr.on("data", output.stderr.append);
    child.once("error", (error) => { output.stderr.append(Buffer.from(`${error.message}\n`)); });

    if (container.state !== "Waiting" && container.startTime !== undefined) {
      container.previousState = { ...container, events: [], log: [], previousState: undefined };
    }
    container.state = "Running";
    container.startTime = new Date().toISOString();
    container.finishTime = undefined;
    container.exitCode = undefined;
    container.detailStatus = "";
    addEvent(container.events, "Started", `Started container ${spec.name}`, "Normal");

    const generation = group.generation;
    // Output may still arrive from processes the main one left behind, until they are killed.
    child.once("close", () => {
      output.stdout.flush();
      output.stderr.flush();
    });
    child.once("exit", (code, signal) => {
      // As in a container, everything inside ends with its main process.
      signalGroup(child, "SIGKILL");
      if (processGroup !== undefined) this.reaper.untrack(processGroup);
      if (this.running.get(key) === run) this.running.delete(key);
      if (group.generation !== generation) return;
      container.state = "Terminated";
      container.exitCode = code ?? (signal === null ? 1 : 128 + signalNumber(signal));
      container.finishTime = new Date().toISOString();
      container.detailStatus = container.exitCode === 0 ? "Completed" : "Error";
      if (run.stopping) return;
      const policy = restartPolicy(group);
      if (policy === "Always" || (policy === "OnFailure" && container.exitCode !== 0)) {
        container.restartCount++;
        void sleep(restartBackoffMs, undefined, { ref: false }).then(() => {
          if (group.generation === generation && group.state === "Running") this.launch(group, spec);
        });
        return;
      }
      if (containerSpecs(group).every((s) => containerState(group, s.name).state === "Terminated")) {
        const failed = containerSpecs(group).some((s) => containerState(group, s.name).exitCode !== 0);
        group.state = failed ? "Failed" : "Succeeded";
      }
    });
  }

  /**
   * Makes the group's volumes: each secret volume a folder holding its decoded files, each
   * emptyDir volume an empty folder. Both last as long as the group runs: a container restarted
   * by its restart policy mounts them again as they are.
   */
  private prepareVolumes(group: ContainerGroupRecord): void {
    const volumesRoot = join(this.folderOf(group), "volumes");
    mkdirSync(volumesRoot, { recursive: true, mode: 0o700 });
    for (const [index, volume] of groupVolumes(group).entries()) {
      const folder = join(volumesRoot, String(index));
      if (volume.secret !== undefined) {
        mkdirSync(folder, { mode: 0o755 });
        for (const [fileName, content] of Object.entries(volume.secret)) {
          // Strict mode refuses such names; without it they are left out rather than written
          // outside the volume.
          if (!isPlainFileName(fileName)) continue;
          // [guess] mode 0644, Kubernetes' default for secret volume files (defaultMode 420).
          writeFileSync(join(folder, fileName), Buffer.from(content, "base64"), { mode: 0o644 });
          chmodSync(join(folder, fileName), 0o644);
        }
      } else if (volume.emptyDir !== undefined) {
        mkdirSync(folder);
        // As Kubernetes makes an emptyDir: writable by every user of the container.
        chmodSync(folder, 0o777);
      }
    }
  }

  /** The bind mounts a container's volume mounts ask for; those the emulator cannot make are events. */
  private mountsOf(group: ContainerGroupRecord, spec: ContainerSpec, container: ContainerRuntimeState): Mount[] {
    const volumes = groupVolumes(group);
    const mounts: Mount[] = [];
    for (const volumeMount of spec.volumeMounts ?? []) {
      const index = volumes.findIndex((v) => v.name === volumeMount.name);
      const volume = volumes[index];
      if (volume === undefined || !isAbsolute(volumeMount.mountPath)) {
        addEvent(container.events, "FailedMount", `volume mount '${volumeMount.name}' at '${volumeMount.mountPath}' cannot be mounted`, "Warning");
        continue;
      }
      // azureFile and gitRepo volumes are not emulated: nothing is mounted for them.
      if (volume.secret === undefined && volume.emptyDir === undefined) continue;
      const target = volumeMount.mountPath;
      // The mount point is made on this machine when it is absent (an empty folder left behind):
      // the container's file system is this machine's, only its mounts are its own.
      try {
        mkdirSync(target, { recursive: true });
      } catch {
        // The mount then fails in the container, which says so in its log and exits 1.
      }
      mounts.push({
        source: join(this.folderOf(group), "volumes", String(index)),
        target,
        // ACI: "Once deployed with secrets in a container group, a secret volume is read-only."
        readOnly: volume.secret !== undefined || volumeMount.readOnly === true,
      });
    }
    // A container with a config map, and every container of a group made from a profile (a
    // standby pool's instance, whose claim brings the config map later), gets its config map
    // folder, read-only [guess, as Kubernetes mounts configMap volumes], updated in place.
    const fromProfile = (group.body.properties as { containerGroupProfile?: unknown } | undefined)?.containerGroupProfile !== undefined;
    if (spec.configMap !== undefined || fromProfile) {
      const target = configMapPath(spec.name);
      try {
        mkdirSync(target, { recursive: true });
      } catch {
        // The mount then fails in the container, which says so in its log and exits 1.
      }
      mounts.push({ source: join(this.folderOf(group), "configmap", spec.name), target, readOnly: true });
    }
    return mounts;
  }

  private folderOf(group: ContainerGroupRecord): string {
    let folder = this.folders.get(group);
    if (folder === undefined) {
      folder = join(this.workRoot, `${group.name}-${this.nextFolder++}`);
      this.folders.set(group, folder);
    }
    return folder;
  }

  private keyOf(group: ContainerGroupRecord, containerName: string): string {
    return `${this.folderOf(group)}/${containerName}`;
  }

  private async kill(group: ContainerGroupRecord, containerName: string): Promise<void> {
    const run = this.running.get(this.keyOf(group, containerName));
    if (run === undefined) return;
    run.stopping = true;
    addEvent(containerState(group, containerName).events, "Killing", `Killing container ${containerName}`, "Normal");
    // As `docker stop`: SIGTERM to the main process only; whatever it started hears of the stop
    // only if it passes it on.
    run.process.kill("SIGTERM");
    const timer = setTimeout(() => { signalGroup(run.process, "SIGKILL"); }, stopGraceMs);
    await run.exited;
    clearTimeout(timer);
  }
}

export function containerSpecs(group: ContainerGroupRecord): ContainerSpec[] {
  const properties = group.body.properties as { containers?: { name: string; properties: Omit<ContainerSpec, "name"> }[] };
  return (properties.containers ?? []).map((c) => ({ name: c.name, ...c.properties }));
}

export function containerState(group: ContainerGroupRecord, name: string): ContainerRuntimeState {
  let container = group.containers.get(name);
  if (container === undefined) {
    container = { state: "Waiting", detailStatus: "", restartCount: 0, events: [], log: [] };
    group.containers.set(name, container);
  }
  return container;
}

function groupVolumes(group: ContainerGroupRecord): VolumeSpec[] {
  const properties = group.body.properties as { volumes?: VolumeSpec[] } | undefined;
  return properties?.volumes ?? [];
}

/** A file name a secret volume can hold: one path component. */
export function isPlainFileName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && basename(name) === name && !name.includes("\0");
}

const mountScript = [
  'mount_bin="$1"; shift',
  'while [ "$1" != "--" ]; do',
  '  "$mount_bin" --bind "$1" "$2" || { echo "cannot mount a volume at $2" >&2; exit 1; }',
  // A bind mount is read-only only once remounted so; then even root gets EROFS.
  '  if [ "$3" = ro ]; then "$mount_bin" -o remount,bind,ro "$2" || { echo "cannot make $2 read-only" >&2; exit 1; }; fi',
  "  shift 3",
  "done",
  "shift",
  'exec "$@"',
].join("\n");

/**
 * The command line that runs `argv` in a mount namespace of its own with `mounts` made: one
 * `unshare` and a short `sh`, both of which exec, so that the container's command keeps the
 * process (and the signals sent to it) of the container's main process. Needs root.
 */
function mountedCommand(mounts: Mount[], argv: string[]): string[] {
  const triples = mounts.flatMap((m) => [m.source, m.target, m.readOnly ? "ro" : "rw"]);
  return [hostProgram("unshare"), "--mount", "--propagation", "private", hostProgram("sh"), "-c", mountScript, "aci-mount", hostProgram("mount"), ...triples, "--", ...argv];
}

/**
 * How much lower than the emulator's the containers' CPU priority is (nice 10: about a tenth of
 * the emulator's share when both want a core, Linux's CFS weights).
 */
const containerNiceness = 10;

/**
 * A detached container leads a session of its own, and where Linux groups sessions for the
 * scheduler (autogroups), each group shares the cores with the others as a whole whatever its
 * processes' nice: twenty containers' sessions would each weigh as much as the emulator's. The
 * group's own nice, set once for the whole session, lowers it too. Where there are no
 * autogroups, nice alone does it.
 */
function lowerSessionPriority(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(containerNiceness));
  } catch {
    // No autogroups on this kernel (or the process has already ended).
  }
}

const hostPrograms = new Map<string, string>();

/** A program of this machine, by absolute path, so that an image's `programs` cannot stand in for it. */
function hostProgram(name: string): string {
  let found = hostPrograms.get(name);
  if (found === undefined) {
    found = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map((dir) => join(dir, name)).find((path) => existsSync(path)) ?? name;
    hostPrograms.set(name, found);
  }
  return found;
}

function restartPolicy(group: ContainerGroupRecord): string {
  const properties = group.body.properties as { restartPolicy?: string };
  return properties.restartPolicy ?? "Always";
}

export function addEvent(events: ArmEvent[], name: string, message: string, type: ArmEvent["type"]): void {
  const now = new Date().toISOString();
  const last = events.at(-1);
  if (last !== undefined && last.name === name && last.message === message) {
    last.count++;
    last.lastTimestamp = now;
    return;
  }
  events.push({ count: 1, firstTimestamp: now, lastTimestamp: now, name, message, type });
}

/**
 * The container's log, fed by its stdout and stderr. Each stream is cut into lines of its own,
 * as Docker's log copier does, so a part line on one never joins a line of the other.
 */
function logWriter(container: ContainerRuntimeState): { stdout: LogStream; stderr: LogStream } {
  let bytes = 0;
  const push = (lines: string[]) => {
    const at = new Date().toISOString();
    for (const line of lines) {
      container.log.push({ at, text: line });
      bytes += line.length + 1;
    }
    while (bytes > maxLogBytes && container.log.length > 0) {
      bytes -= (container.log.shift()?.text.length ?? 0) + 1;
    }
  };
  const stream = (): LogStream => {
    let partial = "";
    return {
      append: (chunk) => {
        const lines = (partial + chunk.toString("utf8")).split("\n");
        partial = lines.pop() ?? "";
        push(lines);
      },
      flush: () => {
        if (partial !== "") push([partial]);
        partial = "";
      },
    };
  };
  return { stdout: stream(), stderr: stream() };
}

interface LogStream {
  append: (chunk: Buffer) => void;
  flush: () => void;
}

/** Signals the container's whole process group, which may outlive its main process. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 1;
}
