// What ends the containers of an emulator whose process was killed (a test run or bench stopped by
// a signal never reaches `stop()`). Before, such containers lived on: forty standby containers, each
// looking for its claim five times a second, took a third of a core and skewed the bench.
//
// A shell of its own session reads the process groups of the running containers from a pipe whose
// other end only the emulator holds. When the emulator's process ends, however it ends, the pipe
// closes: the shell kills the groups still listed, as the emulator's own stop does, and removes
// the emulator's work folder. Linux's parent-death signal would reach only a container's main
// process, which start.sh could not even handle (its stdout's reader gone, its first log line
// kills it with SIGPIPE), and no child of it.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { Socket } from "node:net";
import type { Writable } from "node:stream";

const reaperScript = `
trap '' INT TERM HUP PIPE
groups=' '
while read -r op group; do
  case $op in
    +) groups="$groups$group " ;;
    -) case $groups in *" $group "*) groups="\${groups%% "$group" *} \${groups#* "$group" }" ;; esac ;;
  esac
done
for group in $groups; do kill -s KILL -- "-$group" 2>/dev/null; done
rm -rf -- "$1"
`;

export class Reaper {
  private process: ChildProcessByStdio<Writable, null, null> | undefined;

  constructor(private readonly workRoot: string) {}

  /** A container's process group, which the reaper kills if the emulator's process ends first. */
  track(processGroup: number): void {
    this.send(`+ ${processGroup}`);
  }

  /** A container's process group that has ended (its ids may be reused). */
  untrack(processGroup: number): void {
    this.send(`- ${processGroup}`);
  }

  /** At the emulator's stop, once its containers are stopped: the reaper removes what is left. */
  close(): void {
    this.process?.stdin.end();
    this.process = undefined;
  }

  private send(line: string): void {
    this.process ??= this.start();
    this.process.stdin.write(`${line}\n`);
  }

  private start(): ChildProcessByStdio<Writable, null, null> {
    const reaper = spawn("/bin/sh", ["-c", reaperScript, "aci-emulator-reaper", this.workRoot], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
    // Neither the reaper nor its pipe keeps the emulator's process alive.
    reaper.unref();
    if (reaper.stdin instanceof Socket) reaper.stdin.unref();
    // A reaper killed from outside: writes fail, and the containers are left as before it.
    reaper.stdin.on("error", () => undefined);
    return reaper;
  }
}
