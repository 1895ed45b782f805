import { defineConfig } from "vitest/config";

// Integration tests share one real Postgres database and one Redis server; files run one
// at a time so that they never race on the same rows, while tests stay isolated by
// unique grant ids and queue prefixes.
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
