// esbuild's text loader: `import script from "./x.sh"` gives the file's text (scripts/bundle.mjs).
declare module "*.sh" {
  const text: string;
  export default text;
}

// agent/Dockerfile, as text (scripts/bundle.mjs loads extensionless files with the text loader).
declare module "*/Dockerfile" {
  const text: string;
  export default text;
}
