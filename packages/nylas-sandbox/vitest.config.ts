import { defineConfig } from "vitest/config";

// The package's own tests (`npm test -w nylas-sandbox`, or `npx vitest run` here): each file
// starts its own sandboxes on free ports, so files run in parallel and need no database.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
