import pg from "pg";
import { inject } from "vitest";
import { testDatabaseUrl } from "./db.js";

/**
 * vitest setupFiles: points this test file at its worker's database. Files run side by side
 * (vitest.config.ts), one per worker at a time, so each worker (`VITEST_POOL_ID`) gets a
 * database of its own: a clone of the migrated template that global-setup.ts prepared,
 * made on the worker's first file (`CREATE DATABASE … TEMPLATE …` copies files, no
 * migrations). Child processes the tests start (workers, CLIs) inherit it through
 * `DATABASE_URL` / `TEST_DATABASE_URL` or get it from `testDatabaseUrl()`.
 */
const template = new URL(inject("databaseUrl"));
const url = new URL(testDatabaseUrl());
const name = decodeURIComponent(url.pathname.slice(1));
const admin = new URL(template);
admin.pathname = "/postgres";
const client = new pg.Client({ connectionString: admin.toString() });
await client.connect();
try {
  const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  if (!found.rowCount) {
    const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;
    await client.query(
      `CREATE DATABASE ${ident(name)} TEMPLATE ${ident(decodeURIComponent(template.pathname.slice(1)))}`,
    );
  }
} finally {
  await client.end();
}
process.env.DATABASE_URL = url.toString();
process.env.TEST_DATABASE_URL = url.toString();
