import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "tasks/*/dist/", "**/*.mjs", "**/*.js"] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    files: ["src/**/*.ts", "tasks/**/*.ts"],
    ignores: ["src/platform/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: [{ name: "azure-pipelines-task-lib", message: "Only src/platform/ talks to the task runtime." }], patterns: ["azure-pipelines-task-lib/*"] }],
    },
  },
);
