import { defineConfig } from "vitest/config";

// Integration tests share one real Postgres database and one Redis server; files run one
// at a time so that they never race on the same rows, while tests stay isolated by
// unique grant ids and queue prefixes.
//
// `nylas-sandbox` (packages/nylas-sandbox, an npm workspace linked into node_modules) is
// TypeScript source. Vitest transforms it like the project's own files: Vite resolves the
// link to its real path outside node_modules, and Vitest hands only JavaScript files to Node
// untransformed anyway, so no `server.deps.inline` is needed. (Node alone would not run it:
// it refuses to strip types under node_modules, and the package's `.js` specifiers name
// `.ts` files; npm scripts run it under tsx.) Its tests run here too, under this config;
// they need neither Postgres nor Redis, and run alone with the package's own config
// (`npm test -w nylas-sandbox`).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
