// The attack job of issue 10: a job step that looks for the registration credential everywhere a
// job can inside its container (secretHunt.job.js), and the checks of what it reports.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const huntProgram = readFileSync(join(__dirname, "secretHunt.job.js"), "utf8");
const mask = 0x5a;

/** The job's script: writes the hunter next to the job and runs it with the masked secrets. */
export function secretHuntJob(secrets: readonly string[], canary: string): string {
  const masked = secrets.map((secret) => Buffer.from(Buffer.from(secret, "utf8").map((byte) => byte ^ mask)).toString("hex")).join(",");
  return [
    'hunter="${AGENT_TEMPDIRECTORY:-${TMPDIR:-/tmp}}/secret-hunt.js"',
    "cat >\"$hunter\" <<'SECRET_HUNT_JS'",
    huntProgram.trimEnd(),
    "SECRET_HUNT_JS",
    `node "$hunter" '${masked}' '${canary}'`,
  ].join("\n");
}

export interface HuntReport {
  root: number;
  processes: { pid: number; cmdline: string; environ: boolean; memory: { bytes: number; canary: boolean; error?: string } }[];
  folders: string[];
  filesRead: number;
  rewritten: string[];
  findings: { where: string; needle: number; encoding: string }[];
}

/** The report the hunter printed to the container log. */
export function huntReport(log: string): HuntReport {
  const line = log.split("\n").find((l) => l.includes("SECRET-HUNT-REPORT "));
  assert.ok(line !== undefined, `the hunt printed no report:\n${log.slice(-4000)}`);
  return JSON.parse(line.slice(line.indexOf("SECRET-HUNT-REPORT ") + "SECRET-HUNT-REPORT ".length)) as HuntReport;
}

/** The secret as it may appear in text: plain, UTF-16LE, or base64 at any of the three alignments. */
export function encodingsOf(secret: string): { name: string; text: string }[] {
  const bytes = Buffer.from(secret, "utf8");
  const encodings = [
    { name: "plain", text: secret },
    { name: "utf16le", text: Buffer.from(secret, "utf16le").toString("latin1") },
  ];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset, 0x41), bytes]).toString("base64");
    encodings.push({ name: `base64@${offset}`, text: encoded.slice(offset === 0 ? 0 : 4, Math.floor((offset + bytes.length) / 3) * 4) });
  }
  return encodings;
}

/**
 * The hunt found none of `secrets` and really looked: it read the memory of the container's main
 * process (`mainCommand` matches its command line; the canary was found there), read files and
 * rewrote the agent's config.sh. The container log (which holds whatever the rewritten scripts
 * printed when they ran later) holds none of them in any encoding.
 */
export function assertHuntFoundNothing(report: HuntReport, log: string, secrets: readonly string[], mainCommand: RegExp): void {
  assertHuntFoundOnly(report, log, secrets, 0, mainCommand);
}

/**
 * As assertHuntFoundNothing, for a hunt given `secrets` followed by `own` more needles (the job's
 * own agent's key, which a job can always read): those it must have found (it looked where they
 * are), and nothing else.
 */
export function assertHuntFoundOnlyItsOwn(report: HuntReport, log: string, secrets: readonly string[], own: number, mainCommand: RegExp): void {
  assertHuntFoundOnly(report, log, secrets, own, mainCommand);
}

function assertHuntFoundOnly(report: HuntReport, log: string, secrets: readonly string[], own: number, mainCommand: RegExp): void {
  const main = report.processes.find((p) => p.pid === report.root);
  assert.ok(main !== undefined, `the container's main process was not scanned: ${JSON.stringify(report.processes)}`);
  assert.match(main.cmdline, mainCommand, "the hunt took another process for the container's main one");
  assert.ok(main.environ && main.memory.bytes > 0 && main.memory.canary, `the main process's memory was not read: ${JSON.stringify(main)}`);
  assert.ok(report.processes.some((p) => /agent\.js|Agent\.Listener/.test(p.cmdline) && p.memory.bytes > 0), `the listener was not scanned: ${JSON.stringify(report.processes.map((p) => p.cmdline))}`);
  assert.ok(report.filesRead > 0, "the hunt read no file");
  assert.ok(report.rewritten.includes("agent/config.sh"), `the hunt did not rewrite config.sh: ${report.rewritten.join(", ")}`);
  const commandOf = (where: string) => report.processes.find((p) => where.startsWith(`/proc/${p.pid}/`))?.cmdline ?? "";
  const ownFound = new Set(report.findings.filter((f) => f.needle >= secrets.length).map((f) => f.needle));
  for (let needle = secrets.length; needle < secrets.length + own; needle++) {
    assert.ok(ownFound.has(needle), `the hunt did not find its own agent's secret #${needle}: it did not look where it is`);
  }
  const found = report.findings.filter((f) => f.needle < secrets.length).map((f) => `secret #${f.needle} (${f.encoding}) in ${f.where} ${commandOf(f.where)}`.trim());
  assert.deepEqual(found, [], "a job found the registration credential");
  for (const [index, secret] of secrets.entries()) {
    for (const { name, text } of encodingsOf(secret)) {
      assert.ok(!log.includes(text), `the container log holds secret #${index} (${name}): a rewritten script received it`);
    }
  }
}
