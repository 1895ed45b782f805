import { configDefaults, defineConfig } from "vitest/config";

// Two groups, one after the other:
//
// - "parallel": every test file not listed in SERIAL, WORKERS files side by side. Each vitest
//   worker has a Postgres database of its own (test/support/worker-database.ts clones the
//   template that test/support/global-setup.ts migrated), so a file shares rows only with
//   the files run before it by the same worker, and a scheduler tick sees no other running
//   file's grants. Redis is one server for all: files stay apart by unique queue prefixes
//   (`uniqueId`): no file may flush the server or touch keys outside its own prefix.
// - "serial": the files in SERIAL, alone on the machine, one at a time: those that need a port
//   nobody else may take (a fixed one, or one found free and used again later) or the CPU to
//   themselves (the chaos suite kills and restarts worker processes against deadlines; the
//   browser drives Chromium).
//
// A new test file is parallel unless listed in SERIAL: it must take its database from
// test/support/db.ts (or DATABASE_URL), keep its Redis keys under a prefix of its own, listen
// on port 0 and keep what it was given (never close a port to use it again), and wait on
// conditions rather than on time.
//
// `nylas-sandbox` (packages/nylas-sandbox, an npm workspace linked into node_modules) is
// TypeScript source. Vitest transforms it like the project's own files: Vite resolves the
// link to its real path outside node_modules, and Vitest hands only JavaScript files to Node
// untransformed anyway, so no `server.deps.inline` is needed. (Node alone would not run it:
// it refuses to strip types under node_modules, and the package's `.js` specifiers name
// `.ts` files; npm scripts run it under tsx.) Its tests run here too, under this config;
// they need neither Postgres nor Redis, and run alone with the package's own config
// (`npm test -w nylas-sandbox`).
const SERIAL = [
  // Private Redis and Postgres on fixed ports; kills and restarts worker processes against deadlines.
  "test/chaos/**/*.test.ts",
  // Chromium; the web dyno on a port found free a moment before.
  "test/e2e/**/*.test.ts",
  // A port found free (or left dead) and used again later, which a neighbour's port 0 could take meanwhile.
  "test/integration/redis-down.test.ts",
  "test/integration/worker-redis-loss.test.ts",
  "test/integration/rerun-webhooks.test.ts",
  "test/integration/web-webhooks-sandbox.test.ts",
];
const WORKERS = 2;
// A test's own deadline is a guard against hangs, never a speed check: CPU-bound tests take up
// to twice as long when two files share the two cores, so the default leaves room for that.
const TEST_TIMEOUT_MS = 60_000;

export default defineConfig({
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: TEST_TIMEOUT_MS,
    hookTimeout: 60_000,
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "parallel",
          include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...SERIAL],
          setupFiles: ["test/support/worker-database.ts"],
          maxWorkers: WORKERS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "serial",
          include: SERIAL,
          setupFiles: ["test/support/worker-database.ts"],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
