// For unbundled runs (L0 tests): require("x.sh") gives the file's text, as esbuild's text loader
// does in the bundle (scripts/bundle.mjs).
import { readFileSync } from "node:fs";
import { basename } from "node:path";

// eslint-disable-next-line @typescript-eslint/no-deprecated -- the one hook CommonJS offers for a file type
require.extensions[".sh"] = (module, filename) => {
  module.exports = readFileSync(filename, "utf8");
};

// Extensionless files (agent/Dockerfile) fall to the ".js" loader: give them as text too.
// eslint-disable-next-line @typescript-eslint/no-deprecated -- as above
const loadJavaScript = require.extensions[".js"];
// eslint-disable-next-line @typescript-eslint/no-deprecated -- as above
require.extensions[".js"] = (module, filename) => {
  if (basename(filename) === "Dockerfile") module.exports = readFileSync(filename, "utf8");
  else loadJavaScript(module, filename);
};
