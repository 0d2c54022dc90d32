// ESLint for the project's JavaScript (`make lint`): the SMART app (browser modules), the sandbox
// EHR and the tools (Node modules), with the recommended rules and no unused variables.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    ignores: ["**/node_modules/**", "service/web/dist/**", "policies/**", "cql/**", "fhir_examples/**", "var/**", "test-artifacts/**", ".venv/**"],
  },
  js.configs.recommended,
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module" },
    rules: {
      // Destructuring to leave keys out (`const { id, ...rest } = x`) is how a copy without them
      // is made here: the rest siblings are the point, not unused names.
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-implicit-coercion": ["error", { boolean: false }],
      "prefer-const": "error",
    },
  },
  {
    files: ["service/web/src/**/*.js"],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ["sandbox/**/*.mjs", "tools/**/*.mjs", "tests/**/*.mjs", "eslint.config.mjs"],
    languageOptions: { globals: { ...globals.node } },
  },
];
