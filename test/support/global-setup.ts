import pg from "pg";
import type { TestProject } from "vitest/node";
import { dropDatabase, ensureDatabase, migrate } from "../../src/db/migrate.js";

/**
 * vitest globalSetup: gives the run a fresh, migrated Postgres database.
 *
 * `TEST_DATABASE_URL` (default below) names the server and a base name; each run gets a
 * database of its own, `<base>_<pid>`, so that runs side by side on one machine never drop
 * each other's data. It is created and migrated with the offline migrator (the same `_prisma_migrations` bookkeeping as `prisma migrate deploy`). Test files
 * reach it through `inject("databaseUrl")` (see test/support/db.ts) and through
 * `process.env.DATABASE_URL` / `TEST_DATABASE_URL`, which the workers inherit.
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
    await dropStale(base, baseName);
    await dropDatabase(url.toString());
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
  process.env.TEST_DATABASE_URL = url.toString();
  process.env.DATABASE_URL = url.toString();
  project.provide("databaseUrl", url.toString());
  return async () => {
    await dropDatabase(url.toString()).catch(() => {});
  };
}

/** Databases of earlier runs whose process is gone (killed before its teardown). */
async function dropStale(server: URL, baseName: string): Promise<void> {
  const admin = new URL(server);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [
      `${baseName}\\_%`,
    ]);
    for (const { datname } of rows) {
      const pid = Number(datname.slice(baseName.length + 1));
      if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
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
