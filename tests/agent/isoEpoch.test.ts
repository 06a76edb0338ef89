// start.sh reads AZP_EXPIRES_AT with shell arithmetic (iso_epoch): `date -d` is GNU's and
// busybox's `date -D` takes other formats. The function runs here in each POSIX shell the
// machine has (dash as Debian's sh, busybox ash as Alpine's, bash) and must agree with
// JavaScript's Date.parse.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const startScript = readFileSync(resolve(__dirname, "..", "..", "agent", "start.sh"), "utf8");

/** The function's text: from its first line to the first line that is a lone "}". */
function functionText(name: string): string {
  const start = startScript.indexOf(`\n${name}() {\n`);
  assert.ok(start >= 0, `start.sh has no function ${name}`);
  const end = startScript.indexOf("\n}\n", start);
  return startScript.slice(start + 1, end + 3);
}

const program = `${functionText("iso_epoch")}
for t in "$@"; do
  if iso_epoch "$t"; then echo "$epoch"; else echo invalid; fi
done
`;

const valid: [string, number][] = [
  ["1970-01-01T00:00:00Z", 0],
  ["2026-12-06T20:00:00Z", Date.parse("2026-12-06T20:00:00Z") / 1000],
  // As JavaScript's toISOString writes it, which the task uses.
  ["2026-12-06T20:00:00.123Z", Date.parse("2026-12-06T20:00:00Z") / 1000],
  ["2000-02-29T23:59:59Z", Date.parse("2000-02-29T23:59:59Z") / 1000],
  ["2100-03-01T00:00:00Z", Date.parse("2100-03-01T00:00:00Z") / 1000],
  ["2024-12-31T23:59:59+00:00", Date.parse("2024-12-31T23:59:59Z") / 1000],
  ["2030-01-09T08:09:08+05:30", Date.parse("2030-01-09T08:09:08+05:30") / 1000],
  ["2030-01-09T08:09:08-0800", Date.parse("2030-01-09T08:09:08-08:00") / 1000],
  ["2025-08-08t08:08:08z", Date.parse("2025-08-08T08:08:08Z") / 1000],
  // No zone: UTC.
  ["2025-08-08T08:08:08", Date.parse("2025-08-08T08:08:08Z") / 1000],
  ["9999-12-31T23:59:59Z", Date.parse("9999-12-31T23:59:59Z") / 1000],
];
const invalid = ["never", "", "2025-01-01", "2025-13-01T00:00:00Z", "2025-01-32T00:00:00Z", "2025-01-01T24:00:00Z", "1969-12-31T23:59:59Z", "2025-01-01T00:00:00+5", "2025-01-01T00:00:00ZZ", "tomorrow"];

for (const shell of [["dash"], ["busybox", "sh"], ["bash", "--posix"]]) {
  describe(`agent/start.sh iso_epoch in ${shell.join(" ")}`, function () {
    before(function () {
      const probe = spawnSync(shell[0] ?? "sh", [...shell.slice(1), "-c", "exit 0"]);
      if (probe.error !== undefined) this.skip();
    });

    function run(times: string[]): string[] {
      const result = spawnSync(shell[0] ?? "sh", [...shell.slice(1), "-c", program, "iso-epoch", ...times], { encoding: "utf8" });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout.trimEnd().split("\n");
    }

    it("counts the seconds of ISO 8601 times as Date.parse does", function () {
      assert.deepEqual(run(valid.map(([time]) => time)), valid.map(([, seconds]) => String(seconds)));
    });

    it("refuses what is not such a time", function () {
      assert.deepEqual(run(invalid), invalid.map(() => "invalid"));
    });
  });
}
