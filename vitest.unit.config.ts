import { defineConfig } from "vitest/config";

// `npm run test:unit`: the pure tests alone, in parallel, with no Postgres or Redis.
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
