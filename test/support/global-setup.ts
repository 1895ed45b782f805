import pg from "pg";
import type { TestProject } from "vitest/node";
import { dropDatabase, ensureDatabase, migrate } from "../../src/db/migrate.js";

/**
 * vitest globalSetup: gives the run a fresh, migrated Postgres database, the template of
 * the workers' own (test/support/worker-database.ts clones it once per vitest worker, as
 * `<template>_w<VITEST_POOL_ID>`, so that files run side by side never share rows).
 *
 * `TEST_DATABASE_URL` (default below) names the server and a base name; each run gets a
 * template of its own, `<base>_<pid>`, so that runs side by side on one machine never drop
 * each other's data. It is created and migrated with the offline migrator (the same
 * `_prisma_migrations` bookkeeping as `prisma migrate deploy`) and handed to the workers
 * through `inject("databaseUrl")`; nothing connects to it afterwards (a template must have
 * no session while it is copied). Teardown drops it and its clones.
 */
export const DEFAULT_TEST_DATABASE_URL = "postgresql://postgres:postgres@127.0.0.1:5432/reminders_test";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const base = new URL(process.env.TEST_DATABASE_URL || DEFAULT_TEST_DATABASE_URL);
  const baseName = decodeURIComponent(base.pathname.slice(1));
  const name = `${baseName}_${process.pid}`;
  const url = new URL(base);
  url.pathname = `/${name}`;
  // This drops the database: never let a production URL get here by accident.
  if (!/test/i.test(name)) {
    throw new Error(
      `TEST_DATABASE_URL must name a database with "test" in its name (got "${name}"); it is dropped and re-created`,
    );
  }
  const started = Date.now();
  try {
    await dropDatabases(base, baseName, (pid) => pid === process.pid || !alive(pid));
    await ensureDatabase(url.toString());
    const { applied } = await migrate(url.toString());
    console.log(
      `[global-setup] ${name}: fresh database, ${applied.length} migration(s) applied in ${Date.now() - started} ms`,
    );
  } catch (err) {
    const e = err as { message?: string; code?: string };
    throw new Error(
      `[global-setup] cannot prepare the test database ${name}: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ""}`,
      { cause: err },
    );
  }
  project.provide("databaseUrl", url.toString());
  return async () => {
    await dropDatabases(base, baseName, (pid) => pid === process.pid);
  };
}

/**
 * Drops the databases of runs (`<base>_<pid>` and its clones `<base>_<pid>_w<n>`) whose pid
 * `which` picks: this run's at teardown; at start, those of runs whose process is gone (killed
 * before their teardown) and any left under this run's pid.
 */
async function dropDatabases(server: URL, baseName: string, which: (pid: number) => boolean): Promise<void> {
  const admin = new URL(server);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [
      `${baseName}\\_%`,
    ]);
    for (const { datname } of rows) {
      const run = /^(\d+)(?:_w\d+)?$/.exec(datname.slice(baseName.length + 1));
      if (!run || !which(Number(run[1]))) continue;
      const url = new URL(server);
      url.pathname = `/${datname}`;
      await dropDatabase(url.toString()).catch(() => {});
    }
  } finally {
    await client.end();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
