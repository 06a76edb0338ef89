// For unbundled runs (L0 tests): require("x.sh") gives the file's text, as esbuild's text loader
// does in the bundle (scripts/bundle.mjs).
import { readFileSync } from "node:fs";

// eslint-disable-next-line @typescript-eslint/no-deprecated -- the one hook CommonJS offers for a file type
require.extensions[".sh"] = (module, filename) => {
  module.exports = readFileSync(filename, "utf8");
};
